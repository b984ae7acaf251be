// `llmux serve`, the embedded default: every role in one process. The edge (HTTP, gRPC, MCP,
// auth) over models hosted in this process, with SQLite and nothing else to start.
#pragma once

#include <vector>

#include "app/edge.h"
#include "base/status.h"
#include "serving/model_host.h"

namespace llmux::app {

struct AllInOneOptions {
  EdgeOptions edge;
  std::vector<serving::ModelSpec> models;
  serving::ModelHostOptions model_host;
};

// Runs until SIGINT/SIGTERM; an error when it cannot start or a model fails to load.
Status RunAllInOne(const AllInOneOptions& options);

}  // namespace llmux::app
