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
//          (with `models`: every served model whose name refers to model:tag is hot-updated to
//          the version; the reply's "updated" lists them, each with ok or its error)
//   DELETE /admin/v1/registry/tags?model=N&tag=T                                models:manage
//   PUT    /admin/v1/registry/parameters {model, parameters: {...}}             models:manage
//          (request defaults apply at once; context length, KV type and budget, chat template and
//          max running at the model's next load: the reply says so in "load_settings_apply")
//   POST   /admin/v1/registry/rollback {change_id}                              models:manage
//
// Shapes in docs/registry.md.
#pragma once

namespace llmux::registry {
class RegistryService;
}
namespace llmux::serving {
class ModelManager;
}
namespace llmux::rollout {
class DeployService;
}

namespace llmux::gateway {

class GuardedRouter;

// `service` (and `models`, `deploys`) must outlive the server. With `models` or `deploys`, also
// the hot update; with `models`, also load and unload:
//
//   POST /admin/v1/models/update {"name": served model, "ref": "model[:tag]"}    models:manage
//     -> {"name", "ref", "digest", "path"} once new requests go to the version `ref` points at.
//        With `models` (all in one): serving::ModelManager::ReplaceModel, loaded beside the old
//        copy, which finishes its requests; a failed load leaves the old copy serving and
//        answers why. With `deploys` (a gateway): a rollout of the version to the registered
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
                            rollout::DeployService* deploys = nullptr);

}  // namespace llmux::gateway
