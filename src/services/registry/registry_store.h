// What RegistryService needs of a store: models with their parameters, versions, tags, and the
// change history. Every mutation writes its change record in the same transaction, with the
// before value read under that transaction, so history and state never disagree. src/store/
// implements it on SQLite and PostgreSQL.
//
// Errors: kNotFound (no such model, version, tag or change), kAlreadyExists for a conflict (the
// model already has that digest; a tag still points at a version being removed), kUnavailable
// (the database cannot be reached or is busy), kInternal / kDataLoss (other failures).
// Thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include "base/status.h"
#include "services/registry/registry_types.h"

namespace llmux::registry {

class RegistryStore {
 public:
  virtual ~RegistryStore() = default;

  // Ordered by name.
  virtual Result<std::vector<Model>> ListRegisteredModels() = 0;
  virtual Result<Model> GetRegisteredModel(std::string_view name) = 0;
  // Oldest first.
  virtual Result<std::vector<Version>> ListModelVersions(std::string_view model) = 0;
  // Ordered by tag name.
  virtual Result<std::vector<Tag>> ListModelTags(std::string_view model) = 0;

  // The mutations take the change to record with time_ms, actor, actor_name and rollback_of set;
  // they fill in id, model, kind, target, before and after, and return it.
  //
  // Adds the version, creating its model (without parameters) when it is new.
  virtual Result<Change> AddModelVersion(const Version& version, Change change) = 0;
  // Points model:tag at digest (a version of the model). A tag that already points there is
  // left alone and nothing is recorded: the returned change has id 0.
  virtual Result<Change> SetModelTag(std::string_view model, std::string_view tag,
                                     std::string_view digest, Change change) = 0;
  virtual Result<Change> RemoveModelTag(std::string_view model, std::string_view tag,
                                        Change change) = 0;
  virtual Result<Change> SetModelParameters(std::string_view model,
                                            const ModelParameters& parameters, Change change) = 0;
  virtual Result<Change> RemoveModelVersion(std::string_view model, std::string_view digest,
                                            Change change) = 0;
  // The model, its versions, tags and parameters; its history stays.
  virtual Result<Change> RemoveRegisteredModel(std::string_view model, Change change) = 0;

  virtual Result<ChangeList> ListModelChanges(const ChangeQuery& query) = 0;
  virtual Result<Change> GetModelChange(int64_t id) = 0;
};

}  // namespace llmux::registry
