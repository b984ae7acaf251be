// The roles' gateway::ServedModels (what a registry tag move, its rollback and POST
// /admin/v1/models/update do to the served models): the all-in-one replaces its own copy, a
// gateway runs a rollout to its workers.
#pragma once

#include <memory>

#include "gateway/admin/served_models.h"
#include "rollout/deploy_service.h"
#include "serving/inference_service.h"
#include "serving/model_manager.h"
#include "serving/remote/model_routes.h"

namespace llmux::app {

// All in one: the hot update of ModelManager::ReplaceModel (loaded beside the old copy).
class LocalServedModels final : public gateway::ServedModels {
 public:
  explicit LocalServedModels(serving::ModelManager& models) : models_(models) {}
  std::vector<std::string> ReferringTo(const std::string& model, const std::string& tag,
                                       const registry::Version& version) const override;
  Result<gateway::ServedUpdate> Update(const std::string& name, const registry::Version& version,
                                       const audit::Actor& actor) override;

 private:
  serving::ModelManager& models_;
};

// A gateway: a rollout of the version to the registered workers (docs/deployment.md,
// "Rollouts"), answered once it commits or aborts. The served names are those the workers
// serve and those the rollouts route.
class RolloutServedModels final : public gateway::ServedModels {
 public:
  // All must outlive this.
  RolloutServedModels(rollout::DeployService& deploys, const serving::InferenceService& remote,
                      const serving::ModelRoutes& routes)
      : deploys_(deploys), remote_(remote), routes_(routes) {}
  std::vector<std::string> ReferringTo(const std::string& model, const std::string& tag,
                                       const registry::Version& version) const override;
  Result<gateway::ServedUpdate> Update(const std::string& name, const registry::Version& version,
                                       const audit::Actor& actor) override;

 private:
  rollout::DeployService& deploys_;
  const serving::InferenceService& remote_;
  const serving::ModelRoutes& routes_;
};

}  // namespace llmux::app
