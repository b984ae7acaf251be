// The auth service's own records, as its callers (the admin API, gRPC llmux.v1.Auth, the CLI)
// see them. A user carries no password hash and a key no secret hash: what the store keeps
// beside them never leaves LocalAuthService. Limits and Role are plain values that the store
// keeps as they are (store/store.h uses these types).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmux::auth {

// 0 means unlimited for every field.
struct Limits {
  int64_t requests_per_minute = 0;
  int64_t tokens_per_minute = 0;
  int64_t max_concurrent = 0;
  int64_t token_budget = 0;           // tokens per budget period
  int64_t budget_period_seconds = 0;  // length of the budget period
  bool operator==(const Limits&) const = default;
};

struct Role {
  std::string name;
  std::vector<std::string> permissions;  // "models:use:qwen*", "keys:manage", ...
  bool builtin = false;                  // built-in roles cannot be changed or deleted
};

struct User {
  int64_t id = 0;
  std::string name;
  std::vector<std::string> roles;
  bool disabled = false;
  int64_t created_at = 0;  // unix seconds
  Limits limits;           // for all of the user's calls together, whichever key they use
};

// An API key without its secret: what a listing shows.
struct ApiKey {
  int64_t id = 0;
  std::string prefix;         // the public lookup id (without "llmux_")
  int64_t owner_user_id = 0;  // 0: a system key whose permissions are its scopes
  std::string name;
  std::vector<std::string> scopes;
  std::vector<std::string> allowed_models;  // globs; empty: whatever the owner may use
  int64_t expires_at = 0;                   // unix seconds; 0: never
  int64_t revoked_at = 0;                   // unix seconds; 0: not revoked
  int64_t last_used_at = 0;                 // unix seconds; 0: never used
  int64_t created_at = 0;                   // unix seconds
  Limits limits;
};

// Keyset pagination: records with id > after_id, by id ascending, at most `limit` (1..1000).
struct Page {
  int64_t after_id = 0;
  int limit = 50;
};

template <typename T>
struct PageResult {
  std::vector<T> items;
  bool has_more = false;
  int64_t next_cursor = 0;  // when has_more: the next Page's after_id; else 0
};

}  // namespace llmux::auth
