// What an operator sees of, and does to, the workers behind a gateway (the admin API): a
// gateway's RemoteInferenceService implements it; a role without workers has none.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "serving/model_lifecycle.h"

namespace llmux::serving {

struct WorkerStatus {
  std::string address;
  std::string state;  // "up", "down" (failed calls or polls) or "draining"
  bool standby = false;
  std::vector<std::string> models;  // ready ones
  int outstanding = 0;  // requests this gateway has on it now
};

// A model on a worker as the worker reports it (GET /admin/v1/models on a gateway).
struct WorkerModelStatus {
  std::string worker;  // its address
  ModelStatus status;
};

class WorkerAdmin {
 public:
  virtual ~WorkerAdmin() = default;
  virtual std::vector<WorkerStatus> Workers() const = 0;
  // Asks the worker at `address` to drain (leave discovery, finish its running generations,
  // exit) and sends it no new requests from now on. Returns how many generations it was
  // running. kNotFound for an unknown address, kUnavailable when the worker does not answer.
  virtual Result<int> DrainWorker(const std::string& address) = 0;
  // Every model of every known worker with its state and memory, from the worker's last report
  // (a worker that stopped answering keeps its last one); empty where workers report none.
  virtual std::vector<WorkerModelStatus> WorkerModels() const { return {}; }
};

}  // namespace llmux::serving
