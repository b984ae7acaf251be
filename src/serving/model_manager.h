// Loading and unloading models while the server runs (the MCP tools load_model and
// unload_model). Separate from InferenceService so that front ends which only generate
// never see it, and so that a caller may be handed one without the other.
//
// Threading: both calls block until done, so call them from a thread of your own, never
// from an I/O thread. They are safe to call concurrently with each other and with every
// InferenceService method.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "serving/model_host.h"

namespace llmux::serving {

class ModelManager {
 public:
  virtual ~ModelManager() = default;
  // Loads `spec` (its name: the served name; empty: from the file) and serves it once loaded.
  // Errors: kAlreadyExists when the name is served or being loaded, the file's errors
  // (kNotFound, kDataLoss, ...) with the reason, kUnavailable while the server starts or
  // shuts down.
  virtual Status LoadModel(ModelSpec spec) = 0;
  // Stops serving `name`: new requests get kNotFound at once, queued and running ones end
  // cancelled, and the model's memory is freed when they have. kNotFound for an unknown name.
  virtual Status UnloadModel(const std::string& name) = 0;
  // Each model's state (loading, loaded, idle, unloading, failed with the reason), keep-alive
  // and memory; empty where the manager keeps no lifecycle.
  virtual std::vector<ModelStatus> ModelStatuses() const { return {}; }
  // Keeps a loaded model `seconds` from now without requests (negative: until unloaded, 0:
  // unload when idle); models given at start stay loaded. NotFound unless loaded.
  virtual Status SetKeepAlive(const std::string& name, double seconds) {
    return UnimplementedError("this server does not unload idle models");
  }
  // Hot update: loads spec.path beside the model served as spec.name, then switches new
  // requests to it at once; requests already queued or running finish on the old copy, which is
  // unloaded after them (in the background). A load that fails leaves the old copy serving and
  // returns why. Blocks until the switch. kNotFound unless spec.name is served, kAlreadyExists
  // while another update of it runs.
  virtual Status ReplaceModel(ModelSpec spec) {
    return UnimplementedError("this server does not update models in place");
  }
};

}  // namespace llmux::serving
