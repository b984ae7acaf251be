// Who sent an MCP request, as the MCP service needs to know: the transport's adapter over the
// gateway's access decision (or an all-allowed caller for a local stdio user). Keeps the MCP
// service free of the gateway and auth internals.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace llmux::serving {
class Sink;
}

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
  // The sink to submit a tool's generation with: it passes everything on to `sink`, charges
  // prompt + completion tokens to the caller's limits at the finish (which may outlive the
  // request) and records the call in the request log.
  virtual std::shared_ptr<serving::Sink> Track(std::shared_ptr<serving::Sink> sink,
                                               std::string_view model) = 0;
};

// Everything allowed, nothing charged or recorded: auth switched off, or a local stdio user.
class TrustedCaller : public Caller {
 public:
  explicit TrustedCaller(std::string subject = "local") : subject_(std::move(subject)) {}
  std::string subject() const override { return subject_; }
  std::string share() const override { return ""; }
  bool Allows(std::string_view) const override { return true; }
  bool MayUseModel(std::string_view) const override { return true; }
  Status AllowModel(std::string_view) override { return Status(); }
  std::shared_ptr<serving::Sink> Track(std::shared_ptr<serving::Sink> sink,
                                       std::string_view) override {
    return sink;
  }

 private:
  std::string subject_;
};

}  // namespace llmux::mcp
