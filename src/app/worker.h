// `llmux worker`: engines for its models behind the internal worker gRPC service
// (llmux.worker.v1), registered in etcd while it serves so that gateways find it.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/status.h"
#include "discovery/worker_registration.h"
#include "serving/model_host.h"
#include "worker/worker_server.h"

namespace llmux::app {

struct WorkerRoleOptions {
  std::vector<serving::ModelSpec> models;
  serving::ModelHostOptions model_host;
  worker::WorkerServerOptions server;
  // etcd registration; no endpoints: not registered (gateways list it with --worker).
  discovery::WorkerRegistrationOptions registration;
  std::string id;         // unique name in etcd; empty: the advertised address
  std::string advertise;  // host:port gateways dial; empty: the listening host and port
  bool standby = false;   // registered as a hot standby: used when primaries fail or saturate
  std::chrono::seconds grace{30};  // running requests get this long on SIGTERM
  // Rollouts (with etcd): the deploy plans naming this worker are read under <prefix>deploys/.
  std::string rollout_prefix = "/llmux/";
};

// Runs until SIGINT/SIGTERM: then deregisters, refuses new work and lets running work finish.
Status RunWorker(const WorkerRoleOptions& options);

}  // namespace llmux::app
