#include "store/registry_sql.h"

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "services/registry/registry_codec.h"
#include "store/sql_rows.h"

namespace llmux::store::internal {

namespace {

using registry::Change;
using registry::Model;
using registry::Tag;
using registry::Version;
using Json = nlohmann::json;

constexpr const char* kModelColumns = "name, parameters, created_at, updated_at";
constexpr const char* kVersionColumns =
    "model, digest, path, size_bytes, format, architecture, created_at, created_by";
constexpr const char* kTagColumns = "model, tag, digest, updated_at, updated_by";
constexpr const char* kChangeColumns =
    "id, time_ms, actor, actor_name, model, kind, target, before_json, after_json, rollback_of";

std::string Str(std::string_view s) { return std::string(s); }

Result<Model> ReadModel(const SqlRow& row) {
  RowReader r(row);
  Model m;
  m.name = r.Str();
  const std::string parameters = r.Str();
  m.created_at = r.Int();
  m.updated_at = r.Int();
  if (!r.status().ok()) return r.status().WithContext("reading registered model");
  LLMUX_ASSIGN_OR_RETURN(m.parameters, registry::ParseParametersText(parameters));
  return m;
}

Result<Version> ReadVersion(const SqlRow& row) {
  RowReader r(row);
  Version v;
  v.model = r.Str();
  v.digest = r.Str();
  v.path = r.Str();
  v.size_bytes = r.Int();
  v.format = r.Str();
  v.architecture = r.Str();
  v.created_at = r.Int();
  v.created_by = r.Str();
  if (!r.status().ok()) return r.status().WithContext("reading model version");
  return v;
}

Result<Tag> ReadTag(const SqlRow& row) {
  RowReader r(row);
  Tag t;
  t.model = r.Str();
  t.name = r.Str();
  t.digest = r.Str();
  t.updated_at = r.Int();
  t.updated_by = r.Str();
  if (!r.status().ok()) return r.status().WithContext("reading model tag");
  return t;
}

Result<Change> ReadChange(const SqlRow& row) {
  RowReader r(row);
  Change c;
  c.id = r.Int();
  c.time_ms = r.Int();
  c.actor = r.Str();
  c.actor_name = r.Str();
  c.model = r.Str();
  c.kind = r.Str();
  c.target = r.Str();
  c.before = r.Str();
  c.after = r.Str();
  c.rollback_of = r.Int();
  if (!r.status().ok()) return r.status().WithContext("reading registry change");
  return c;
}

Status ModelNotFound(std::string_view model) {
  return NotFoundError("model '" + Str(model) + "' is not registered");
}

// Runs `body` in a transaction: committed when it succeeds, rolled back otherwise.
template <typename F>
Result<Change> InTransaction(SqlConnection& conn, F body) {
  LLMUX_RETURN_IF_ERROR(conn.Begin());
  Result<Change> result = body();
  if (!result.ok()) {
    (void)conn.Rollback();
    return result;
  }
  Status committed = conn.Commit();
  if (!committed.ok()) return committed;
  return result;
}

Result<bool> ModelExists(SqlConnection& conn, std::string_view model) {
  LLMUX_ASSIGN_OR_RETURN(SqlResult r,
                         conn.Exec("SELECT 1 FROM registry_models WHERE name = $1", {Str(model)}));
  return !r.rows.empty();
}

// Stamps the model's last change and appends the change record; returns it with its id.
Result<Change> Record(SqlConnection& conn, Change change) {
  LLMUX_RETURN_IF_ERROR(conn.Exec("UPDATE registry_models SET updated_at = $2 WHERE name = $1",
                                  {change.model, change.time_ms / 1000})
                            .status());
  LLMUX_ASSIGN_OR_RETURN(
      SqlResult r,
      conn.Exec("INSERT INTO registry_changes(time_ms, actor, actor_name, model, kind, target, "
                "before_json, after_json, rollback_of) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                "RETURNING id",
                {change.time_ms, change.actor, change.actor_name, change.model, change.kind,
                 change.target, change.before, change.after, change.rollback_of}));
  if (r.rows.size() != 1 || r.rows[0].empty()) return InternalError("inserting a change: no id");
  LLMUX_ASSIGN_OR_RETURN(change.id, ToInt(r.rows[0][0]));
  return change;
}

Result<std::optional<std::string>> TagDigest(SqlConnection& conn, std::string_view model,
                                             std::string_view tag) {
  LLMUX_ASSIGN_OR_RETURN(SqlResult r,
                         conn.Exec("SELECT digest FROM registry_tags WHERE model = $1 AND tag = $2",
                                   {Str(model), Str(tag)}));
  if (r.rows.empty()) return std::optional<std::string>();
  return std::optional<std::string>(ToStr(r.rows[0][0]));
}

}  // namespace

Result<std::vector<Model>> ListRegisteredModels(SqlConnection& conn) {
  return Select<Model>(
      conn, std::string("SELECT ") + kModelColumns + " FROM registry_models ORDER BY name", {},
      ReadModel);
}

Result<Model> GetRegisteredModel(SqlConnection& conn, std::string_view name) {
  LLMUX_ASSIGN_OR_RETURN(auto models, Select<Model>(conn,
                                                    std::string("SELECT ") + kModelColumns +
                                                        " FROM registry_models WHERE name = $1",
                                                    {Str(name)}, ReadModel));
  if (models.empty()) return ModelNotFound(name);
  return std::move(models.front());
}

Result<std::vector<Version>> ListModelVersions(SqlConnection& conn, std::string_view model) {
  return Select<Version>(conn,
                         std::string("SELECT ") + kVersionColumns +
                             " FROM registry_versions WHERE model = $1 ORDER BY created_at, digest",
                         {Str(model)}, ReadVersion);
}

Result<std::vector<Tag>> ListModelTags(SqlConnection& conn, std::string_view model) {
  return Select<Tag>(
      conn,
      std::string("SELECT ") + kTagColumns + " FROM registry_tags WHERE model = $1 ORDER BY tag",
      {Str(model)}, ReadTag);
}

Result<Change> AddModelVersion(SqlConnection& conn, const Version& v, Change change) {
  return InTransaction(conn, [&]() -> Result<Change> {
    const int64_t now = change.time_ms / 1000;
    LLMUX_RETURN_IF_ERROR(
        conn.Exec("INSERT INTO registry_models(name, parameters, created_at, updated_at) "
                  "VALUES ($1, '{}', $2, $2) ON CONFLICT (name) DO NOTHING",
                  {v.model, now})
            .status());
    auto inserted = conn.Exec(std::string("INSERT INTO registry_versions(") + kVersionColumns +
                                  ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                              {v.model, v.digest, v.path, v.size_bytes, v.format, v.architecture,
                               v.created_at, v.created_by});
    if (!inserted.ok()) {
      if (inserted.status().code() == StatusCode::kAlreadyExists) {
        return AlreadyExistsError("model '" + v.model + "' already has version " + v.digest);
      }
      return inserted.status();
    }
    change.model = v.model;
    change.kind = std::string(registry::kVersionRegister);
    change.target = v.digest;
    change.before = "null";
    change.after = registry::VersionToJson(v).dump();
    return Record(conn, std::move(change));
  });
}

Result<Change> SetModelTag(SqlConnection& conn, std::string_view model, std::string_view tag,
                           std::string_view digest, Change change) {
  return InTransaction(conn, [&]() -> Result<Change> {
    LLMUX_ASSIGN_OR_RETURN(bool exists, ModelExists(conn, model));
    if (!exists) return ModelNotFound(model);
    LLMUX_ASSIGN_OR_RETURN(
        SqlResult version,
        conn.Exec("SELECT 1 FROM registry_versions WHERE model = $1 AND digest = $2",
                  {Str(model), Str(digest)}));
    if (version.rows.empty()) {
      return NotFoundError("model '" + Str(model) + "' has no version " + Str(digest));
    }
    LLMUX_ASSIGN_OR_RETURN(std::optional<std::string> old, TagDigest(conn, model, tag));
    change.model = Str(model);
    change.kind = std::string(registry::kTagSet);
    change.target = Str(tag);
    change.before = old ? registry::TagTargetText(*old) : "null";
    change.after = registry::TagTargetText(digest);
    if (old && *old == digest) return change;  // id 0: nothing changed, nothing recorded
    LLMUX_RETURN_IF_ERROR(
        conn.Exec("INSERT INTO registry_tags(model, tag, digest, updated_at, updated_by) "
                  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model, tag) DO UPDATE SET "
                  "digest = excluded.digest, updated_at = excluded.updated_at, "
                  "updated_by = excluded.updated_by",
                  {Str(model), Str(tag), Str(digest), change.time_ms / 1000, change.actor_name})
            .status());
    return Record(conn, std::move(change));
  });
}

