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
      : access_(access), principal_(access.principal()), share_(access.share()) {}
  std::string subject() const override { return principal_.subject; }
  std::string share() const override { return share_; }
  bool Allows(std::string_view permission) const override { return principal_.Allows(permission); }
  bool MayUseModel(std::string_view model) const override { return principal_.MayUseModel(model); }
  Status AllowModel(std::string_view model) override { return access_.AllowModel(model); }
  // Asked while the request is handled, like AllowModel.
  std::shared_ptr<serving::Sink> Track(std::shared_ptr<serving::Sink> sink,
                                       std::string_view model) override {
    return access_.Track(std::move(sink), model);
  }

 private:
  CallAccess& access_;
  auth::Principal principal_;
  std::string share_;
};

}  // namespace llmux::gateway
