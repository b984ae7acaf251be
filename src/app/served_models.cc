#include "app/served_models.h"

#include <algorithm>
#include <set>

namespace llmux::app {

namespace {

// A rollout's version label: the digest with ':' made '-' ("sha256-<hex>"), as served names
// "<name>@<version>" take it.
std::string VersionLabel(const registry::Version& version) {
  std::string label = version.digest;
  std::replace(label.begin(), label.end(), ':', '-');
  return label;
}

}  // namespace

std::vector<std::string> LocalServedModels::ReferringTo(const std::string& model,
                                                        const std::string& tag,
                                                        const registry::Version& version) const {
  std::vector<std::string> names;
  for (const serving::ModelStatus& served : models_.ModelStatuses()) {
    if (!gateway::RefersToTag(served.name, model, tag)) continue;
    if (served.state == serving::ModelState::kFailed || served.path == version.path) continue;
    names.push_back(served.name);
  }
  return names;
}

Result<gateway::ServedUpdate> LocalServedModels::Update(const std::string& name,
                                                        const registry::Version& version,
                                                        const audit::Actor&) {
  serving::ModelSpec spec;
  spec.name = name;
  spec.path = version.path;
  LLMUX_RETURN_IF_ERROR(models_.ReplaceModel(spec));
  return gateway::ServedUpdate{};
}

std::vector<std::string> RolloutServedModels::ReferringTo(const std::string& model,
                                                          const std::string& tag,
                                                          const registry::Version& version) const {
  std::set<std::string> candidates;
  for (const serving::ModelInfo& m : remote_.ListModels()) {
    if (m.id.find('@') == std::string::npos) candidates.insert(m.id);  // not a rollout's copy
  }
  for (const auto& [name, served] : routes_.All()) candidates.insert(name);
  const std::string label = VersionLabel(version);
  std::vector<std::string> names;
  for (const std::string& name : candidates) {
    if (!gateway::RefersToTag(name, model, tag)) continue;
    if (routes_.Resolve(name) == name + "@" + label) continue;  // rolled out already
    names.push_back(name);
  }
  return names;
}

Result<gateway::ServedUpdate> RolloutServedModels::Update(const std::string& name,
                                                          const registry::Version& version,
                                                          const audit::Actor& actor) {
  rollout::DeployRequest deploy;
  deploy.model = name;
  deploy.version = VersionLabel(version);
  deploy.path = version.path;
  const auto timeout = deploy.timeout;
  LLMUX_ASSIGN_OR_RETURN(rollout::DeployProgress started, deploys_.Start(std::move(deploy), actor));
  LLMUX_ASSIGN_OR_RETURN(rollout::DeployProgress ended, deploys_.Wait(started.deploy_id, timeout));
  if (ended.state != rollout::DeployState::kCommitted) {
    return UnavailableError("deploy " + ended.deploy_id + " aborted: " + ended.reason +
                            "; the old version keeps serving");
  }
  return gateway::ServedUpdate{ended.deploy_id, ended.served};
}

}  // namespace llmux::app
