// What an operator sees of, and does to, the workers behind a gateway (the admin API): a
// gateway's RemoteInferenceService implements it; a role without workers has none.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace llmux::serving {

struct WorkerStatus {
  std::string address;
  std::string state;  // "up", "down" (failed calls or polls) or "draining"
  bool standby = false;
  std::vector<std::string> models;  // ready ones
  int outstanding = 0;  // requests this gateway has on it now
};

class WorkerAdmin {
 public:
  virtual ~WorkerAdmin() = default;
  virtual std::vector<WorkerStatus> Workers() const = 0;
  // Asks the worker at `address` to drain (leave discovery, finish its running generations,
  // exit) and sends it no new requests from now on. Returns how many generations it was
  // running. kNotFound for an unknown address, kUnavailable when the worker does not answer.
  virtual Result<int> DrainWorker(const std::string& address) = 0;
};

}  // namespace llmux::serving
