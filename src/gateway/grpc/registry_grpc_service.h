// The llmux.v1.Registry gRPC service (proto/llmux/v1/registry.proto) over the registry service:
// list, resolve and history (models:read), tags, parameters and rollback (models:manage), each
// method behind its rule in the route table. Offered only when authentication is on (the
// registry lives in the auth store).
#pragma once

#include "gateway/access/access_gate.h"
#include "llmux/v1/registry.grpc.pb.h"
#include "services/registry/registry_service.h"

namespace llmux::gateway {

// The most bytes of SetParametersRequest.parameters_json (a system prompt and a chat template
// at their limits fit).
inline constexpr size_t kMaxParametersJsonBytes = 512 * 1024;

class RegistryGrpcService final : public v1::Registry::CallbackService {
 public:
  // Both must outlive the grpc::Server this is registered with.
  RegistryGrpcService(registry::RegistryService& registry, AccessGate& gate)
      : registry_(registry), gate_(gate) {}

  using Reactor = grpc::ServerUnaryReactor;
  using Context = grpc::CallbackServerContext;

  Reactor* ListModels(Context* c, const v1::ListRegistryModelsRequest* req,
                      v1::ListRegistryModelsResponse* resp) override;
  Reactor* Resolve(Context* c, const v1::ResolveRequest* req, v1::RegistryVersion* resp) override;
  Reactor* History(Context* c, const v1::HistoryRequest* req, v1::HistoryResponse* resp) override;
  Reactor* PutTag(Context* c, const v1::PutTagRequest* req, v1::RegistryChange* resp) override;
  Reactor* SetParameters(Context* c, const v1::SetParametersRequest* req,
                         v1::RegistryChange* resp) override;
  Reactor* Rollback(Context* c, const v1::RollbackRequest* req, v1::RegistryChange* resp) override;

 private:
  registry::RegistryService& registry_;
  AccessGate& gate_;
};

}  // namespace llmux::gateway
