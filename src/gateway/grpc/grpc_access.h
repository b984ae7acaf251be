// Admits one gRPC call through the AccessGate with the route rule of its method, reading
// "authorization: Bearer ..." metadata. A refusal is the status to end the call with; a
// rate-limit refusal also sets a "retry-after" trailer (seconds).
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <memory>
#include <string_view>

#include "base/status.h"
#include "gateway/access/access_gate.h"
#include "gateway/grpc/status_mapping.h"

namespace llmux::gateway {

// Null access (and OK) when there is no gate. A method without a rule is refused.
Result<std::unique_ptr<CallAccess>> AdmitGrpcCall(AccessGate* gate,
                                                  grpc::CallbackServerContext* context,
                                                  std::string_view method);

// A unary call: admits it as `method`, runs `body` with the caller (Status body(CallAccess&))
// and finishes with its status.
template <typename Body>
grpc::ServerUnaryReactor* AdmitAndRunUnary(AccessGate& gate, grpc::CallbackServerContext* context,
                                           const char* method, Body body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto access = AdmitGrpcCall(&gate, context, method);
  Status status = access.ok() ? body(**access) : access.status();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace llmux::gateway