Result<Change> RemoveModelTag(SqlConnection& conn, std::string_view model, std::string_view tag,
                              Change change) {
  return InTransaction(conn, [&]() -> Result<Change> {
    LLMUX_ASSIGN_OR_RETURN(std::optional<std::string> old, TagDigest(conn, model, tag));
    if (!old) return NotFoundError("model '" + Str(model) + "' has no tag '" + Str(tag) + "'");
    LLMUX_RETURN_IF_ERROR(
        conn.Exec("DELETE FROM registry_tags WHERE model = $1 AND tag = $2", {Str(model), Str(tag)})
            .status());
    change.model = Str(model);
    change.kind = std::string(registry::kTagRemove);
    change.target = Str(tag);
    change.before = registry::TagTargetText(*old);
    change.after = "null";
    return Record(conn, std::move(change));
  });
}

Result<Change> SetModelParameters(SqlConnection& conn, std::string_view model,
                                  const registry::ModelParameters& parameters, Change change) {
  return InTransaction(conn, [&]() -> Result<Change> {
    LLMUX_ASSIGN_OR_RETURN(Model old, GetRegisteredModel(conn, model));
    const std::string text = registry::ParametersText(parameters);
    LLMUX_RETURN_IF_ERROR(
        conn.Exec("UPDATE registry_models SET parameters = $2 WHERE name = $1", {Str(model), text})
            .status());
    change.model = Str(model);
    change.kind = std::string(registry::kParametersSet);
    change.target = "";
    change.before = registry::ParametersText(old.parameters);
    change.after = text;
    return Record(conn, std::move(change));
  });
}

