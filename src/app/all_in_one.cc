#include "app/all_in_one.h"

#include <string>

#include "app/served_models.h"
#include "serving/local_inference_service.h"

namespace llmux::app {

Status RunAllInOne(const AllInOneOptions& o) {
  // The models load once the edge has opened the registry: their load settings come from it.
  serving::LocalInferenceService service(o.models, o.model_host,
                                         serving::LocalInferenceService::Deferred{});
  EdgeBackend backend;
  backend.start_models = [&service](serving::ModelLoadSettingsLookup settings) {
    service.Start(std::move(settings));
  };
  backend.service = &service;
  backend.models = &service;
  LocalServedModels served(service);
  backend.served_models = &served;
  backend.model_lifecycle = true;
  backend.metrics_text = [&service] { return service.metrics().Serialize(); };
  backend.metric_history = &service.metrics().history();
  backend.wait_ready = [&service] { return service.WaitLoaded(); };
  backend.drain = [&service](std::chrono::milliseconds grace) {
    service.Drain(static_cast<int>(grace.count()));
  };
  backend.starting = "loading " + std::to_string(o.models.size()) + " model(s)";
  return RunEdge(o.edge, backend);
}

}  // namespace llmux::app
