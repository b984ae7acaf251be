// Records each finished model pull that names a model ("name" or "name:tag") as a version of
// it in the registry, tagged as named (":latest" when no tag is given); a pull without a name
// only leaves its blob. A registration that fails (a bad name) fails the pull with the reason.
#pragma once

#include "net/pull/model_puller.h"
#include "services/registry/registry_service.h"

namespace llmux::app {

class RegistryPullSink final : public pull::PullSink {
 public:
  explicit RegistryPullSink(registry::RegistryService& registry) : registry_(registry) {}
  Status OnPulled(const pull::PulledModel& model) override;

 private:
  registry::RegistryService& registry_;
};

}  // namespace llmux::app
