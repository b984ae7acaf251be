// What a rollout keeps in etcd (docs/deployment.md, "Rollouts"), under a prefix (default
// /llmux/):
//   deploys/<id>                 DeployPlan: model, version, file, workers, deadline, state
//   deploys/<id>/workers/<wid>   WorkerReport: that worker's prepare result (ready | failed)
//   routes/<model>               Route: the served name a gateway sends <model>'s requests to
// Values are JSON. Decoding validates and bounds sizes: anyone who can write to etcd may have
// written anything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace llmux::rollout {

// Values larger than this are refused in both directions.
inline constexpr size_t kMaxRolloutValueBytes = 64 * 1024;

enum class DeployState { kPreparing, kCommitted, kAborted };
std::string_view DeployStateName(DeployState state);

struct DeployPlan {
  std::string id;       // the last segment of its key: [A-Za-z0-9._-], 1-128
  std::string model;    // the name clients ask for
  std::string version;  // [A-Za-z0-9._-], 1-128
  std::string path;     // the model file as the workers see it
  std::vector<std::string> workers;  // worker ids (WorkerRecord::id)
  int64_t deadline_unix_ms = 0;      // the coordinator commits no later than this
  DeployState state = DeployState::kPreparing;
  std::string reason;  // why it aborted

  bool operator==(const DeployPlan&) const = default;
};

// The name the workers load the version under: "<model>@<version>".
std::string ServedName(const DeployPlan& plan);

struct WorkerReport {
  bool ready = false;
  std::string reason;  // why it failed
  bool operator==(const WorkerReport&) const = default;
};

struct Route {
  std::string version;
  std::string served;  // the served name requests for the model go to
  std::string deploy;  // the deploy that set it
  bool operator==(const Route&) const = default;
};

// Keys, given the prefix (ends with '/').
std::string DeploysPrefix(const std::string& prefix);  // <prefix>deploys/
std::string PlanKey(const std::string& prefix, const std::string& deploy_id);
std::string ReportKey(const std::string& prefix, const std::string& deploy_id,
                      const std::string& worker_id);
std::string RoutesPrefix(const std::string& prefix);  // <prefix>routes/
std::string RouteKey(const std::string& prefix, const std::string& model);

// What a key under DeploysPrefix is: a plan (worker empty) or a report; nullopt for neither.
struct DeployKey {
  std::string deploy_id;
  std::string worker_id;  // empty for the plan
};
std::optional<DeployKey> ParseDeployKey(const std::string& prefix, std::string_view key);

// The checks a plan must pass before it is written: ids and version of [A-Za-z0-9._-], a model
// name and a path, at least one worker, no worker twice.
Status ValidateDeployPlan(const DeployPlan& plan);

std::string EncodeDeployPlan(const DeployPlan& plan);
Result<DeployPlan> DecodeDeployPlan(std::string_view json);
std::string EncodeWorkerReport(const WorkerReport& report);
Result<WorkerReport> DecodeWorkerReport(std::string_view json);
std::string EncodeRoute(const Route& route);
Result<Route> DecodeRoute(std::string_view json);

}  // namespace llmux::rollout
