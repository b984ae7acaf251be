// The model registry and parameter centre: the admin API and `llmux model` change models
// through it, and serving asks it for each model's defaults. It checks every name and value,
// hashes and checks the files it registers, and records each change twice over: in the
// registry's own history (who, when, before, after; what rollback reads) and once in the audit
// log ("registry.<kind>" on "model:<name>", outcome "ok" or "failed"). Input refused as invalid
// changes nothing and is not recorded.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "services/audit/audit_log.h"
#include "services/registry/registry_store.h"
#include "services/registry/registry_types.h"

namespace llmux::registry {

struct ModelDetail {
  Model model;
  std::vector<Version> versions;  // oldest first
  std::vector<Tag> tags;          // by name
};

struct RegisterRequest {
  std::string path;   // a GGUF file on this machine
  std::string model;  // the model it becomes a version of (created if new)
  // The tag pointed at the new version; nullopt: none.
  std::optional<std::string> tag = std::string(kDefaultTag);
};

struct Registration {
  Version version;
  bool created = false;              // false: the model already had this digest (nothing changed)
  std::optional<Change> tag_change;  // when a tag was asked for; id 0 if it already pointed there
};

struct RegistryServiceOptions {
  // How long DefaultsFor trusts what it read (changes made through this service are seen at
  // once; those of another process, such as `llmux model`, after this long).
  std::chrono::milliseconds defaults_ttl{2000};
  size_t max_cached_models = 1024;  // names remembered by DefaultsFor, registered or not
};

class RegistryService {
 public:
  // `store` and `audit` must outlive the service.
  RegistryService(RegistryStore& store, audit::AuditLog& audit,
                  RegistryServiceOptions options = {});

  // By name.
  Result<std::vector<ModelDetail>> List();
  Result<ModelDetail> Show(std::string_view model);
  // "name[:tag]" -> the version the tag points at. kNotFound for an unknown model or tag.
  Result<Version> Resolve(std::string_view ref);

  // Reads the file (kNotFound, or kInvalidArgument when it is not a regular, readable GGUF,
  // with the reader's reason), computes its digest and adds it as a version of the model;
  // the same digest again changes nothing. Then points the tag at it.
  Result<Registration> Register(const audit::Actor& actor, const RegisterRequest& request);
  // `digest` may be a unique prefix of one of the model's digests ("sha256:" optional, at
  // least 12 hex digits).
  Result<Change> SetTag(const audit::Actor& actor, std::string_view model, std::string_view tag,
                        std::string_view digest);
  Result<Change> RemoveTag(const audit::Actor& actor, std::string_view model, std::string_view tag);
  // Replaces the model's parameters as a whole.
  Result<Change> SetParameters(const audit::Actor& actor, std::string_view model,
                               const ModelParameters& parameters);
  // kAlreadyExists (a conflict) while a tag points at the version.
  Result<Change> RemoveVersion(const audit::Actor& actor, std::string_view model,
                               std::string_view digest);
  Result<Change> RemoveModel(const audit::Actor& actor, std::string_view model);

  Result<ChangeList> History(const ChangeQuery& query);
  // Restores what a parameter or tag change replaced, as a new change (rollback_of = id), itself
  // recorded and itself reversible. Other kinds: kInvalidArgument. A tag whose old version has
  // since been removed: kAlreadyExists (a conflict).
  Result<Change> Rollback(const audit::Actor& actor, int64_t change_id);

  // Audits a change of what a process serves from the registry ("load", "unload", "update" of
  // the served name to the version `ref` points at), with its outcome. The model manager does
  // the change; the registry owns the versions it names, so it records who asked for it.
  void AuditServing(const audit::Actor& actor, std::string_view action, std::string_view name,
                    std::string_view ref, const Status& outcome);

  // The parameters of the registered model a request names ("name" or "name:tag"); nullopt when
  // it is not registered (or the store cannot be read: serving goes on without defaults).
  std::optional<ModelParameters> DefaultsFor(std::string_view requested_model);

 private:
  Change NewChange(const audit::Actor& actor) const;
  Result<std::string> FindDigest(std::string_view model, std::string_view digest);
  // Audits the outcome of a change of `kind` to `model`, forgets cached defaults, and passes
  // the result on.
  Result<Change> Finish(const audit::Actor& actor, std::string_view kind, std::string_view model,
                        Result<Change> result);
  void Audit(const audit::Actor& actor, std::string_view kind, std::string_view model,
             std::string_view detail, const Status& outcome);
  // Writes one audit event; both kinds of event above go through it.
  void Append(const audit::Actor& actor, std::string action, std::string target, std::string detail,
              const Status& outcome);

  RegistryStore& store_;
  audit::AuditLog& audit_;
  const RegistryServiceOptions options_;

  struct CachedDefaults {
    std::optional<ModelParameters> parameters;
    std::chrono::steady_clock::time_point read_at;
  };
  std::mutex cache_mu_;
  std::unordered_map<std::string, CachedDefaults> cache_;
};

}  // namespace llmux::registry
