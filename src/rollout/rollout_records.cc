#include "rollout/rollout_records.h"

#include <nlohmann/json.hpp>
#include <set>

namespace llmux::rollout {
namespace {

using nlohmann::json;

constexpr size_t kMaxNameBytes = 128;

bool IsToken(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameBytes) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool Printable(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

Result<json> Parse(std::string_view text, const char* what) {
  if (text.size() > kMaxRolloutValueBytes) {
    return InvalidArgumentError(std::string(what) + ": " + std::to_string(text.size()) +
                                " bytes, over the limit of " +
                                std::to_string(kMaxRolloutValueBytes));
  }
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError(std::string(what) + ": not JSON");
  if (!j.is_object()) return InvalidArgumentError(std::string(what) + ": not a JSON object");
  return j;
}

Result<std::string> StringField(const json& j, const char* what, const char* name, bool required) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) return InvalidArgumentError(std::string(what) + ": missing '" + name + "'");
    return std::string();
  }
  if (!it->is_string()) {
    return InvalidArgumentError(std::string(what) + ": '" + name + "' is not a string");
  }
  return it->get<std::string>();
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string_view DeployStateName(DeployState state) {
  switch (state) {
    case DeployState::kPreparing:
      return "preparing";
    case DeployState::kCommitted:
      return "committed";
    case DeployState::kAborted:
      return "aborted";
  }
  return "?";
}

std::string ServedName(const DeployPlan& plan) { return plan.model + "@" + plan.version; }

std::string DeploysPrefix(const std::string& prefix) { return prefix + "deploys/"; }
std::string PlanKey(const std::string& prefix, const std::string& deploy_id) {
  return DeploysPrefix(prefix) + deploy_id;
}
std::string ReportKey(const std::string& prefix, const std::string& deploy_id,
                      const std::string& worker_id) {
  return PlanKey(prefix, deploy_id) + "/workers/" + worker_id;
}
std::string RoutesPrefix(const std::string& prefix) { return prefix + "routes/"; }
std::string RouteKey(const std::string& prefix, const std::string& model) {
  return RoutesPrefix(prefix) + model;
}

std::optional<DeployKey> ParseDeployKey(const std::string& prefix, std::string_view key) {
  const std::string base = DeploysPrefix(prefix);
  if (key.substr(0, base.size()) != base) return std::nullopt;
  std::string_view rest = key.substr(base.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    if (!IsToken(rest)) return std::nullopt;
    return DeployKey{std::string(rest), {}};
  }
  std::string_view id = rest.substr(0, slash);
  constexpr std::string_view kWorkers = "/workers/";
  if (!IsToken(id) || rest.substr(slash, kWorkers.size()) != kWorkers) return std::nullopt;
  std::string_view worker = rest.substr(slash + kWorkers.size());
  if (worker.empty() || worker.size() > kMaxNameBytes || worker.find('/') != std::string::npos ||
      !Printable(worker)) {
    return std::nullopt;
  }
  return DeployKey{std::string(id), std::string(worker)};
}

Status ValidateDeployPlan(const DeployPlan& plan) {
  if (!IsToken(plan.id)) return InvalidArgumentError("deploy: id must be 1-128 of [A-Za-z0-9._-]");
  if (plan.model.empty() || plan.model.size() > 256 || !Printable(plan.model) ||
      plan.model.find('@') != std::string::npos) {
    return InvalidArgumentError("deploy: model must be 1-256 printable characters without '@'")
        .WithField("model");
  }
  if (!IsToken(plan.version)) {
    return InvalidArgumentError("deploy: version must be 1-128 of [A-Za-z0-9._-]")
        .WithField("version");
  }
  if (plan.path.empty() || plan.path.size() > 4096 || !Printable(plan.path)) {
    return InvalidArgumentError("deploy: path must be 1-4096 printable characters")
        .WithField("path");
  }
  if (plan.workers.empty()) return InvalidArgumentError("deploy: no workers").WithField("workers");
  if (plan.workers.size() > 1024) {
    return InvalidArgumentError("deploy: more than 1024 workers").WithField("workers");
  }
  std::set<std::string> seen;
  for (const std::string& w : plan.workers) {
    if (w.empty() || w.size() > kMaxNameBytes || w.find('/') != std::string::npos ||
        !Printable(w)) {
      return InvalidArgumentError("deploy: worker id '" + w + "' is not 1-128 characters without '/'")
          .WithField("workers");
    }
    if (!seen.insert(w).second) {
      return InvalidArgumentError("deploy: worker '" + w + "' named twice").WithField("workers");
    }
  }
  return Status::Ok();
}

std::string EncodeDeployPlan(const DeployPlan& plan) {
  json j = {{"id", plan.id},
            {"model", plan.model},
            {"version", plan.version},
            {"path", plan.path},
            {"workers", plan.workers},
            {"deadline_unix_ms", plan.deadline_unix_ms},
            {"state", std::string(DeployStateName(plan.state))}};
  if (!plan.reason.empty()) j["reason"] = plan.reason;
  return Dump(j);
}

Result<DeployPlan> DecodeDeployPlan(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(json j, Parse(text, "deploy plan"));
  DeployPlan plan;
  constexpr const char* kWhat = "deploy plan";
  LLMUX_ASSIGN_OR_RETURN(plan.id, StringField(j, kWhat, "id", true));
  LLMUX_ASSIGN_OR_RETURN(plan.model, StringField(j, kWhat, "model", true));
  LLMUX_ASSIGN_OR_RETURN(plan.version, StringField(j, kWhat, "version", true));
  LLMUX_ASSIGN_OR_RETURN(plan.path, StringField(j, kWhat, "path", true));
  LLMUX_ASSIGN_OR_RETURN(plan.reason, StringField(j, kWhat, "reason", false));
  LLMUX_ASSIGN_OR_RETURN(std::string state, StringField(j, kWhat, "state", true));
  if (state == "preparing") {
    plan.state = DeployState::kPreparing;
  } else if (state == "committed") {
    plan.state = DeployState::kCommitted;
  } else if (state == "aborted") {
    plan.state = DeployState::kAborted;
  } else {
    return InvalidArgumentError("deploy plan: unknown state '" + state + "'");
  }
  auto workers = j.find("workers");
  if (workers == j.end() || !workers->is_array()) {
    return InvalidArgumentError("deploy plan: 'workers' is not an array");
  }
  for (const json& w : *workers) {
    if (!w.is_string()) return InvalidArgumentError("deploy plan: a worker id is not a string");
    plan.workers.push_back(w.get<std::string>());
  }
  auto deadline = j.find("deadline_unix_ms");
  if (deadline == j.end() || !deadline->is_number_integer()) {
    return InvalidArgumentError("deploy plan: 'deadline_unix_ms' is not an integer");
  }
  plan.deadline_unix_ms = deadline->get<int64_t>();
  LLMUX_RETURN_IF_ERROR(ValidateDeployPlan(plan));
  return plan;
}

std::string EncodeWorkerReport(const WorkerReport& report) {
  json j = {{"state", report.ready ? "ready" : "failed"}};
  if (!report.reason.empty()) j["reason"] = report.reason;
  return Dump(j);
}

Result<WorkerReport> DecodeWorkerReport(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(json j, Parse(text, "worker report"));
  WorkerReport report;
  LLMUX_ASSIGN_OR_RETURN(std::string state, StringField(j, "worker report", "state", true));
  if (state != "ready" && state != "failed") {
    return InvalidArgumentError("worker report: unknown state '" + state + "'");
  }
  report.ready = state == "ready";
  LLMUX_ASSIGN_OR_RETURN(report.reason, StringField(j, "worker report", "reason", false));
  return report;
}

std::string EncodeRoute(const Route& route) {
  return Dump({{"version", route.version}, {"served", route.served}, {"deploy", route.deploy}});
}

Result<Route> DecodeRoute(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(json j, Parse(text, "route"));
  Route route;
  LLMUX_ASSIGN_OR_RETURN(route.version, StringField(j, "route", "version", false));
  LLMUX_ASSIGN_OR_RETURN(route.served, StringField(j, "route", "served", true));
  LLMUX_ASSIGN_OR_RETURN(route.deploy, StringField(j, "route", "deploy", false));
  if (route.served.empty() || route.served.size() > 512 || !Printable(route.served)) {
    return InvalidArgumentError("route: 'served' must be 1-512 printable characters");
  }
  return route;
}

}  // namespace llmux::rollout
