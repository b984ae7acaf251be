// The admin HTTP API of the model registry and parameter centre (RegistryService; every change
// is recorded in the registry's history and the audit log by the service):
//
//   GET    /admin/v1/registry/models[?name=N]                                   models:read
//   GET    /admin/v1/registry/resolve?ref=name[:tag]                            models:read
//   GET    /admin/v1/registry/history[?model=N][&before=ID][&limit=L]           models:read
//   DELETE /admin/v1/registry/models?name=N                                     models:manage
//   POST   /admin/v1/registry/versions {path, model, tag?}                      models:manage
//   DELETE /admin/v1/registry/versions?model=N&digest=D                         models:manage
//   PUT    /admin/v1/registry/tags {model, tag, digest}                         models:manage
//          (with `served`: every served model whose name refers to model:tag is brought to the
//          version, as the role does it (ServedModels: a hot update in this process, a rollout
//          to a gateway's workers); the reply's "updated" lists them, each with ok or its error,
//          and a rollout's "deploy")
//   DELETE /admin/v1/registry/tags?model=N&tag=T                                models:manage
//   PUT    /admin/v1/registry/parameters {model, parameters: {...}}             models:manage
//          (request defaults apply at once; context length, KV type and budget, chat template and
//          max running at the model's next load: the reply says so in "load_settings_apply")
//   POST   /admin/v1/registry/rollback {change_id}                              models:manage
//          (a tag change rolled back updates the served models as a tag move does)
//
// Shapes in docs/registry.md.
#pragma once

namespace llmux::registry {
class RegistryService;
}
namespace llmux::serving {
class ModelManager;
}
namespace llmux::gateway {

class GuardedRouter;
class ServedModels;

// `service` (and `models`, `served`) must outlive the server. With `served` (the role's: see
// served_models.h), tag moves and their rollbacks update the served models, and the hot update
// is offered; with `models`, also load and unload:
//
//   POST /admin/v1/models/update {"name": served model, "ref": "model[:tag]"}    models:manage
//     -> {"name", "ref", "digest", "path"} once new requests go to the version `ref` points at.
//        All in one: serving::ModelManager::ReplaceModel, loaded beside the old
//        copy, which finishes its requests; a failed load leaves the old copy serving and
//        answers why. A gateway: a rollout of the version to the registered
//        workers (docs/deployment.md, "Rollouts"; version "sha256-<hex>", the file at the path
//        the registry holds), answered once it commits, with "deploy": its progress; an
//        aborted one leaves the old version serving and answers 503 with the reason.
//   POST /admin/v1/models/load {"name", "ref", "keep_alive"?: seconds}            models:manage
//     -> {"name", "ref", "digest", "path"} once the version is loaded and served as `name`
//        (only files the registry knows; 409 when `name` is served already)
//   POST /admin/v1/models/unload {"name"}                                         models:manage
//     -> {"name", "unloaded": true}; 404 for a name not served here
void RegisterRegistryRoutes(GuardedRouter& router, registry::RegistryService& service,
                            serving::ModelManager* models = nullptr,
                            ServedModels* served = nullptr);

}  // namespace llmux::gateway
