// JSON shapes of the admin API's records: the auth, audit and prompt services' own types.
// Secrets never appear: those types hold no hashes, and a new key's secret is only in the
// creation reply.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "auth/auth_service.h"
#include "base/status.h"
#include "services/audit/audit_log.h"
#include "services/prompts/prompt.h"

namespace llmux::gateway {

nlohmann::json UserJson(const auth::User& user);
nlohmann::json KeyJson(const auth::ApiKey& key);
nlohmann::json RoleJson(const auth::Role& role);
nlohmann::json AuditJson(const audit::Event& event);
nlohmann::json LimitsJson(const auth::Limits& limits);

// Parsers of request bodies; unknown fields are refused so that typos do not pass silently.
Result<auth::NewUser> NewUserFromJson(const nlohmann::json& body);
Result<auth::UserUpdate> UserUpdateFromJson(const nlohmann::json& body);
Result<auth::NewKey> NewKeyFromJson(const nlohmann::json& body);
Result<auth::Limits> LimitsFromJson(const nlohmann::json& body);
Result<auth::Role> RoleFromJson(const nlohmann::json& body);
// The shape of a prompt template; PromptService checks its rules (name, roles, placeholders).
Result<prompts::Prompt> PromptFromJson(const nlohmann::json& body);
nlohmann::json PromptJson(const prompts::Prompt& prompt);

// The raw value of `name` in a query string ("a=1&b=2"); values here are numbers and names,
// so only '+' and %XX are decoded.
std::optional<std::string> QueryValue(std::string_view query, std::string_view name);
// InvalidArgument naming the query parameter.
Status BadQueryParam(const std::string& name, const std::string& why);
// The integer value of `name` within [min, max]; unset when absent.
Result<std::optional<int64_t>> IntQueryParam(std::string_view query, const std::string& name,
                                             int64_t min, int64_t max);
// Refuses parameters outside `known`, so that a typo does not silently widen the answer.
Status OnlyKnownQueryParams(std::string_view query, std::initializer_list<std::string_view> known);

}  // namespace llmux::gateway
