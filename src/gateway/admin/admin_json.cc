#include "gateway/admin/admin_json.h"

#include <charconv>
#include <initializer_list>
#include <string_view>

namespace llmux::gateway {

using Json = nlohmann::json;

namespace {

Status OnlyFields(const Json& body, std::initializer_list<std::string_view> allowed) {
  if (!body.is_object()) return InvalidArgumentError("the request body must be a JSON object");
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool known = false;
    for (std::string_view a : allowed) known = known || it.key() == a;
    if (!known) return InvalidArgumentError("unknown field '" + it.key() + "'").WithField(it.key());
  }
  return Status::Ok();
}

Result<std::string> StringField(const Json& body, const char* name) {
  const Json& v = body.at(name);
  if (!v.is_string()) return InvalidArgumentError(std::string(name) + " must be a string").WithField(name);
  return v.get<std::string>();
}

Result<std::vector<std::string>> StringList(const Json& body, const char* name) {
  const Json& v = body.at(name);
  if (!v.is_array()) return InvalidArgumentError(std::string(name) + " must be an array of strings").WithField(name);
  std::vector<std::string> out;
  for (const Json& item : v) {
    if (!item.is_string()) {
      return InvalidArgumentError(std::string(name) + " must be an array of strings").WithField(name);
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<int64_t> IntField(const Json& body, const char* name) {
  const Json& v = body.at(name);
  if (!v.is_number_integer()) return InvalidArgumentError(std::string(name) + " must be an integer").WithField(name);
  return v.get<int64_t>();
}

}  // namespace

Json LimitsJson(const auth::Limits& l) {
  return {{"requests_per_minute", l.requests_per_minute},
          {"tokens_per_minute", l.tokens_per_minute},
          {"max_concurrent", l.max_concurrent},
          {"token_budget", l.token_budget},
          {"budget_period_seconds", l.budget_period_seconds}};
}

Json UserJson(const auth::User& u) {
  return {{"id", u.id}, {"object", "user"}, {"name", u.name}, {"roles", u.roles},
          {"disabled", u.disabled}, {"created_at", u.created_at}, {"limits", LimitsJson(u.limits)}};
}

Json KeyJson(const auth::ApiKey& k) {
  return {{"id", k.id},
          {"object", "api_key"},
          {"prefix", "llmux_" + k.prefix},
          {"owner_user_id", k.owner_user_id},
          {"name", k.name},
          {"scopes", k.scopes},
          {"allowed_models", k.allowed_models},
          {"expires_at", k.expires_at},
          {"revoked_at", k.revoked_at},
          {"last_used_at", k.last_used_at},
          {"created_at", k.created_at},
          {"limits", LimitsJson(k.limits)}};
}

Json RoleJson(const auth::Role& r) {
  return {{"name", r.name}, {"object", "role"}, {"permissions", r.permissions}, {"builtin", r.builtin}};
}

Json AuditJson(const audit::Event& e) {
  return {{"id", e.id},         {"time_ms", e.time_ms}, {"actor", e.actor},
          {"action", e.action}, {"target", e.target},   {"source", e.source},
          {"outcome", e.outcome}, {"detail", e.detail}};
}

Result<auth::Limits> LimitsFromJson(const Json& body) {
  LLMUX_RETURN_IF_ERROR(OnlyFields(body, {"requests_per_minute", "tokens_per_minute", "max_concurrent",
                                          "token_budget", "budget_period_seconds"}));
  auth::Limits l;
  if (body.contains("requests_per_minute")) {
    LLMUX_ASSIGN_OR_RETURN(l.requests_per_minute, IntField(body, "requests_per_minute"));
  }
  if (body.contains("tokens_per_minute")) {
    LLMUX_ASSIGN_OR_RETURN(l.tokens_per_minute, IntField(body, "tokens_per_minute"));
  }
  if (body.contains("max_concurrent")) {
    LLMUX_ASSIGN_OR_RETURN(l.max_concurrent, IntField(body, "max_concurrent"));
  }
  if (body.contains("token_budget")) {
    LLMUX_ASSIGN_OR_RETURN(l.token_budget, IntField(body, "token_budget"));
  }
  if (body.contains("budget_period_seconds")) {
    LLMUX_ASSIGN_OR_RETURN(l.budget_period_seconds, IntField(body, "budget_period_seconds"));
  }
  return l;
}

Result<auth::NewUser> NewUserFromJson(const Json& body) {
  LLMUX_RETURN_IF_ERROR(OnlyFields(body, {"name", "password", "roles", "limits"}));
  if (!body.contains("name")) return InvalidArgumentError("name is required").WithField("name");
  auth::NewUser u;
  LLMUX_ASSIGN_OR_RETURN(u.name, StringField(body, "name"));
  if (body.contains("password")) {
    LLMUX_ASSIGN_OR_RETURN(u.password, StringField(body, "password"));
  }
  if (body.contains("roles")) {
    LLMUX_ASSIGN_OR_RETURN(u.roles, StringList(body, "roles"));
  }
  if (body.contains("limits")) {
    LLMUX_ASSIGN_OR_RETURN(u.limits, LimitsFromJson(body["limits"]));
  }
  return u;
}

Result<auth::UserUpdate> UserUpdateFromJson(const Json& body) {
  LLMUX_RETURN_IF_ERROR(OnlyFields(body, {"password", "roles", "disabled", "limits"}));
  auth::UserUpdate u;
  if (body.contains("password")) {
    LLMUX_ASSIGN_OR_RETURN(u.password, StringField(body, "password"));
  }
  if (body.contains("roles")) {
    LLMUX_ASSIGN_OR_RETURN(u.roles, StringList(body, "roles"));
  }
  if (body.contains("disabled")) {
    if (!body["disabled"].is_boolean()) return InvalidArgumentError("disabled must be a boolean").WithField("disabled");
    u.disabled = body["disabled"].get<bool>();
  }
  if (body.contains("limits")) {
    LLMUX_ASSIGN_OR_RETURN(u.limits, LimitsFromJson(body["limits"]));
  }
  return u;
}

Result<auth::NewKey> NewKeyFromJson(const Json& body) {
  LLMUX_RETURN_IF_ERROR(
      OnlyFields(body, {"owner_user_id", "name", "scopes", "allowed_models", "expires_at", "limits"}));
  auth::NewKey k;
  if (body.contains("owner_user_id")) {
    LLMUX_ASSIGN_OR_RETURN(k.owner_user_id, IntField(body, "owner_user_id"));
  }
  if (body.contains("name")) {
    LLMUX_ASSIGN_OR_RETURN(k.name, StringField(body, "name"));
  }
  if (body.contains("scopes")) {
    LLMUX_ASSIGN_OR_RETURN(k.scopes, StringList(body, "scopes"));
  }
  if (body.contains("allowed_models")) {
    LLMUX_ASSIGN_OR_RETURN(k.allowed_models, StringList(body, "allowed_models"));
  }
  if (body.contains("expires_at")) {
    LLMUX_ASSIGN_OR_RETURN(k.expires_at, IntField(body, "expires_at"));
  }
  if (body.contains("limits")) {
    LLMUX_ASSIGN_OR_RETURN(k.limits, LimitsFromJson(body["limits"]));
  }
  return k;
}

Result<auth::Role> RoleFromJson(const Json& body) {
  LLMUX_RETURN_IF_ERROR(OnlyFields(body, {"name", "permissions"}));
  if (!body.contains("name")) return InvalidArgumentError("name is required").WithField("name");
  auth::Role r;
  LLMUX_ASSIGN_OR_RETURN(r.name, StringField(body, "name"));
  if (body.contains("permissions")) {
    LLMUX_ASSIGN_OR_RETURN(r.permissions, StringList(body, "permissions"));
  }
  return r;
}

// Prompt templates: {name, title?, description?, arguments?: [{name, description?, required?}],
// messages: [{role, text}]}. Only the shape is checked here; PromptService checks the rules.
Result<prompts::Prompt> PromptFromJson(const Json& body) {
  LLMUX_RETURN_IF_ERROR(OnlyFields(body, {"name", "title", "description", "arguments", "messages"}));
  prompts::Prompt p;
  if (!body.contains("name")) return InvalidArgumentError("name is required").WithField("name");
  LLMUX_ASSIGN_OR_RETURN(p.name, StringField(body, "name"));
  if (body.contains("title")) {
    LLMUX_ASSIGN_OR_RETURN(p.title, StringField(body, "title"));
  }
  if (body.contains("description")) {
    LLMUX_ASSIGN_OR_RETURN(p.description, StringField(body, "description"));
  }
  Json arguments = body.value("arguments", Json::array());
  if (!arguments.is_array()) return InvalidArgumentError("arguments must be an array").WithField("arguments");
  for (const Json& arg : arguments) {
    if (!arg.is_object() || !arg.value("name", Json()).is_string() ||
        (arg.contains("description") && !arg["description"].is_string()) ||
        (arg.contains("required") && !arg["required"].is_boolean())) {
      return InvalidArgumentError("each argument is {name, description?, required?}").WithField("arguments");
    }
    for (const auto& [key, value] : arg.items()) {
      if (key != "name" && key != "description" && key != "required") {
        return InvalidArgumentError("unknown argument field " + key).WithField("arguments");
      }
    }
    prompts::Argument a;
    a.name = arg["name"].get<std::string>();
    if (arg.contains("description")) a.description = arg["description"].get<std::string>();
    if (arg.contains("required")) a.required = arg["required"].get<bool>();
    p.arguments.push_back(std::move(a));
  }
  if (!body.contains("messages") || !body["messages"].is_array()) {
    return InvalidArgumentError("messages must be a non-empty array of {role, text}").WithField("messages");
  }
  for (const Json& m : body["messages"]) {
    if (!m.is_object() || m.size() != 2 || !m.value("role", Json()).is_string() ||
        !m.value("text", Json()).is_string()) {
      return InvalidArgumentError("each message is {role: user|assistant, text}").WithField("messages");
    }
    p.messages.push_back({m["role"].get<std::string>(), m["text"].get<std::string>()});
  }
  return p;
}

namespace {

Json PromptArgumentsJson(const std::vector<prompts::Argument>& arguments) {
  Json out = Json::array();
  for (const prompts::Argument& a : arguments) {
    Json arg{{"name", a.name}};
    if (a.description) arg["description"] = *a.description;
    if (a.required) arg["required"] = *a.required;
    out.push_back(std::move(arg));
  }
  return out;
}

}  // namespace

Json PromptJson(const prompts::Prompt& p) {
  Json messages = Json::array();
  for (const prompts::Message& m : p.messages) messages.push_back({{"role", m.role}, {"text", m.text}});
  return Json{{"object", "prompt"},
              {"name", p.name},
              {"title", p.title},
              {"description", p.description},
              {"arguments", PromptArgumentsJson(p.arguments)},
              {"messages", std::move(messages)},
              {"updated_by", p.updated_by},
              {"updated_at", p.updated_at}};
}

std::optional<std::string> QueryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        out += ' ';
      } else if (raw[i] == '%' && i + 2 < raw.size()) {
        int v = 0;
        auto [p, ec] = std::from_chars(raw.data() + i + 1, raw.data() + i + 3, v, 16);
        if (ec != std::errc() || p != raw.data() + i + 3) return std::nullopt;
        out += static_cast<char>(v);
        i += 2;
      } else {
        out += raw[i];
      }
    }
    return out;
  }
  return std::nullopt;
}

Status BadQueryParam(const std::string& name, const std::string& why) {
  return InvalidArgumentError("query parameter " + name + " " + why).WithField(name);
}

Result<std::optional<int64_t>> IntQueryParam(std::string_view query, const std::string& name,
                                             int64_t min, int64_t max) {
  auto raw = QueryValue(query, name);
  if (!raw) return std::optional<int64_t>();
  int64_t v = 0;
  auto [p, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), v);
  if (ec != std::errc() || p != raw->data() + raw->size() || v < min || v > max) {
    return BadQueryParam(
        name, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return std::optional<int64_t>(v);
}

Status OnlyKnownQueryParams(std::string_view query, std::initializer_list<std::string_view> known) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::string_view name = pair.substr(0, pair.find('='));
    bool ok = false;
    for (std::string_view k : known) ok = ok || k == name;
    if (!ok) {
      return InvalidArgumentError("unknown query parameter '" + std::string(name.substr(0, 64)) +
                                  "'");
    }
  }
  return Status::Ok();
}

}  // namespace llmux::gateway
