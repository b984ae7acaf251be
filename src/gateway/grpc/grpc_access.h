// Admits one gRPC call through the AccessGate with the route rule of its method, reading
// "authorization: Bearer ..." metadata. A refusal is the status to end the call with; a
// rate-limit refusal also sets a "retry-after" trailer (seconds).
#pragma once

#include <grpcpp/support/server_callback.h>

#include <memory>
#include <string_view>

#include "base/status.h"
#include "gateway/access/access_gate.h"

namespace llmux::gateway {

// Null access (and OK) when there is no gate. A method without a rule is refused.
Result<std::unique_ptr<CallAccess>> AdmitGrpcCall(AccessGate* gate,
                                                  grpc::CallbackServerContext* context,
                                                  std::string_view method);

}  // namespace llmux::gateway
