// What the registry's admin routes ask of the role that serves the models, so that the routes
// decide nothing themselves: which served names refer to a registry tag, and bringing a served
// name to a registry version. Each role supplies its own from its composition root (src/app/):
// the all-in-one replaces the copy in its process (serving::ModelManager::ReplaceModel), a
// gateway rolls the version out to its workers (rollout::DeployService).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "services/audit/audit_log.h"
#include "services/registry/registry_types.h"

namespace llmux::gateway {

// An update that went well. For a rollout: its deploy id and the name the workers serve the
// version under ("<name>@<version>"); empty for an update in this process.
struct ServedUpdate {
  std::string deploy_id;
  std::string served;
};

class ServedModels {
 public:
  virtual ~ServedModels() = default;
  // The served names that refer to model:tag (RefersToTag) and do not serve `version` yet.
  virtual std::vector<std::string> ReferringTo(const std::string& model, const std::string& tag,
                                               const registry::Version& version) const = 0;
  // Brings the served `name` to `version`: new requests go to it once it is ready, requests
  // in flight finish on the old one; a failure leaves the old version serving and says why.
  // Blocks until then: call it off the io threads.
  virtual Result<ServedUpdate> Update(const std::string& name, const registry::Version& version,
                                      const audit::Actor& actor) = 0;
};

// Whether a served name refers to model:tag: "m" and "m:latest" to m:latest, "m:q8" to m:q8.
inline bool RefersToTag(std::string_view served_name, std::string_view model,
                        std::string_view tag) {
  auto ref = registry::ParseModelRef(served_name);
  return ref.ok() && ref->name == model && ref->tag == tag;
}

}  // namespace llmux::gateway
