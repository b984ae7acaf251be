// Internal: the model registry's queries (registry::RegistryStore), shared by both backends.
// The caller holds the connection's lock; each mutation runs in its own transaction.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "services/registry/registry_types.h"
#include "store/sql_connection.h"

namespace llmux::store::internal {

Result<std::vector<registry::Model>> ListRegisteredModels(SqlConnection& conn);
Result<registry::Model> GetRegisteredModel(SqlConnection& conn, std::string_view name);
Result<std::vector<registry::Version>> ListModelVersions(SqlConnection& conn,
                                                         std::string_view model);
Result<std::vector<registry::Tag>> ListModelTags(SqlConnection& conn, std::string_view model);
Result<registry::Change> AddModelVersion(SqlConnection& conn, const registry::Version& version,
                                         registry::Change change);
Result<registry::Change> SetModelTag(SqlConnection& conn, std::string_view model,
                                     std::string_view tag, std::string_view digest,
                                     registry::Change change);
Result<registry::Change> RemoveModelTag(SqlConnection& conn, std::string_view model,
                                        std::string_view tag, registry::Change change);
Result<registry::Change> SetModelParameters(SqlConnection& conn, std::string_view model,
                                            const registry::ModelParameters& parameters,
                                            registry::Change change);
Result<registry::Change> RemoveModelVersion(SqlConnection& conn, std::string_view model,
                                            std::string_view digest, registry::Change change);
Result<registry::Change> RemoveRegisteredModel(SqlConnection& conn, std::string_view model,
                                               registry::Change change);
Result<registry::ChangeList> ListModelChanges(SqlConnection& conn,
                                              const registry::ChangeQuery& query);
Result<registry::Change> GetModelChange(SqlConnection& conn, int64_t id);

}  // namespace llmux::store::internal