Result<Change> RemoveModelVersion(SqlConnection& conn, std::string_view model,
                                  std::string_view digest, Change change) {
  return InTransaction(conn, [&]() -> Result<Change> {
    LLMUX_ASSIGN_OR_RETURN(
        auto versions,
        Select<Version>(conn,
                        std::string("SELECT ") + kVersionColumns +
                            " FROM registry_versions WHERE model = $1 AND digest = $2",
                        {Str(model), Str(digest)}, ReadVersion));
    if (versions.empty()) {
      return NotFoundError("model '" + Str(model) + "' has no version " + Str(digest));
    }
    LLMUX_ASSIGN_OR_RETURN(
        SqlResult tags, conn.Exec("SELECT tag FROM registry_tags WHERE model = $1 AND digest = $2 "
                                  "ORDER BY tag",
                                  {Str(model), Str(digest)}));
    if (!tags.rows.empty()) {
      std::string names;
      for (const SqlRow& row : tags.rows) names += (names.empty() ? "" : ", ") + ToStr(row[0]);
      return AlreadyExistsError("version " + Str(digest) + " is still tagged (" + names +
                                "); move or remove those tags first");
    }
    LLMUX_RETURN_IF_ERROR(
        conn.Exec("DELETE FROM registry_versions WHERE model = $1 AND digest = $2",
                  {Str(model), Str(digest)})
            .status());
    change.model = Str(model);
    change.kind = std::string(registry::kVersionRemove);
    change.target = Str(digest);
    change.before = registry::VersionToJson(versions.front()).dump();
    change.after = "null";
    return Record(conn, std::move(change));
  });
}

Result<Change> RemoveRegisteredModel(SqlConnection& conn, std::string_view model, Change change) {
  return InTransaction(conn, [&]() -> Result<Change> {
    LLMUX_ASSIGN_OR_RETURN(Model old, GetRegisteredModel(conn, model));
    LLMUX_ASSIGN_OR_RETURN(auto versions, ListModelVersions(conn, model));
    LLMUX_ASSIGN_OR_RETURN(auto tags, ListModelTags(conn, model));
    Json before = {{"parameters", registry::ParametersToJson(old.parameters)},
                   {"versions", Json::array()},
                   {"tags", Json::object()}};
    for (const Version& v : versions) before["versions"].push_back(registry::VersionToJson(v));
    for (const Tag& t : tags) before["tags"][t.name] = t.digest;
    for (const char* sql : {"DELETE FROM registry_tags WHERE model = $1",
                            "DELETE FROM registry_versions WHERE model = $1"}) {
      LLMUX_RETURN_IF_ERROR(conn.Exec(sql, {Str(model)}).status());
    }
    change.model = Str(model);
    change.kind = std::string(registry::kModelRemove);
    change.target = "";
    change.before = before.dump();
    change.after = "null";
    LLMUX_ASSIGN_OR_RETURN(Change recorded, Record(conn, std::move(change)));
    LLMUX_RETURN_IF_ERROR(
        conn.Exec("DELETE FROM registry_models WHERE name = $1", {Str(model)}).status());
    return recorded;
  });
}

Result<registry::ChangeList> ListModelChanges(SqlConnection& conn, const registry::ChangeQuery& q) {
  if (q.limit < 1 || q.limit > 1000) {
    return InvalidArgumentError("limit must be between 1 and 1000").WithField("limit");
  }
  std::string sql =
      std::string("SELECT ") + kChangeColumns + " FROM registry_changes WHERE id < $1";
  std::vector<SqlValue> params = {q.before_id > 0 ? q.before_id : INT64_MAX, int64_t{q.limit} + 1};
  if (!q.model.empty()) {
    sql += " AND model = $3";
    params.push_back(q.model);
  }
  sql += " ORDER BY id DESC LIMIT $2";
  LLMUX_ASSIGN_OR_RETURN(auto items, Select<Change>(conn, sql, params, ReadChange));
  registry::ChangeList out;
  if (items.size() > static_cast<size_t>(q.limit)) {
    items.resize(q.limit);
    out.has_more = true;
    out.next_cursor = items.back().id;
  }
  out.items = std::move(items);
  return out;
}

Result<Change> GetModelChange(SqlConnection& conn, int64_t id) {
  LLMUX_ASSIGN_OR_RETURN(auto items, Select<Change>(conn,
                                                    std::string("SELECT ") + kChangeColumns +
                                                        " FROM registry_changes WHERE id = $1",
                                                    {id}, ReadChange));
  if (items.empty()) return NotFoundError("registry change " + std::to_string(id) + " not found");
  return std::move(items.front());
}

}  // namespace llmux::store::internal
