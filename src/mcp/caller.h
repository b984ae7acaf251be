// Who sent an MCP request, as the MCP service needs to know: the transport's adapter over the
// gateway's access decision (or an all-allowed caller for a local stdio user). Keeps the MCP
// service free of the gateway and auth internals.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace llmux::mcp {

class Caller {
 public:
  virtual ~Caller() = default;
  // Stable identity; a session may only be used by the caller that created it.
  virtual std::string subject() const = 0;
  // Whose shares of the server's capacities (sessions, the waiting queue) the caller counts
  // against; empty: the caller has no share (everything allowed).
  virtual std::string share() const = 0;
  virtual bool Allows(std::string_view permission) const = 0;
  virtual bool MayUseModel(std::string_view model) const = 0;
  // kPermissionDenied (and audited) when the caller may not use `model`.
  virtual Status AllowModel(std::string_view model) = 0;
  // Charges generated + prompt tokens to the caller's limits, for the engine's finish
  // callback (may outlive the request).
  virtual std::function<void(int64_t)> Charger() = 0;
};

// Everything allowed, nothing charged: auth switched off, or a local stdio user.
class TrustedCaller : public Caller {
 public:
  explicit TrustedCaller(std::string subject = "local") : subject_(std::move(subject)) {}
  std::string subject() const override { return subject_; }
  std::string share() const override { return ""; }
  bool Allows(std::string_view) const override { return true; }
  bool MayUseModel(std::string_view) const override { return true; }
  Status AllowModel(std::string_view) override { return Status(); }
  std::function<void(int64_t)> Charger() override { return nullptr; }

 private:
  std::string subject_;
};

}  // namespace llmux::mcp
