// What the auth service needs of a store: its rows (with the hashes, which never leave
// LocalAuthService), and the usage counters of token budgets (RateLimiter). Declared here, by
// the service; src/store/ implements both on SQLite and PostgreSQL.
//
// Secrets never reach the store in clear: password_hash, secret_hash and token_hash are opaque
// strings produced here, and no store error message repeats them.
//
// Errors: kNotFound (no such row), kAlreadyExists (a unique name/prefix/hash is taken),
// kInvalidArgument (malformed input, or an operation the data forbids such as deleting a built-in
// role), kUnavailable (database unreachable or busy), kInternal (other database failures),
// kDataLoss (a stored row cannot be decoded). Every method is thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth_types.h"
#include "base/status.h"

namespace llmux::auth {

struct StoredUser {
  int64_t id = 0;  // assigned by the store
  std::string name;
  std::string password_hash;  // opaque (Argon2id encoded string); may be empty (no password login)
  std::vector<std::string> roles;
  bool disabled = false;
  int64_t created_at = 0;  // unix seconds; 0 at creation = now
  Limits limits;           // for all of the user's calls together, whichever key they use
  // Raised each time all of the user's login sessions end (EndUserSessions). Access and
  // refresh tokens carry the generation they were issued under and are good for no other.
  int64_t session_generation = 0;
};

struct StoredKey {
  int64_t id = 0;             // assigned by the store
  std::string prefix;         // short public lookup id, unique
  std::string secret_hash;    // opaque hash of the secret part
  int64_t owner_user_id = 0;  // 0 = no owner (system key, e.g. the bootstrap admin key)
  std::string name;
  std::vector<std::string> scopes;
  std::vector<std::string> allowed_models;  // globs; empty = whatever the owner may use
  int64_t expires_at = 0;                   // unix seconds; 0 = never
  int64_t revoked_at = 0;                   // unix seconds; 0 = not revoked
  int64_t last_used_at = 0;                 // unix seconds; 0 = never used
  int64_t created_at = 0;                   // unix seconds; 0 at creation = now
  Limits limits;
};

struct StoredRefreshToken {
  int64_t id = 0;          // assigned by the store
  std::string token_hash;  // opaque hash of the token handed to the client, unique
  int64_t user_id = 0;
  int64_t expires_at = 0;  // unix seconds
  bool revoked = false;
  int64_t rotated_from = 0;        // id of the token this one replaced; 0 = issued at login
  int64_t created_at = 0;          // unix seconds; 0 at creation = now
  int64_t session_generation = 0;  // the user's session_generation when it was issued
};

class AuthStore {
 public:
  virtual ~AuthStore() = default;

  // --- users ---
  // Returns the stored user (id and created_at filled in). kAlreadyExists if the name is taken.
  virtual Result<StoredUser> CreateUser(const StoredUser& user) = 0;
  virtual Result<StoredUser> GetUser(int64_t id) = 0;
  virtual Result<StoredUser> GetUserByName(std::string_view name) = 0;
  virtual Result<PageResult<StoredUser>> ListUsers(Page page) = 0;
  virtual Result<int64_t> CountUsers() = 0;
  virtual Status UpdatePasswordHash(int64_t id, std::string_view password_hash) = 0;
  virtual Status SetUserRoles(int64_t id, const std::vector<std::string>& roles) = 0;
  virtual Status SetUserDisabled(int64_t id, bool disabled) = 0;
  virtual Status SetUserLimits(int64_t id, const Limits& limits) = 0;
  // Also deletes the user's API keys and refresh tokens.
  virtual Status DeleteUser(int64_t id) = 0;

  // --- roles (few; listed whole, ordered by name) ---
  // Creates or replaces the permissions. `builtin` is sticky: once built in, always built in.
  virtual Status UpsertRole(const Role& role) = 0;
  virtual Result<Role> GetRole(std::string_view name) = 0;
  virtual Result<std::vector<Role>> ListRoles() = 0;
  // kInvalidArgument for a built-in role.
  virtual Status DeleteRole(std::string_view name) = 0;

  // --- API keys ---
  // kAlreadyExists if the prefix is taken; kNotFound if owner_user_id names no user.
  virtual Result<StoredKey> CreateApiKey(const StoredKey& key) = 0;
  virtual Result<StoredKey> FindApiKeyByPrefix(std::string_view prefix) = 0;
  virtual Result<StoredKey> GetApiKey(int64_t id) = 0;
  // owner: nullopt = all keys, 0 = keys without owner, n = keys of user n.
  virtual Result<PageResult<StoredKey>> ListApiKeys(Page page, std::optional<int64_t> owner) = 0;
  virtual Result<int64_t> CountApiKeys() = 0;
  // Sets revoked_at once; revoking an already revoked key keeps the first time and is OK.
  virtual Status RevokeApiKey(int64_t id, int64_t revoked_at) = 0;
  virtual Status TouchApiKey(int64_t id, int64_t last_used_at) = 0;
  virtual Status SetApiKeyLimits(int64_t id, const Limits& limits) = 0;
  virtual Status DeleteApiKey(int64_t id) = 0;

  // --- refresh tokens ---
  // kAlreadyExists if the hash is taken; kNotFound if the user does not exist.
  virtual Result<StoredRefreshToken> CreateRefreshToken(const StoredRefreshToken& token) = 0;
  virtual Result<StoredRefreshToken> FindRefreshToken(std::string_view token_hash) = 0;
  virtual Status RevokeRefreshToken(int64_t id) = 0;
  // Revokes `old_id` and stores `next` (rotated_from = old_id) in one transaction. Fails with
  // kInvalidArgument when old_id is already revoked (a replayed refresh token), storing nothing.
  virtual Result<StoredRefreshToken> RotateRefreshToken(int64_t old_id,
                                                        const StoredRefreshToken& next) = 0;
  // Ends every login session of a user, in one transaction: raises users.session_generation
  // (so access tokens issued before stop being accepted) and revokes the user's refresh tokens.
  // Returns the new generation; kNotFound if the user does not exist.
  virtual Result<int64_t> EndUserSessions(int64_t user_id) = 0;
};

// Token budget counters, kept where they survive restarts and gateways share them.
class UsageStore {
 public:
  virtual ~UsageStore() = default;

  // Atomically adds `tokens` (>= 0) to the counter of (subject, period_start), creating it at 0;
  // returns the new total. Safe across threads and processes sharing the database.
  virtual Result<int64_t> AddUsage(std::string_view subject, int64_t period_start,
                                   int64_t tokens) = 0;
  // 0 when the counter does not exist.
  virtual Result<int64_t> GetUsage(std::string_view subject, int64_t period_start) = 0;
  // Drops counters of periods that started before `period_start`; returns how many.
  virtual Result<int64_t> DeleteUsageBefore(int64_t period_start) = 0;
};

}  // namespace llmux::auth
