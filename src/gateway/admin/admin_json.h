// JSON shapes of the admin API's records. Secrets never appear: the store's hashes are not
// written, and a new key's secret only in the creation reply.
#pragma once

#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "auth/auth_service.h"
#include "base/status.h"
#include "services/audit/audit_log.h"
#include "services/prompts/prompt.h"
#include "store/store.h"

namespace llmux::gateway {

nlohmann::json UserJson(const store::User& user);
nlohmann::json KeyJson(const store::ApiKey& key);
nlohmann::json RoleJson(const store::Role& role);
nlohmann::json AuditJson(const audit::Event& event);
nlohmann::json LimitsJson(const store::Limits& limits);

// Parsers of request bodies; unknown fields are refused so that typos do not pass silently.
Result<auth::NewUser> NewUserFromJson(const nlohmann::json& body);
Result<auth::UserUpdate> UserUpdateFromJson(const nlohmann::json& body);
Result<auth::NewKey> NewKeyFromJson(const nlohmann::json& body);
Result<store::Limits> LimitsFromJson(const nlohmann::json& body);
Result<store::Role> RoleFromJson(const nlohmann::json& body);
// The shape of a prompt template; PromptService checks its rules (name, roles, placeholders).
Result<prompts::Prompt> PromptFromJson(const nlohmann::json& body);
nlohmann::json PromptJson(const prompts::Prompt& prompt);

// The raw value of `name` in a query string ("a=1&b=2"); values here are numbers and names,
// so only '+' and %XX are decoded.
std::optional<std::string> QueryValue(std::string_view query, std::string_view name);

}  // namespace llmux::gateway
