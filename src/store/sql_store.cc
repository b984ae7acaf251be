#include "store/sql_store.h"

#include <charconv>
#include <chrono>
#include <ctime>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "store/migrations.h"
#include "store/registry_sql.h"
#include "store/request_log_sql.h"
#include "store/sql_rows.h"

namespace llmux::store::internal {
namespace {

constexpr int kMaxPageLimit = 1000;

int64_t NowSeconds() { return static_cast<int64_t>(std::time(nullptr)); }
int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ToJson(const std::vector<std::string>& list) { return nlohmann::json(list).dump(); }

const char kUserColumns[] =
    "id, name, password_hash, roles, disabled, created_at, requests_per_minute, "
    "tokens_per_minute, max_concurrent, token_budget, budget_period_seconds, session_generation";
const char kKeyColumns[] =
    "id, prefix, secret_hash, owner_user_id, name, scopes, allowed_models, expires_at, "
    "revoked_at, last_used_at, created_at, requests_per_minute, tokens_per_minute, "
    "max_concurrent, token_budget, budget_period_seconds";
const char kAuditColumns[] = "id, time_ms, actor, action, target, source, outcome, detail";
const char kTokenColumns[] =
    "id, token_hash, user_id, expires_at, revoked, rotated_from, created_at, session_generation";

Result<User> ReadUser(const SqlRow& row) {
  RowReader r(row);
  User u;
  u.id = r.Int();
  u.name = r.Str();
  u.password_hash = r.Str();
  u.roles = r.List("user roles");
  u.disabled = r.Bool();
  u.created_at = r.Int();
  u.limits.requests_per_minute = r.Int();
  u.limits.tokens_per_minute = r.Int();
  u.limits.max_concurrent = r.Int();
  u.limits.token_budget = r.Int();
  u.limits.budget_period_seconds = r.Int();
  u.session_generation = r.Int();
  if (!r.status().ok()) return r.status().WithContext("reading user");
  return u;
}

Result<Role> ReadRole(const SqlRow& row) {
  RowReader r(row);
  Role role;
  role.name = r.Str();
  role.permissions = r.List("role permissions");
  role.builtin = r.Bool();
  if (!r.status().ok()) return r.status().WithContext("reading role");
  return role;
}

// A prompt template's arguments and messages are JSON text in the shape the admin API takes
// them: [{"name", "description"?, "required"?}] and [{"role", "text"}].
std::string PromptArgumentsJson(const std::vector<prompts::Argument>& arguments) {
  nlohmann::json out = nlohmann::json::array();
  for (const prompts::Argument& a : arguments) {
    nlohmann::json arg{{"name", a.name}};
    if (a.description) arg["description"] = *a.description;
    if (a.required) arg["required"] = *a.required;
    out.push_back(std::move(arg));
  }
  return out.dump();
}

std::string PromptMessagesJson(const std::vector<prompts::Message>& messages) {
  nlohmann::json out = nlohmann::json::array();
  for (const prompts::Message& m : messages) out.push_back({{"role", m.role}, {"text", m.text}});
  return out.dump();
}

bool IsStringField(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string();
}

Result<std::vector<prompts::Argument>> ParsePromptArguments(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return DataLossError("stored prompt arguments are not a JSON list");
  std::vector<prompts::Argument> out;
  for (const nlohmann::json& e : j) {
    if (!e.is_object() || !IsStringField(e, "name") ||
        (e.contains("description") && !e["description"].is_string()) ||
        (e.contains("required") && !e["required"].is_boolean())) {
      return DataLossError("a stored prompt argument is malformed");
    }
    prompts::Argument a;
    a.name = e["name"].get<std::string>();
    if (e.contains("description")) a.description = e["description"].get<std::string>();
    if (e.contains("required")) a.required = e["required"].get<bool>();
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::vector<prompts::Message>> ParsePromptMessages(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return DataLossError("stored prompt messages are not a JSON list");
  std::vector<prompts::Message> out;
  for (const nlohmann::json& e : j) {
    if (!e.is_object() || !IsStringField(e, "role") || !IsStringField(e, "text")) {
      return DataLossError("a stored prompt message is malformed");
    }
    out.push_back({e["role"].get<std::string>(), e["text"].get<std::string>()});
  }
  return out;
}

const char kPromptColumns[] = "name, title, description, arguments, messages, updated_by, updated_at";

Result<prompts::Prompt> ReadPrompt(const SqlRow& row) {
  RowReader r(row);
  prompts::Prompt p;
  p.name = r.Str();
  p.title = r.Str();
  p.description = r.Str();
  const std::string arguments = r.Str();
  const std::string messages = r.Str();
  p.updated_by = r.Str();
  p.updated_at = r.Int();
  if (!r.status().ok()) return r.status().WithContext("reading prompt");
  LLMUX_ASSIGN_OR_RETURN(p.arguments, ParsePromptArguments(arguments));
  LLMUX_ASSIGN_OR_RETURN(p.messages, ParsePromptMessages(messages));
  return p;
}

Result<ApiKey> ReadKey(const SqlRow& row) {
  RowReader r(row);
  ApiKey k;
  k.id = r.Int();
  k.prefix = r.Str();
  k.secret_hash = r.Str();
  k.owner_user_id = r.Int();
  k.name = r.Str();
  k.scopes = r.List("key scopes");
  k.allowed_models = r.List("key allowed models");
  k.expires_at = r.Int();
  k.revoked_at = r.Int();
  k.last_used_at = r.Int();
  k.created_at = r.Int();
  k.limits.requests_per_minute = r.Int();
  k.limits.tokens_per_minute = r.Int();
  k.limits.max_concurrent = r.Int();
  k.limits.token_budget = r.Int();
  k.limits.budget_period_seconds = r.Int();
  if (!r.status().ok()) return r.status().WithContext("reading api key");
  return k;
}

Result<AuditEvent> ReadAudit(const SqlRow& row) {
  RowReader r(row);
  AuditEvent e;
  e.id = r.Int();
  e.time_ms = r.Int();
  e.actor = r.Str();
  e.action = r.Str();
  e.target = r.Str();
  e.source = r.Str();
  e.outcome = r.Str();
  e.detail = r.Str();
  if (!r.status().ok()) return r.status().WithContext("reading audit event");
  return e;
}

Result<RefreshToken> ReadToken(const SqlRow& row) {
  RowReader r(row);
  RefreshToken t;
  t.id = r.Int();
  t.token_hash = r.Str();
  t.user_id = r.Int();
  t.expires_at = r.Int();
  t.revoked = r.Bool();
  t.rotated_from = r.Int();
  t.created_at = r.Int();
  t.session_generation = r.Int();
  if (!r.status().ok()) return r.status().WithContext("reading refresh token");
  return t;
}

// Query results fetched with LIMIT limit+1: the extra row only says that more remain.
template <typename T>
PageResult<T> MakePage(std::vector<T> items, int limit) {
  PageResult<T> page;
  page.has_more = static_cast<int>(items.size()) > limit;
  if (page.has_more) items.resize(limit);
  page.items = std::move(items);
  if (page.has_more) page.next_cursor = page.items.back().id;
  return page;
}

Status CheckLimit(int limit) {
  if (limit < 1 || limit > kMaxPageLimit) {
    return InvalidArgumentError("page limit must be between 1 and " +
                                std::to_string(kMaxPageLimit));
  }
  return Status::Ok();
}

Status CheckLimits(const Limits& l) {
  if (l.requests_per_minute < 0 || l.tokens_per_minute < 0 || l.max_concurrent < 0 ||
      l.token_budget < 0 || l.budget_period_seconds < 0) {
    return InvalidArgumentError("limits must not be negative (0 means unlimited)");
  }
  return Status::Ok();
}

SqlValue OptionalId(int64_t id) { return id == 0 ? SqlValue(nullptr) : SqlValue(id); }
SqlValue Str(std::string_view s) { return SqlValue(std::string(s)); }

// Replaces a connection error's message with `message` for the codes the caller names, so that
// constraint errors read in the store's terms (and never carry values).
Status Rename(const Status& st, StatusCode code, const std::string& message) {
  if (st.code() == code) return Status(code, message);
  return st;
}

class SqlStore final : public Store {
 public:
  explicit SqlStore(std::unique_ptr<SqlConnection> conn) : conn_(std::move(conn)) {}

  Result<int> SchemaVersion() override {
    std::lock_guard lock(mu_);
    return CurrentSchemaVersion(*conn_);
  }

  // ---------------------------------------------------------------- users
  Result<User> CreateUser(const User& user) override {
    if (user.name.empty()) return InvalidArgumentError("user name must not be empty");
    LLMUX_RETURN_IF_ERROR(CheckLimits(user.limits));
    User u = user;
    if (u.created_at == 0) u.created_at = NowSeconds();
    u.session_generation = 0;  // the column's default
    const Limits& l = u.limits;
    std::lock_guard lock(mu_);
    auto r = conn_->Exec(
        "INSERT INTO users(name, password_hash, roles, disabled, created_at, requests_per_minute, "
        "tokens_per_minute, max_concurrent, token_budget, budget_period_seconds) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        {u.name, u.password_hash, ToJson(u.roles), int64_t{u.disabled}, u.created_at,
         l.requests_per_minute, l.tokens_per_minute, l.max_concurrent, l.token_budget,
         l.budget_period_seconds});
    if (!r.ok()) {
      return Rename(r.status(), StatusCode::kAlreadyExists, "user '" + u.name + "' already exists");
    }
    LLMUX_ASSIGN_OR_RETURN(u.id, FirstInt(*r));
    return u;
  }

  Result<User> GetUser(int64_t id) override {
    std::lock_guard lock(mu_);
    return GetOne<User>(std::string("SELECT ") + kUserColumns + " FROM users WHERE id = $1", {id},
                        ReadUser, "user " + std::to_string(id) + " not found");
  }

  Result<User> GetUserByName(std::string_view name) override {
    std::lock_guard lock(mu_);
    return GetOne<User>(std::string("SELECT ") + kUserColumns + " FROM users WHERE name = $1",
                        {Str(name)}, ReadUser, "user '" + std::string(name) + "' not found");
  }

  Result<PageResult<User>> ListUsers(Page page) override {
    LLMUX_RETURN_IF_ERROR(CheckLimit(page.limit));
    std::lock_guard lock(mu_);
    LLMUX_ASSIGN_OR_RETURN(auto items,
                           Select<User>(*conn_,
                                        std::string("SELECT ") + kUserColumns +
                                            " FROM users WHERE id > $1 ORDER BY id LIMIT $2",
                                        {page.after_id, int64_t{page.limit} + 1}, ReadUser));
    return MakePage(std::move(items), page.limit);
  }

  Result<int64_t> CountUsers() override {
    std::lock_guard lock(mu_);
    LLMUX_ASSIGN_OR_RETURN(SqlResult res, conn_->Exec("SELECT COUNT(*) FROM users", {}));
    return FirstInt(res);
  }

  Status UpdatePasswordHash(int64_t id, std::string_view password_hash) override {
    std::lock_guard lock(mu_);
    return UpdateOne("UPDATE users SET password_hash = $2 WHERE id = $1", {id, Str(password_hash)},
                     "user " + std::to_string(id) + " not found");
  }

  Status SetUserRoles(int64_t id, const std::vector<std::string>& roles) override {
    std::lock_guard lock(mu_);
    return UpdateOne("UPDATE users SET roles = $2 WHERE id = $1", {id, ToJson(roles)},
                     "user " + std::to_string(id) + " not found");
  }

  Status SetUserDisabled(int64_t id, bool disabled) override {
    std::lock_guard lock(mu_);
    return UpdateOne("UPDATE users SET disabled = $2 WHERE id = $1", {id, int64_t{disabled}},
                     "user " + std::to_string(id) + " not found");
  }

  Status SetUserLimits(int64_t id, const Limits& l) override {
    return SetLimits("users", id, l, "user " + std::to_string(id) + " not found");
  }

  Status DeleteUser(int64_t id) override {
    std::lock_guard lock(mu_);
    return UpdateOne("DELETE FROM users WHERE id = $1", {id},
                     "user " + std::to_string(id) + " not found");
  }

  // ---------------------------------------------------------------- roles
  Status UpsertRole(const Role& role) override {
    if (role.name.empty()) return InvalidArgumentError("role name must not be empty");
    std::lock_guard lock(mu_);
    return conn_
        ->Exec(
            "INSERT INTO roles(name, permissions, builtin) VALUES ($1, $2, $3) "
            "ON CONFLICT (name) DO UPDATE SET permissions = excluded.permissions, "
            "builtin = CASE WHEN roles.builtin <> 0 THEN 1 ELSE excluded.builtin END",
            {role.name, ToJson(role.permissions), int64_t{role.builtin}})
        .status();
  }

  Result<Role> GetRole(std::string_view name) override {
    std::lock_guard lock(mu_);
    return GetOne<Role>("SELECT name, permissions, builtin FROM roles WHERE name = $1", {Str(name)},
                        ReadRole, "role '" + std::string(name) + "' not found");
  }

  Result<std::vector<Role>> ListRoles() override {
    std::lock_guard lock(mu_);
    return Select<Role>(*conn_, "SELECT name, permissions, builtin FROM roles ORDER BY name", {},
                        ReadRole);
  }

  Status DeleteRole(std::string_view name) override {
    std::lock_guard lock(mu_);
    LLMUX_ASSIGN_OR_RETURN(
        SqlResult res,
        conn_->Exec("DELETE FROM roles WHERE name = $1 AND builtin = 0", {Str(name)}));
    if (res.affected > 0) return Status::Ok();
    LLMUX_ASSIGN_OR_RETURN(SqlResult exists,
                           conn_->Exec("SELECT 1 FROM roles WHERE name = $1", {Str(name)}));
    if (!exists.rows.empty()) {
      return InvalidArgumentError("role '" + std::string(name) +
                                  "' is built in and cannot be deleted");
    }
    return NotFoundError("role '" + std::string(name) + "' not found");
  }

  // ---------------------------------------------------------------- prompts
  Status UpsertPrompt(const prompts::Prompt& p) override {
    if (p.name.empty()) return InvalidArgumentError("prompt name must not be empty");
    const int64_t now = p.updated_at != 0 ? p.updated_at : NowSeconds();
    std::lock_guard lock(mu_);
    return conn_
        ->Exec(
            "INSERT INTO prompts(name, title, description, arguments, messages, updated_by, "
            "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO UPDATE SET "
            "title = excluded.title, description = excluded.description, "
            "arguments = excluded.arguments, messages = excluded.messages, "
            "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            {p.name, p.title, p.description, PromptArgumentsJson(p.arguments),
             PromptMessagesJson(p.messages), p.updated_by, now})
        .status();
  }

  Result<prompts::Prompt> GetPrompt(std::string_view name) override {
    std::lock_guard lock(mu_);
    return GetOne<prompts::Prompt>(
        std::string("SELECT ") + kPromptColumns + " FROM prompts WHERE name = $1", {Str(name)},
        ReadPrompt, "prompt '" + std::string(name) + "' not found");
  }

  Result<std::vector<prompts::Prompt>> ListPrompts() override {
    std::lock_guard lock(mu_);
    return Select<prompts::Prompt>(
        *conn_, std::string("SELECT ") + kPromptColumns + " FROM prompts ORDER BY name", {},
        ReadPrompt);
  }

  Status DeletePrompt(std::string_view name) override {
    std::lock_guard lock(mu_);
    return UpdateOne("DELETE FROM prompts WHERE name = $1", {Str(name)},
                     "prompt '" + std::string(name) + "' not found");
  }

  // ---------------------------------------------------------------- api keys
  Result<ApiKey> CreateApiKey(const ApiKey& key) override {
    if (key.prefix.empty()) return InvalidArgumentError("api key prefix must not be empty");
    if (key.secret_hash.empty())
      return InvalidArgumentError("api key secret hash must not be empty");
    LLMUX_RETURN_IF_ERROR(CheckLimits(key.limits));
    ApiKey k = key;
    if (k.created_at == 0) k.created_at = NowSeconds();
    std::lock_guard lock(mu_);
    auto r = conn_->Exec(
        "INSERT INTO api_keys(prefix, secret_hash, owner_user_id, name, scopes, allowed_models, "
        "expires_at, revoked_at, last_used_at, created_at, requests_per_minute, "
        "tokens_per_minute, max_concurrent, token_budget, budget_period_seconds) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
        {k.prefix, k.secret_hash, OptionalId(k.owner_user_id), k.name, ToJson(k.scopes),
         ToJson(k.allowed_models), k.expires_at, k.revoked_at, k.last_used_at, k.created_at,
         k.limits.requests_per_minute, k.limits.tokens_per_minute, k.limits.max_concurrent,
         k.limits.token_budget, k.limits.budget_period_seconds});
    if (!r.ok()) {
      Status st = Rename(r.status(), StatusCode::kAlreadyExists, "api key prefix already exists");
      return Rename(st, StatusCode::kNotFound,
                    "owner user " + std::to_string(k.owner_user_id) + " not found");
    }
    LLMUX_ASSIGN_OR_RETURN(k.id, FirstInt(*r));
    return k;
  }

  Result<ApiKey> FindApiKeyByPrefix(std::string_view prefix) override {
    std::lock_guard lock(mu_);
    return GetOne<ApiKey>(std::string("SELECT ") + kKeyColumns + " FROM api_keys WHERE prefix = $1",
                          {Str(prefix)}, ReadKey, "api key not found");
  }

  Result<ApiKey> GetApiKey(int64_t id) override {
    std::lock_guard lock(mu_);
    return GetOne<ApiKey>(std::string("SELECT ") + kKeyColumns + " FROM api_keys WHERE id = $1",
                          {id}, ReadKey, "api key " + std::to_string(id) + " not found");
  }

  Result<PageResult<ApiKey>> ListApiKeys(Page page, std::optional<int64_t> owner) override {
    LLMUX_RETURN_IF_ERROR(CheckLimit(page.limit));
    std::string sql = std::string("SELECT ") + kKeyColumns + " FROM api_keys WHERE id > $1";
    std::vector<SqlValue> params = {page.after_id, int64_t{page.limit} + 1};
    if (owner && *owner == 0) {
      sql += " AND owner_user_id IS NULL";
    } else if (owner) {
      sql += " AND owner_user_id = $3";
      params.push_back(*owner);
    }
    sql += " ORDER BY id LIMIT $2";
    std::lock_guard lock(mu_);
    LLMUX_ASSIGN_OR_RETURN(auto items, Select<ApiKey>(*conn_, sql, params, ReadKey));
    return MakePage(std::move(items), page.limit);
  }

  Result<int64_t> CountApiKeys() override {
    std::lock_guard lock(mu_);
    LLMUX_ASSIGN_OR_RETURN(SqlResult res, conn_->Exec("SELECT COUNT(*) FROM api_keys", {}));
    return FirstInt(res);
  }

  Status RevokeApiKey(int64_t id, int64_t revoked_at) override {
    if (revoked_at <= 0) return InvalidArgumentError("revocation time must be positive");
    std::lock_guard lock(mu_);
    // Keeps the first revocation time; the WHERE matches revoked keys too, so "not found"
    // means exactly that.
    return UpdateOne(
        "UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN $2 ELSE revoked_at END "
        "WHERE id = $1",
        {id, revoked_at}, "api key " + std::to_string(id) + " not found");
  }

  Status TouchApiKey(int64_t id, int64_t last_used_at) override {
    std::lock_guard lock(mu_);
    return UpdateOne("UPDATE api_keys SET last_used_at = $2 WHERE id = $1", {id, last_used_at},
                     "api key " + std::to_string(id) + " not found");
  }

  Status SetApiKeyLimits(int64_t id, const Limits& l) override {
    return SetLimits("api_keys", id, l, "api key " + std::to_string(id) + " not found");
  }

  // Users and API keys carry the same five limit columns.
  Status SetLimits(const std::string& table, int64_t id, const Limits& l, std::string not_found) {
    LLMUX_RETURN_IF_ERROR(CheckLimits(l));
    std::lock_guard lock(mu_);
    return UpdateOne(
        "UPDATE " + table + " SET requests_per_minute = $2, tokens_per_minute = $3, "
        "max_concurrent = $4, token_budget = $5, budget_period_seconds = $6 WHERE id = $1",
        {id, l.requests_per_minute, l.tokens_per_minute, l.max_concurrent, l.token_budget,
         l.budget_period_seconds},
        std::move(not_found));
  }

  Status DeleteApiKey(int64_t id) override {
    std::lock_guard lock(mu_);
    return UpdateOne("DELETE FROM api_keys WHERE id = $1", {id},
                     "api key " + std::to_string(id) + " not found");
  }

  // ---------------------------------------------------------------- usage
  Result<int64_t> AddUsage(std::string_view subject, int64_t period_start,
                           int64_t tokens) override {
    if (subject.empty()) return InvalidArgumentError("usage subject must not be empty");
    if (tokens < 0) return InvalidArgumentError("usage tokens must not be negative");
    std::lock_guard lock(mu_);
    // One statement, so the increment is atomic in the database as well, not just in-process.
    LLMUX_ASSIGN_OR_RETURN(
        SqlResult res, conn_->Exec("INSERT INTO usage_counters(subject, period_start, tokens) "
                                   "VALUES ($1, $2, $3) ON CONFLICT (subject, period_start) "
                                   "DO UPDATE SET tokens = usage_counters.tokens + excluded.tokens "
                                   "RETURNING tokens",
                                   {Str(subject), period_start, tokens}));
    return FirstInt(res);
  }

  Result<int64_t> GetUsage(std::string_view subject, int64_t period_start) override {
    std::lock_guard lock(mu_);
    LLMUX_ASSIGN_OR_RETURN(
        SqlResult res,
        conn_->Exec("SELECT tokens FROM usage_counters WHERE subject = $1 AND period_start = $2",
                    {Str(subject), period_start}));
    if (res.rows.empty()) return int64_t{0};
    return FirstInt(res);
  }

  Result<int64_t> DeleteUsageBefore(int64_t period_start) override {
    std::lock_guard lock(mu_);
    LLMUX_ASSIGN_OR_RETURN(
        SqlResult res,
        conn_->Exec("DELETE FROM usage_counters WHERE period_start < $1", {period_start}));
    return res.affected;
  }

  // ---------------------------------------------------------------- audit
  Result<int64_t> Append(const AuditEvent& e) override {
    const int64_t time_ms = e.time_ms == 0 ? NowMillis() : e.time_ms;
    std::lock_guard lock(mu_);
    LLMUX_ASSIGN_OR_RETURN(
        SqlResult res,
        conn_->Exec("INSERT INTO audit_log(time_ms, actor, action, target, source, outcome, "
                    "detail) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    {time_ms, e.actor, e.action, e.target, e.source, e.outcome, e.detail}));
    return FirstInt(res);
  }

  Result<audit::EventList> List(AuditPage page) override {
    LLMUX_RETURN_IF_ERROR(CheckLimit(page.limit));
    const int64_t before =
        page.before_id <= 0 ? std::numeric_limits<int64_t>::max() : page.before_id;
    std::lock_guard lock(mu_);
    LLMUX_ASSIGN_OR_RETURN(
        auto items,
        Select<AuditEvent>(*conn_,
                           std::string("SELECT ") + kAuditColumns +
                               " FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2",
                           {before, int64_t{page.limit} + 1}, ReadAudit));
    PageResult<AuditEvent> rows = MakePage(std::move(items), page.limit);
    return audit::EventList{std::move(rows.items), rows.has_more, rows.next_cursor};
  }

  // ---------------------------------------------------------------- request log
  Status AppendRequests(std::span<const requestlog::RequestRecord> records) override {
    std::lock_guard lock(mu_);
    return internal::AppendRequests(*conn_, records);
  }

  Result<requestlog::RequestList> ListRequests(const requestlog::RequestFilter& filter,
                                               requestlog::RequestPage page) override {
    std::lock_guard lock(mu_);
    return internal::ListRequests(*conn_, filter, page);
  }

  Result<std::vector<requestlog::RequestRecord>> ScanRequests(
      const requestlog::RequestFilter& filter, int64_t max_rows) override {
    std::lock_guard lock(mu_);
    return internal::ScanRequests(*conn_, filter, max_rows);
  }

  Result<int64_t> PruneRequests(int64_t before_ms, int64_t keep_rows) override {
    std::lock_guard lock(mu_);
    return internal::PruneRequests(*conn_, before_ms, keep_rows);
  }

  // ---------------------------------------------------------------- model registry
  Result<std::vector<registry::Model>> ListRegisteredModels() override {
    std::lock_guard lock(mu_);
    return internal::ListRegisteredModels(*conn_);
  }
  Result<registry::Model> GetRegisteredModel(std::string_view name) override {
    std::lock_guard lock(mu_);
    return internal::GetRegisteredModel(*conn_, name);
  }
  Result<std::vector<registry::Version>> ListModelVersions(std::string_view model) override {
    std::lock_guard lock(mu_);
    return internal::ListModelVersions(*conn_, model);
  }
  Result<std::vector<registry::Tag>> ListModelTags(std::string_view model) override {
    std::lock_guard lock(mu_);
    return internal::ListModelTags(*conn_, model);
  }
  Result<registry::Change> AddModelVersion(const registry::Version& version,
                                           registry::Change change) override {
    std::lock_guard lock(mu_);
    return internal::AddModelVersion(*conn_, version, std::move(change));
  }
  Result<registry::Change> SetModelTag(std::string_view model, std::string_view tag,
                                       std::string_view digest, registry::Change change) override {
    std::lock_guard lock(mu_);
    return internal::SetModelTag(*conn_, model, tag, digest, std::move(change));
  }
  Result<registry::Change> RemoveModelTag(std::string_view model, std::string_view tag,
                                          registry::Change change) override {
    std::lock_guard lock(mu_);
    return internal::RemoveModelTag(*conn_, model, tag, std::move(change));
  }
  Result<registry::Change> SetModelParameters(std::string_view model,
                                              const registry::ModelParameters& parameters,
                                              registry::Change change) override {
    std::lock_guard lock(mu_);
    return internal::SetModelParameters(*conn_, model, parameters, std::move(change));
  }
  Result<registry::Change> RemoveModelVersion(std::string_view model, std::string_view digest,
                                              registry::Change change) override {
    std::lock_guard lock(mu_);
    return internal::RemoveModelVersion(*conn_, model, digest, std::move(change));
  }
  Result<registry::Change> RemoveRegisteredModel(std::string_view model,
                                                 registry::Change change) override {
    std::lock_guard lock(mu_);
    return internal::RemoveRegisteredModel(*conn_, model, std::move(change));
  }
  Result<registry::ChangeList> ListModelChanges(const registry::ChangeQuery& query) override {
    std::lock_guard lock(mu_);
    return internal::ListModelChanges(*conn_, query);
  }
  Result<registry::Change> GetModelChange(int64_t id) override {
    std::lock_guard lock(mu_);
    return internal::GetModelChange(*conn_, id);
  }

  // ---------------------------------------------------------------- refresh tokens
  Result<RefreshToken> CreateRefreshToken(const RefreshToken& token) override {
    std::lock_guard lock(mu_);
    return InsertToken(token);
  }

  Result<RefreshToken> FindRefreshToken(std::string_view token_hash) override {
    std::lock_guard lock(mu_);
    return GetOne<RefreshToken>(
        std::string("SELECT ") + kTokenColumns + " FROM refresh_tokens WHERE token_hash = $1",
        {Str(token_hash)}, ReadToken, "refresh token not found");
  }

  Status RevokeRefreshToken(int64_t id) override {
    std::lock_guard lock(mu_);
    return UpdateOne("UPDATE refresh_tokens SET revoked = 1 WHERE id = $1", {id},
                     "refresh token " + std::to_string(id) + " not found");
  }

  Result<RefreshToken> RotateRefreshToken(int64_t old_id, const RefreshToken& next) override {
    std::lock_guard lock(mu_);
    LLMUX_RETURN_IF_ERROR(conn_->Begin());
    auto result = [&]() -> Result<RefreshToken> {
      LLMUX_ASSIGN_OR_RETURN(
          SqlResult res,
          conn_->Exec("UPDATE refresh_tokens SET revoked = 1 WHERE id = $1 AND revoked = 0",
                      {old_id}));
      if (res.affected == 0) {
        LLMUX_ASSIGN_OR_RETURN(SqlResult exists,
                               conn_->Exec("SELECT 1 FROM refresh_tokens WHERE id = $1", {old_id}));
        if (exists.rows.empty()) {
          return NotFoundError("refresh token " + std::to_string(old_id) + " not found");
        }
        return InvalidArgumentError("refresh token " + std::to_string(old_id) +
                                    " was already used or revoked");
      }
      RefreshToken t = next;
      t.rotated_from = old_id;
      t.revoked = false;
      return InsertToken(t);
    }();
    if (!result.ok()) {
      (void)conn_->Rollback();
      return result;
    }
    LLMUX_RETURN_IF_ERROR(conn_->Commit());
    return result;
  }

  Result<int64_t> EndUserSessions(int64_t user_id) override {
    std::lock_guard lock(mu_);
    LLMUX_RETURN_IF_ERROR(conn_->Begin());
    auto result = [&]() -> Result<int64_t> {
      LLMUX_ASSIGN_OR_RETURN(
          SqlResult res, conn_->Exec("UPDATE users SET session_generation = session_generation + 1 "
                                     "WHERE id = $1 RETURNING session_generation",
                                     {user_id}));
      if (res.rows.empty()) return NotFoundError("user " + std::to_string(user_id) + " not found");
      LLMUX_ASSIGN_OR_RETURN(int64_t generation, FirstInt(res));
      LLMUX_RETURN_IF_ERROR(
          conn_
              ->Exec("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1 AND revoked = 0",
                     {user_id})
              .status());
      return generation;
    }();
    if (!result.ok()) {
      (void)conn_->Rollback();
      return result;
    }
    LLMUX_RETURN_IF_ERROR(conn_->Commit());
    return result;
  }

 private:
  static Result<int64_t> FirstInt(const SqlResult& res) {
    if (res.rows.empty() || res.rows[0].empty() || !res.rows[0][0]) {
      return InternalError("query returned no value");
    }
    return ToInt(res.rows[0][0]);
  }

  template <typename T, typename ReadFn>
  Result<T> GetOne(const std::string& sql, const std::vector<SqlValue>& params, ReadFn read,
                   const std::string& not_found) {
    LLMUX_ASSIGN_OR_RETURN(SqlResult res, conn_->Exec(sql, params));
    if (res.rows.empty()) return NotFoundError(not_found);
    return read(res.rows[0]);
  }

  Status UpdateOne(const std::string& sql, const std::vector<SqlValue>& params,
                   const std::string& not_found) {
    LLMUX_ASSIGN_OR_RETURN(SqlResult res, conn_->Exec(sql, params));
    if (res.affected == 0) return NotFoundError(not_found);
    return Status::Ok();
  }

  // Caller holds mu_.
  Result<RefreshToken> InsertToken(const RefreshToken& token) {
    if (token.token_hash.empty())
      return InvalidArgumentError("refresh token hash must not be empty");
    RefreshToken t = token;
    if (t.created_at == 0) t.created_at = NowSeconds();
    auto r = conn_->Exec(
        "INSERT INTO refresh_tokens(token_hash, user_id, expires_at, revoked, rotated_from, "
        "created_at, session_generation) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        {t.token_hash, t.user_id, t.expires_at, int64_t{t.revoked}, OptionalId(t.rotated_from),
         t.created_at, t.session_generation});
    if (!r.ok()) {
      Status st = Rename(r.status(), StatusCode::kAlreadyExists, "refresh token already exists");
      return Rename(st, StatusCode::kNotFound, "user " + std::to_string(t.user_id) + " not found");
    }
    LLMUX_ASSIGN_OR_RETURN(t.id, FirstInt(*r));
    return t;
  }

  std::mutex mu_;  // one connection: every operation, and every transaction, holds it
  std::unique_ptr<SqlConnection> conn_;
};

}  // namespace

Result<std::unique_ptr<Store>> MakeSqlStore(std::unique_ptr<SqlConnection> conn) {
  LLMUX_RETURN_IF_ERROR(ApplyMigrations(*conn));
  return std::unique_ptr<Store>(std::make_unique<SqlStore>(std::move(conn)));
}

}  // namespace llmux::store::internal
