// The llmux.v1.Inference gRPC service (callback API) over the serving core. Handlers only
// convert, validate, submit and stream; the engine's sink callbacks are queued and written
// one at a time. A cancelled call (client cancel, deadline, server shutdown) cancels its
// generation through RequestHandle::Cancel().
//
// Every call first passes the AccessGate with its route rule (the "authorization" metadata
// carries "Bearer <key or token>"): refusals end the call with UNAUTHENTICATED,
// PERMISSION_DENIED or RESOURCE_EXHAUSTED (with a "retry-after" trailer in seconds).
#pragma once

#include <memory>
#include "gateway/access/access_gate.h"
#include "llmux/v1/inference.grpc.pb.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

class InferenceGrpcService final : public v1::Inference::CallbackService {
 public:
  // `service` and `gate` must outlive every call, i.e. the grpc::Server this is registered
  // with. A null gate: no access checks (tests of the service alone).
  explicit InferenceGrpcService(serving::InferenceService& service, AccessGate* gate = nullptr);
  ~InferenceGrpcService() override;

  // The generated base also declares the synchronous signatures; keep them visible.
  using v1::Inference::CallbackService::Chat;
  using v1::Inference::CallbackService::Complete;
  using v1::Inference::CallbackService::ListModels;

  grpc::ServerWriteReactor<v1::ChatResponse>* Chat(grpc::CallbackServerContext* context,
                                                   const v1::ChatRequest* request) override;
  grpc::ServerWriteReactor<v1::CompleteResponse>* Complete(
      grpc::CallbackServerContext* context, const v1::CompleteRequest* request) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;

 private:
  serving::InferenceService& service_;
  AccessGate* gate_;
};

}  // namespace llmux::gateway
