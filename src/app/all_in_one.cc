#include "app/all_in_one.h"

#include <string>

#include "serving/local_inference_service.h"

namespace llmux::app {

Status RunAllInOne(const AllInOneOptions& o) {
  serving::LocalInferenceService service(o.models, o.model_host);
  EdgeBackend backend;
  backend.service = &service;
  backend.models = &service;
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
