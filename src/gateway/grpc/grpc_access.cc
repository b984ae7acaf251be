#include "gateway/grpc/grpc_access.h"

#include <grpcpp/server_context.h>

#include <string>

namespace llmux::gateway {

Result<std::unique_ptr<CallAccess>> AdmitGrpcCall(AccessGate* gate,
                                                  grpc::CallbackServerContext* context,
                                                  std::string_view method) {
  if (gate == nullptr) return std::unique_ptr<CallAccess>();
  const RouteRule* rule = FindRouteRule(Protocol::kGrpc, "", method);
  if (rule == nullptr) return PermissionDeniedError("no access rule for " + std::string(method));
  std::string_view bearer;
  const auto& metadata = context->client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    bearer = BearerToken(std::string_view(it->second.data(), it->second.size()));
  }
  AccessDecision decision = gate->Check(*rule, bearer, context->peer());
  if (!decision.status.ok()) {
    if (decision.retry_after_s > 0) {
      context->AddTrailingMetadata("retry-after", std::to_string(decision.retry_after_s));
    }
    return decision.status;
  }
  return std::move(decision.access);
}

}  // namespace llmux::gateway
