// The MCP service's view of a caller admitted by the AccessGate.
#pragma once

#include "gateway/access/access_gate.h"
#include "mcp/caller.h"

namespace llmux::gateway {

// Holds the CallAccess by reference: AllowModel must be asked while the HTTP request that
// carried the call is being handled (tools check their model before they start).
class AccessCaller : public mcp::Caller {
 public:
  explicit AccessCaller(CallAccess& access)
      : access_(access), principal_(access.principal()), share_(access.share()),
        charger_(access.Charger()) {}
  std::string subject() const override { return principal_.subject; }
  std::string share() const override { return share_; }
  bool Allows(std::string_view permission) const override { return principal_.Allows(permission); }
  bool MayUseModel(std::string_view model) const override { return principal_.MayUseModel(model); }
  Status AllowModel(std::string_view model) override { return access_.AllowModel(model); }
  std::function<void(int64_t)> Charger() override { return charger_; }

 private:
  CallAccess& access_;
  auth::Principal principal_;
  std::string share_;
  std::function<void(int64_t)> charger_;
};

}  // namespace llmux::gateway
