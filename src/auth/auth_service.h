// The auth service's interface: authenticate a request's bearer credentials, and manage users,
// API keys and roles with every change recorded in the audit log. The gateway, the admin
// HTTP API, gRPC llmux.v1.Auth and the CLI all go through it. LocalAuthService implements it
// on a store::Store in this process; a remote implementation can stand in front of another
// process later. Its records are its own (auth_types.h, services/audit/audit_log.h), never the
// store's rows.
//
// Secrets leave this interface once: the full API key in CreatedKey. Users and keys have no
// place for password or secret hashes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth_types.h"
#include "auth/principal.h"
#include "base/status.h"
#include "services/audit/audit_log.h"

namespace llmux::auth {

// Who asks for a change, and from where: recorded in the audit log.
struct Actor {
  const Principal& principal;
  std::string source;  // client address, "cli", ...
};

struct NewUser {
  std::string name;
  std::string password;  // empty: no password login
  std::vector<std::string> roles = {"user"};
  Limits limits;  // for all the user's keys together
};

struct UserUpdate {
  std::optional<std::string> password;
  std::optional<std::vector<std::string>> roles;
  std::optional<bool> disabled;
  std::optional<Limits> limits;
};

struct NewKey {
  int64_t owner_user_id = 0;  // 0: a system key whose permissions are its scopes
  std::string name;
  std::vector<std::string> scopes;          // empty: the owner's permissions
  std::vector<std::string> allowed_models;  // globs; empty: any the permissions allow
  int64_t expires_at = 0;                   // unix seconds; 0: never
  Limits limits;
};

struct CreatedKey {
  ApiKey key;
  std::string full_key;  // "llmux_<prefix>_<secret>": shown once, never stored
};

// What a password login or a refresh returns.
struct LoginTokens {
  std::string access_token;   // a JWT for "Authorization: Bearer"
  int64_t expires_in = 0;     // seconds the access token lives
  std::string refresh_token;  // opaque; single use: each refresh returns a new one
  int64_t refresh_expires_in = 0;
};

class AuthService {
 public:
  virtual ~AuthService() = default;

  // The caller behind `bearer` (the Authorization header's token, without "Bearer ").
  // kUnauthenticated for a missing, unknown, malformed, revoked or expired credential (the
  // message never repeats it); kUnavailable when the store or issuer cannot answer.
  virtual Result<Principal> Authenticate(std::string_view bearer) = 0;

  // --- password login (POST /auth/login, /auth/refresh, /auth/logout) ---
  // kUnauthenticated for an unknown user, a wrong password or a disabled user (one message for
  // all three, so a caller cannot probe which names exist).
  virtual Result<LoginTokens> Login(std::string_view user, std::string_view password,
                                    std::string_view source) = 0;
  // Rotates: the presented refresh token is spent and a new pair returned. A spent token
  // presented again means it was stolen: every session of that user is ended.
  virtual Result<LoginTokens> Refresh(std::string_view refresh_token, std::string_view source) = 0;
  // Ends the session of this refresh token (access tokens expire on their own, in minutes).
  virtual Status Logout(std::string_view refresh_token, std::string_view source) = 0;

  // Records a refused request in the audit log (who may be null: not authenticated).
  virtual void RecordDenied(const Principal* who, std::string_view action, std::string_view target,
                            std::string_view source, std::string_view reason) = 0;

  // --- users (users:manage) ---
  virtual Result<User> CreateUser(const Actor& actor, const NewUser& user) = 0;
  virtual Result<User> GetUser(int64_t id) = 0;
  virtual Result<User> GetUserByName(std::string_view name) = 0;
  virtual Result<PageResult<User>> ListUsers(Page page) = 0;
  virtual Result<User> UpdateUser(const Actor& actor, int64_t id,
                                         const UserUpdate& update) = 0;
  virtual Status DeleteUser(const Actor& actor, int64_t id) = 0;

  // --- API keys (keys:manage) ---
  virtual Result<CreatedKey> CreateKey(const Actor& actor, const NewKey& key) = 0;
  virtual Result<ApiKey> GetKey(int64_t id) = 0;
  virtual Result<PageResult<ApiKey>> ListKeys(Page page,
                                                            std::optional<int64_t> owner) = 0;
  virtual Status RevokeKey(const Actor& actor, int64_t id) = 0;
  virtual Status SetKeyLimits(const Actor& actor, int64_t id, const Limits& limits) = 0;

  // --- roles (users:manage to change; built-in roles cannot be changed or deleted) ---
  virtual Result<std::vector<Role>> ListRoles() = 0;
  virtual Status PutRole(const Actor& actor, const Role& role) = 0;
  virtual Status DeleteRole(const Actor& actor, std::string_view name) = 0;

  // --- audit log (logs:read), newest first ---
  virtual Result<audit::EventList> ListAudit(audit::Page page) = 0;
};

}  // namespace llmux::auth
