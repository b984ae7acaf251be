// AuthService on an AuthStore (the SQL store), in this process: the embedded default. The store's rows
// (with their hashes) stay in here; callers get the auth service's own records.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "auth/auth_service.h"
#include "auth/auth_store.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/token_issuer.h"

namespace llmux::auth {

struct LocalAuthOptions {
  UnixClock clock;             // null: system clock
  Argon2Params argon2;         // tests pass cheap parameters
  // Verifies a JWT of an external OIDC issuer (OidcVerifier::Verify); null: JWTs are refused.
  std::function<Result<JwtClaims>(std::string_view)> verify_external_jwt;
  // last_used_at is written at most this often per key, so a busy key is not a write per call.
  int64_t touch_interval_s = 60;
  // Signs and verifies llmux's own access tokens; null: password login is off.
  const TokenIssuer* issuer = nullptr;
  int64_t access_token_lifetime_s = 15 * 60;
  int64_t refresh_token_lifetime_s = 30 * 24 * 3600;
};

class LocalAuthService : public AuthService {
 public:
  // `store` and `audit` (the same store::Store in practice) must outlive the service. Call Init()
  // before use.
  LocalAuthService(AuthStore& store, audit::AuditLog& audit, LocalAuthOptions options = {});

  // Makes sure the built-in roles are in the store with their grants.
  Status Init();

  Result<Principal> Authenticate(std::string_view bearer) override;
  Result<LoginTokens> Login(std::string_view user, std::string_view password,
                            std::string_view source) override;
  Result<LoginTokens> Refresh(std::string_view refresh_token, std::string_view source) override;
  Status Logout(std::string_view refresh_token, std::string_view source) override;
  void RecordDenied(const Principal* who, std::string_view action, std::string_view target,
                    std::string_view source, std::string_view reason) override;

  Result<User> CreateUser(const Actor& actor, const NewUser& user) override;
  Result<User> GetUser(int64_t id) override;
  Result<User> GetUserByName(std::string_view name) override;
  Result<PageResult<User>> ListUsers(Page page) override;
  Result<User> UpdateUser(const Actor& actor, int64_t id, const UserUpdate& update) override;
  Status DeleteUser(const Actor& actor, int64_t id) override;

  Result<CreatedKey> CreateKey(const Actor& actor, const NewKey& key) override;
  Result<ApiKey> GetKey(int64_t id) override;
  Result<PageResult<ApiKey>> ListKeys(Page page, std::optional<int64_t> owner) override;
  Status RevokeKey(const Actor& actor, int64_t id) override;
  Status SetKeyLimits(const Actor& actor, int64_t id, const Limits& limits) override;

  Result<std::vector<Role>> ListRoles() override;
  Status PutRole(const Actor& actor, const Role& role) override;
  Status DeleteRole(const Actor& actor, std::string_view name) override;

  Result<audit::EventList> ListAudit(audit::Page page) override;

 private:
  int64_t Now() const;
  Result<Principal> AuthenticateKey(std::string_view bearer);
  Result<Principal> AuthenticateJwt(std::string_view bearer);
  // The user a login token or refresh token names, if it still exists and is not disabled.
  Result<StoredUser> ActiveUser(int64_t user_id);
  Principal UserPrincipal(const StoredUser& user, PermissionSet permissions) const;
  // A new access token and refresh token for `user`, under its current session generation;
  // `rotated_from` the spent refresh token (0: login).
  Result<LoginTokens> IssueTokens(const StoredUser& user, int64_t rotated_from);
  // Ends every login session of a user: refresh tokens and access tokens alike.
  Status EndSessions(int64_t user_id);
  void AuditAuth(std::string_view actor, std::string_view action, std::string_view source,
                 const Status& outcome);
  // The union of the grants of `roles` (built-in or stored); unknown roles grant nothing.
  Result<PermissionSet> RolePermissions(const std::vector<std::string>& roles);
  Status ValidateRoles(const std::vector<std::string>& roles);
  // No caller grants, or takes over, rights it does not hold: PermissionDenied unless the actor
  // holds every grant of `rights` (Principal::Holds). `what` names the principal in the error.
  Status CheckWithinActor(const Actor& actor, const PermissionSet& rights, const std::string& what);
  // The same for a stored user (its roles) and a stored key (its scopes, or its owner's roles;
  // a key with both is bounded by either).
  Status CheckUserWithinActor(const Actor& actor, int64_t user_id);
  Status CheckKeyWithinActor(const Actor& actor, int64_t key_id);
  void Audit(const Actor& actor, std::string_view action, std::string_view target,
             const Status& outcome, std::string_view detail = {});

  AuthStore& store_;
  audit::AuditLog& audit_;  // every change is written here, once
  LocalAuthOptions options_;
  std::once_flag dummy_once_;
  std::string dummy_hash_;  // Argon2 hash that unknown user names are checked against
};

// On a store without users and keys, creates an admin API key (a system key with scope "*"),
// writes it to `key_file` with mode 0600 and returns it; nullopt when the store already has
// users or keys (nothing is created or written).
Result<std::optional<std::string>> BootstrapAdminKey(AuthService& auth, AuthStore& store,
                                                     const std::string& key_file);

}  // namespace llmux::auth
