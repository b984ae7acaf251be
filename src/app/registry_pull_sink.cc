#include "app/registry_pull_sink.h"

namespace llmux::app {

Status RegistryPullSink::OnPulled(const pull::PulledModel& model) {
  if (model.name.empty()) return Status::Ok();
  LLMUX_ASSIGN_OR_RETURN(registry::ModelRef ref, registry::ParseModelRef(model.name));
  registry::RegisterRequest request;
  request.path = model.path;
  request.model = ref.name;
  request.tag = ref.tag;
  const audit::Actor actor{model.caller, model.caller, "pull " + model.source};
  return registry_.Register(actor, request).status();
}

}  // namespace llmux::app
