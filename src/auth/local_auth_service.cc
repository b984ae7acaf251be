#include "auth/local_auth_service.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "auth/api_key.h"
#include "base/private_file.h"

namespace llmux::auth {

namespace {

constexpr int kMaxNameBytes = 128;

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ",";
    out += s;
  }
  return out;
}

// The service's records of the store's rows: the hashes (and the session generation) stay here.
User ToUser(const StoredUser& u) {
  return User{u.id, u.name, u.roles, u.disabled, u.created_at, u.limits};
}

ApiKey ToApiKey(const StoredKey& k) {
  return ApiKey{k.id,         k.prefix,     k.owner_user_id, k.name,       k.scopes, k.allowed_models,
                k.expires_at, k.revoked_at, k.last_used_at,  k.created_at, k.limits};
}

template <typename T, typename Row, typename Convert>
PageResult<T> ToPage(const PageResult<Row>& rows, Convert convert) {
  PageResult<T> page;
  page.items.reserve(rows.items.size());
  for (const Row& row : rows.items) page.items.push_back(convert(row));
  page.has_more = rows.has_more;
  page.next_cursor = rows.next_cursor;
  return page;
}

Status ValidateName(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return InvalidArgumentError(std::string(what) + " must be 1 to 128 characters");
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == '@';
    if (!ok) return InvalidArgumentError(std::string(what) + " may hold only letters, digits and . _ - @");
  }
  return Status::Ok();
}

Status ValidateLimits(const Limits& l) {
  if (l.requests_per_minute < 0 || l.tokens_per_minute < 0 || l.max_concurrent < 0 ||
      l.token_budget < 0 || l.budget_period_seconds < 0) {
    return InvalidArgumentError("limits must not be negative");
  }
  if (l.token_budget > 0 && l.budget_period_seconds <= 0) {
    return InvalidArgumentError("a token budget needs a budget period (budget_period_seconds)");
  }
  return Status::Ok();
}

std::string_view OutcomeOf(const Status& s) { return s.ok() ? "ok" : "failed"; }

std::string ActorId(const Principal& p) { return p.subject.empty() ? "anonymous" : p.subject; }

}  // namespace

LocalAuthService::LocalAuthService(AuthStore& store, audit::AuditLog& audit, LocalAuthOptions options)
    : store_(store), audit_(audit), options_(std::move(options)) {}

int64_t LocalAuthService::Now() const {
  return options_.clock ? options_.clock() : SystemUnixSeconds();
}

Status LocalAuthService::Init() {
  for (const std::string& name : BuiltinRoleNames()) {
    Role role{name, BuiltinRole(name)->grants(), /*builtin=*/true};
    LLMUX_RETURN_IF_ERROR(store_.UpsertRole(role));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- authentication

Result<Principal> LocalAuthService::Authenticate(std::string_view bearer) {
  if (bearer.empty()) {
    return UnauthenticatedError("missing credentials: send 'Authorization: Bearer <API key>'");
  }
  if (bearer.substr(0, kApiKeyTag.size()) == kApiKeyTag) return AuthenticateKey(bearer);
  if (std::count(bearer.begin(), bearer.end(), '.') == 2) return AuthenticateJwt(bearer);
  return UnauthenticatedError("invalid API key");
}

Result<Principal> LocalAuthService::AuthenticateKey(std::string_view bearer) {
  auto parsed = ParseApiKey(bearer);
  if (!parsed.ok()) return UnauthenticatedError("invalid API key");
  auto key = store_.FindApiKeyByPrefix(parsed->prefix);
  if (!key.ok()) {
    if (key.status().code() == StatusCode::kNotFound) return UnauthenticatedError("invalid API key");
    return UnavailableError("cannot check the API key now: " + key.status().message());
  }
  if (!VerifyApiKeySecret(parsed->secret, key->secret_hash)) {
    return UnauthenticatedError("invalid API key");
  }
  const int64_t now = Now();
  if (key->revoked_at != 0) return UnauthenticatedError("API key llmux_" + key->prefix + " has been revoked");
  if (key->expires_at != 0 && key->expires_at <= now) {
    return UnauthenticatedError("API key llmux_" + key->prefix + " has expired");
  }

  Principal p;
  p.subject = "key:" + std::to_string(key->id);
  p.display = "llmux_" + key->prefix;
  p.key_id = key->id;
  p.user_id = key->owner_user_id;
  p.allowed_models = key->allowed_models;
  p.limits = key->limits;
  if (key->owner_user_id == 0) {
    // A system key holds exactly its scopes.
    for (const std::string& s : key->scopes) p.permissions.Add(s);
  } else {
    auto owner = store_.GetUser(key->owner_user_id);
    if (!owner.ok()) return UnauthenticatedError("the API key's owner no longer exists");
    if (owner->disabled) return UnauthenticatedError("the API key's owner is disabled");
    LLMUX_ASSIGN_OR_RETURN(p.permissions, RolePermissions(owner->roles));
    for (const std::string& s : key->scopes) p.scopes.Add(s);
    p.user_limits = owner->limits;
    p.display += " (" + owner->name + ")";
  }
  if (now - key->last_used_at >= options_.touch_interval_s) {
    (void)store_.TouchApiKey(key->id, now);  // best effort: a failed touch must not fail the call
  }
  return p;
}

Result<Principal> LocalAuthService::AuthenticateJwt(std::string_view bearer) {
  if (options_.issuer != nullptr && options_.issuer->IsOurs(bearer)) {
    auto claims = options_.issuer->Verify(bearer);
    if (!claims.ok()) return UnauthenticatedError("invalid token: " + claims.status().message());
    LLMUX_ASSIGN_OR_RETURN(StoredUser user, ActiveUser(claims->user_id));
    // The user row is read on every use anyway (roles, disabled), so this check costs nothing
    // and sees a session end at once, from any process sharing the store.
    if (claims->session_generation != user.session_generation) {
      return UnauthenticatedError("the token's login session has ended; log in again");
    }
    LLMUX_ASSIGN_OR_RETURN(PermissionSet permissions, RolePermissions(user.roles));
    return UserPrincipal(user, std::move(permissions));
  }
  if (!options_.verify_external_jwt) return UnauthenticatedError("invalid token");
  auto claims = options_.verify_external_jwt(bearer);
  if (!claims.ok()) {
    if (claims.status().code() == StatusCode::kUnavailable) return claims.status();
    return UnauthenticatedError("invalid token: " + claims.status().message());
  }
  Principal p;
  p.subject = "oidc:" + claims->subject;
  p.display = claims->subject;
  LLMUX_ASSIGN_OR_RETURN(p.permissions, RolePermissions(claims->roles));
  return p;
}

Result<StoredUser> LocalAuthService::ActiveUser(int64_t user_id) {
  auto user = store_.GetUser(user_id);
  if (!user.ok()) {
    if (user.status().code() == StatusCode::kNotFound) return UnauthenticatedError("the token's user no longer exists");
    return UnavailableError("cannot check the token now: " + user.status().message());
  }
  if (user->disabled) return UnauthenticatedError("the token's user is disabled");
  return std::move(user).value();
}

Principal LocalAuthService::UserPrincipal(const StoredUser& user,
                                          PermissionSet permissions) const {
  Principal p;
  p.subject = "user:" + std::to_string(user.id);
  p.display = user.name;
  p.user_id = user.id;
  p.limits = user.limits;  // a login token is the user: their limits are its own
  p.permissions = std::move(permissions);
  return p;
}

// ---------------------------------------------------------------- password login

void LocalAuthService::AuditAuth(std::string_view actor, std::string_view action,
                                 std::string_view source, const Status& outcome) {
  audit::Event e;
  e.actor = std::string(actor);
  e.action = std::string(action);
  e.target = "session";
  e.source = std::string(source);
  e.outcome = outcome.ok() ? "ok" : "denied";
  e.detail = outcome.ok() ? "" : outcome.message();
  audit::AppendOrWarn(audit_, e);
}

Result<LoginTokens> LocalAuthService::IssueTokens(const StoredUser& user, int64_t rotated_from) {
  // Both tokens carry the generation read with `user`. Should the sessions end meanwhile, the
  // access token is refused at its first use and the refresh token at its first refresh.
  LLMUX_ASSIGN_OR_RETURN(
      IssuedToken access,
      options_.issuer->Issue(user.id, user.session_generation, options_.access_token_lifetime_s));
  LLMUX_ASSIGN_OR_RETURN(std::string refresh, NewOpaqueToken());
  StoredRefreshToken next;
  next.token_hash = HashOpaqueToken(refresh);
  next.user_id = user.id;
  next.expires_at = Now() + options_.refresh_token_lifetime_s;
  next.session_generation = user.session_generation;
  if (rotated_from == 0) {
    LLMUX_RETURN_IF_ERROR(store_.CreateRefreshToken(next).status());
  } else {
    LLMUX_RETURN_IF_ERROR(store_.RotateRefreshToken(rotated_from, next).status());
  }
  return LoginTokens{std::move(access.token), options_.access_token_lifetime_s, std::move(refresh),
                     options_.refresh_token_lifetime_s};
}

Result<LoginTokens> LocalAuthService::Login(std::string_view name, std::string_view password,
                                            std::string_view source) {
  if (options_.issuer == nullptr) return UnimplementedError("password login is not enabled");
  const Status refused = UnauthenticatedError("wrong user name or password");
  auto user = store_.GetUserByName(name);
  if (!user.ok() && user.status().code() != StatusCode::kNotFound) {
    return UnavailableError("cannot check the password now");
  }
  bool ok = false;
  if (user.ok() && !user->password_hash.empty()) {
    auto verified = VerifyPassword(password, user->password_hash);
    ok = verified.ok() && *verified && !user->disabled;
  } else {
    // The same Argon2 work for unknown names, so timing does not tell which names exist.
    std::call_once(dummy_once_, [&] {
      auto hash = HashPassword("not a password", options_.argon2);
      if (hash.ok()) dummy_hash_ = *hash;
    });
    if (!dummy_hash_.empty()) (void)VerifyPassword(password, dummy_hash_);
  }
  const std::string actor = user.ok() ? "user:" + std::to_string(user->id) : "anonymous";
  AuditAuth(actor, "auth.login", source, ok ? Status::Ok() : refused);
  if (!ok) return refused;
  return IssueTokens(*user, 0);
}

Status LocalAuthService::EndSessions(int64_t user_id) {
  return store_.EndUserSessions(user_id).status();
}

Result<LoginTokens> LocalAuthService::Refresh(std::string_view refresh_token, std::string_view source) {
  if (options_.issuer == nullptr) return UnimplementedError("password login is not enabled");
  auto stored = store_.FindRefreshToken(HashOpaqueToken(refresh_token));
  if (!stored.ok()) {
    if (stored.status().code() != StatusCode::kNotFound) return UnavailableError("cannot check the refresh token now");
    Status refused = UnauthenticatedError("invalid refresh token");
    AuditAuth("anonymous", "auth.refresh", source, refused);
    return refused;
  }
  const std::string actor = "user:" + std::to_string(stored->user_id);
  auto refuse = [&](std::string message) -> Status {
    Status refused = UnauthenticatedError(std::move(message));
    AuditAuth(actor, "auth.refresh", source, refused);
    return refused;
  };
  auto replayed = [&]() -> Status {
    // A spent token came back: someone holds a copy, and may hold the access tokens it gave.
    // End every session of this user, access tokens included: a breach, as Auth0 and Okta treat it.
    Status ended = EndSessions(stored->user_id);
    if (!ended.ok()) AuditAuth(actor, "auth.sessions_end", source, ended);
    return refuse("refresh token was already used; every session of this user has been ended");
  };
  if (stored->revoked) return replayed();
  if (stored->expires_at <= Now()) return refuse("refresh token has expired");
  LLMUX_ASSIGN_OR_RETURN(StoredUser user, ActiveUser(stored->user_id));
  // Issued before the user's sessions last ended (e.g. by a login that raced a password change).
  if (stored->session_generation != user.session_generation) {
    return refuse("refresh token's login session has ended; log in again");
  }
  auto tokens = IssueTokens(user, stored->id);
  if (!tokens.ok() && tokens.status().code() == StatusCode::kInvalidArgument) return replayed();
  if (tokens.ok()) AuditAuth(actor, "auth.refresh", source, Status::Ok());
  return tokens;
}

Status LocalAuthService::Logout(std::string_view refresh_token, std::string_view source) {
  auto stored = store_.FindRefreshToken(HashOpaqueToken(refresh_token));
  if (!stored.ok()) {
    return stored.status().code() == StatusCode::kNotFound ? UnauthenticatedError("invalid refresh token")
                                                           : UnavailableError("cannot end the session now");
  }
  LLMUX_RETURN_IF_ERROR(store_.RevokeRefreshToken(stored->id));
  AuditAuth("user:" + std::to_string(stored->user_id), "auth.logout", source, Status::Ok());
  return Status::Ok();
}

Result<PermissionSet> LocalAuthService::RolePermissions(const std::vector<std::string>& roles) {
  PermissionSet set;
  for (const std::string& name : roles) {
    if (auto builtin = BuiltinRole(name)) {
      set.Merge(*builtin);
      continue;
    }
    auto role = store_.GetRole(name);
    if (role.ok()) {
      for (const std::string& g : role->permissions) set.Add(g);
    } else if (role.status().code() != StatusCode::kNotFound) {
      return UnavailableError("cannot read role '" + name + "': " + role.status().message());
    }
  }
  return set;
}

void LocalAuthService::RecordDenied(const Principal* who, std::string_view action,
                                    std::string_view target, std::string_view source,
                                    std::string_view reason) {
  audit::Event e;
  e.actor = who ? ActorId(*who) : "anonymous";
  e.action = std::string(action);
  e.target = std::string(target);
  e.source = std::string(source);
  e.outcome = "denied";
  e.detail = RedactApiKeys(reason);
  audit::AppendOrWarn(audit_, e);  // the refusal itself must not fail because the log is busy
}

void LocalAuthService::Audit(const Actor& actor, std::string_view action, std::string_view target,
                             const Status& outcome, std::string_view detail) {
  audit::Event e;
  e.actor = ActorId(actor.principal);
  e.action = std::string(action);
  e.target = std::string(target);
  e.source = actor.source;
  e.outcome = std::string(OutcomeOf(outcome));
  e.detail = outcome.ok() ? std::string(detail) : RedactApiKeys(outcome.message());
  audit::AppendOrWarn(audit_, e);
}

// ---------------------------------------------------------------- users

Status LocalAuthService::ValidateRoles(const std::vector<std::string>& roles) {
  for (const std::string& name : roles) {
    if (BuiltinRole(name)) continue;
    auto role = store_.GetRole(name);
    if (!role.ok()) return role.status().code() == StatusCode::kNotFound
                               ? InvalidArgumentError("no role named '" + name + "'")
                               : role.status();
  }
  return Status::Ok();
}

Status LocalAuthService::CheckWithinActor(const Actor& actor, const PermissionSet& rights,
                                          const std::string& what) {
  for (const std::string& grant : rights.grants()) {
    if (!actor.principal.Holds(grant)) {
      return PermissionDeniedError(what + " would hold '" + grant + "', which the caller does not hold");
    }
  }
  return Status::Ok();
}

Status LocalAuthService::CheckUserWithinActor(const Actor& actor, int64_t user_id) {
  LLMUX_ASSIGN_OR_RETURN(StoredUser user, store_.GetUser(user_id));
  LLMUX_ASSIGN_OR_RETURN(PermissionSet rights, RolePermissions(user.roles));
  return CheckWithinActor(actor, rights, "user '" + user.name + "'");
}

Status LocalAuthService::CheckKeyWithinActor(const Actor& actor, int64_t key_id) {
  LLMUX_ASSIGN_OR_RETURN(StoredKey key, store_.GetApiKey(key_id));
  const std::string what = "key llmux_" + key.prefix;
  LLMUX_ASSIGN_OR_RETURN(PermissionSet scopes, PermissionSet::Parse(key.scopes));
  if (key.owner_user_id == 0) return CheckWithinActor(actor, scopes, what);
  auto owner = store_.GetUser(key.owner_user_id);
  if (!owner.ok()) return owner.status().code() == StatusCode::kNotFound ? CheckWithinActor(actor, scopes, what)
                                                                         : owner.status();
  LLMUX_ASSIGN_OR_RETURN(PermissionSet owner_rights, RolePermissions(owner->roles));
  if (!scopes.empty() && CheckWithinActor(actor, scopes, what).ok()) return Status::Ok();
  return CheckWithinActor(actor, owner_rights, what);
}

Result<User> LocalAuthService::CreateUser(const Actor& actor, const NewUser& in) {
  auto run = [&]() -> Result<User> {
    LLMUX_RETURN_IF_ERROR(ValidateName("user name", in.name));
    LLMUX_RETURN_IF_ERROR(ValidateRoles(in.roles));
    LLMUX_ASSIGN_OR_RETURN(PermissionSet rights, RolePermissions(in.roles));
    LLMUX_RETURN_IF_ERROR(CheckWithinActor(actor, rights, "the new user"));
    LLMUX_RETURN_IF_ERROR(ValidateLimits(in.limits));
    StoredUser user;
    user.name = in.name;
    user.roles = in.roles;
    user.limits = in.limits;
    if (!in.password.empty()) {
      LLMUX_ASSIGN_OR_RETURN(user.password_hash, HashPassword(in.password, options_.argon2));
    }
    LLMUX_ASSIGN_OR_RETURN(StoredUser created, store_.CreateUser(user));
    return ToUser(created);
  };
  auto result = run();
  Audit(actor, "users.create", result.ok() ? "user:" + std::to_string(result->id) : "user:" + in.name,
        result.ok() ? Status::Ok() : result.status(), "name=" + in.name + " roles=" + Join(in.roles));
  return result;
}

Result<User> LocalAuthService::GetUser(int64_t id) {
  LLMUX_ASSIGN_OR_RETURN(StoredUser user, store_.GetUser(id));
  return ToUser(user);
}

Result<User> LocalAuthService::GetUserByName(std::string_view name) {
  LLMUX_ASSIGN_OR_RETURN(StoredUser user, store_.GetUserByName(name));
  return ToUser(user);
}

Result<PageResult<User>> LocalAuthService::ListUsers(Page page) {
  LLMUX_ASSIGN_OR_RETURN(auto users, store_.ListUsers(page));
  return ToPage<User>(users, ToUser);
}

Result<User> LocalAuthService::UpdateUser(const Actor& actor, int64_t id, const UserUpdate& update) {
  std::string detail;
  auto run = [&]() -> Result<User> {
    // Not even a password or a limit of a user with rights the caller lacks (a new password
    // would be a takeover).
    LLMUX_RETURN_IF_ERROR(CheckUserWithinActor(actor, id));
    if (update.roles) {
      LLMUX_RETURN_IF_ERROR(ValidateRoles(*update.roles));
      LLMUX_ASSIGN_OR_RETURN(PermissionSet rights, RolePermissions(*update.roles));
      LLMUX_RETURN_IF_ERROR(CheckWithinActor(actor, rights, "the user"));
      LLMUX_RETURN_IF_ERROR(store_.SetUserRoles(id, *update.roles));
      detail += "roles=" + Join(*update.roles) + " ";
    }
    if (update.password) {
      LLMUX_ASSIGN_OR_RETURN(std::string hash, HashPassword(*update.password, options_.argon2));
      LLMUX_RETURN_IF_ERROR(store_.UpdatePasswordHash(id, hash));
      // A new password ends every login session of the old one, access tokens included.
      LLMUX_RETURN_IF_ERROR(EndSessions(id));
      detail += "password changed ";
    }
    if (update.disabled) {
      LLMUX_RETURN_IF_ERROR(store_.SetUserDisabled(id, *update.disabled));
      // Disabling ends the sessions too, so enabling the user again brings none of them back.
      if (*update.disabled) LLMUX_RETURN_IF_ERROR(EndSessions(id));
      detail += *update.disabled ? "disabled " : "enabled ";
    }
    if (update.limits) {
      LLMUX_RETURN_IF_ERROR(ValidateLimits(*update.limits));
      LLMUX_RETURN_IF_ERROR(store_.SetUserLimits(id, *update.limits));
      detail += "limits changed ";
    }
    return GetUser(id);
  };
  auto result = run();
  Audit(actor, "users.update", "user:" + std::to_string(id),
        result.ok() ? Status::Ok() : result.status(), detail);
  return result;
}

Status LocalAuthService::DeleteUser(const Actor& actor, int64_t id) {
  Status s = CheckUserWithinActor(actor, id);
  if (s.ok()) s = store_.DeleteUser(id);
  Audit(actor, "users.delete", "user:" + std::to_string(id), s);
  return s;
}

// ---------------------------------------------------------------- API keys

Result<CreatedKey> LocalAuthService::CreateKey(const Actor& actor, const NewKey& in) {
  auto run = [&]() -> Result<CreatedKey> {
    if (in.name.size() > kMaxNameBytes) return InvalidArgumentError("key name is over 128 characters");
    LLMUX_RETURN_IF_ERROR(PermissionSet::Parse(in.scopes).status());
    for (const std::string& m : in.allowed_models) {
      LLMUX_RETURN_IF_ERROR(ValidatePermission(ModelUsePermission(m)).WithContext("allowed model"));
    }
    // Nobody hands out what they do not hold: every scope must be held by the actor, and a key
    // without scopes carries its owner's rights, which the actor must hold then.
    for (const std::string& s : in.scopes) {
      if (!actor.principal.Holds(s)) {
        return PermissionDeniedError("cannot grant scope '" + s + "' that the caller does not hold");
      }
    }
    if (in.owner_user_id != 0 && in.scopes.empty()) {
      LLMUX_ASSIGN_OR_RETURN(StoredUser owner, store_.GetUser(in.owner_user_id));
      LLMUX_ASSIGN_OR_RETURN(PermissionSet rights, RolePermissions(owner.roles));
      LLMUX_RETURN_IF_ERROR(CheckWithinActor(actor, rights, "a key of user '" + owner.name + "'"));
    }
    if (in.owner_user_id == 0 && in.scopes.empty()) {
      return InvalidArgumentError("a key without an owner needs scopes (its permissions)");
    }
    if (in.expires_at != 0 && in.expires_at <= Now()) {
      return InvalidArgumentError("expires_at is in the past");
    }
    LLMUX_RETURN_IF_ERROR(ValidateLimits(in.limits));
    LLMUX_ASSIGN_OR_RETURN(NewApiKey fresh, GenerateApiKey());
    StoredKey key;
    key.prefix = fresh.prefix;
    key.secret_hash = fresh.secret_hash;
    key.owner_user_id = in.owner_user_id;
    key.name = in.name;
    key.scopes = in.scopes;
    key.allowed_models = in.allowed_models;
    key.expires_at = in.expires_at;
    key.limits = in.limits;
    LLMUX_ASSIGN_OR_RETURN(StoredKey stored, store_.CreateApiKey(key));
    return CreatedKey{ToApiKey(stored), std::move(fresh.full_key)};
  };
  auto result = run();
  Audit(actor, "keys.create", result.ok() ? "key:" + std::to_string(result->key.id) : "key",
        result.ok() ? Status::Ok() : result.status(),
        result.ok() ? "prefix=llmux_" + result->key.prefix + " owner=user:" +
                          std::to_string(in.owner_user_id) + " scopes=" + Join(in.scopes)
                    : std::string());
  return result;
}

Result<ApiKey> LocalAuthService::GetKey(int64_t id) {
  LLMUX_ASSIGN_OR_RETURN(StoredKey key, store_.GetApiKey(id));
  return ToApiKey(key);
}

Result<PageResult<ApiKey>> LocalAuthService::ListKeys(Page page, std::optional<int64_t> owner) {
  LLMUX_ASSIGN_OR_RETURN(auto keys, store_.ListApiKeys(page, owner));
  return ToPage<ApiKey>(keys, ToApiKey);
}

Status LocalAuthService::RevokeKey(const Actor& actor, int64_t id) {
  Status s = CheckKeyWithinActor(actor, id);
  if (s.ok()) s = store_.RevokeApiKey(id, Now());
  Audit(actor, "keys.revoke", "key:" + std::to_string(id), s);
  return s;
}

Status LocalAuthService::SetKeyLimits(const Actor& actor, int64_t id, const Limits& l) {
  Status s = ValidateLimits(l);
  if (s.ok()) s = CheckKeyWithinActor(actor, id);
  if (s.ok()) s = store_.SetApiKeyLimits(id, l);
  Audit(actor, "keys.limits", "key:" + std::to_string(id), s,
        "rpm=" + std::to_string(l.requests_per_minute) + " tpm=" + std::to_string(l.tokens_per_minute) +
            " concurrent=" + std::to_string(l.max_concurrent) + " budget=" +
            std::to_string(l.token_budget) + "/" + std::to_string(l.budget_period_seconds) + "s");
  return s;
}

// ---------------------------------------------------------------- roles and audit

Result<std::vector<Role>> LocalAuthService::ListRoles() { return store_.ListRoles(); }

Status LocalAuthService::PutRole(const Actor& actor, const Role& role) {
  Status s = ValidateName("role name", role.name);
  if (s.ok() && BuiltinRole(role.name)) s = InvalidArgumentError("built-in role '" + role.name + "' cannot be changed");
  if (s.ok()) {
    auto rights = PermissionSet::Parse(role.permissions);
    s = rights.ok() ? CheckWithinActor(actor, *rights, "role '" + role.name + "'") : rights.status();
  }
  if (s.ok()) {
    Role custom = role;
    custom.builtin = false;
    s = store_.UpsertRole(custom);
  }
  Audit(actor, "roles.put", "role:" + role.name, s, "permissions=" + Join(role.permissions));
  return s;
}

Status LocalAuthService::DeleteRole(const Actor& actor, std::string_view name) {
  Status s = store_.DeleteRole(name);
  Audit(actor, "roles.delete", "role:" + std::string(name), s);
  return s;
}

Result<audit::EventList> LocalAuthService::ListAudit(audit::Page page) {
  return audit_.List(page);
}

// ---------------------------------------------------------------- first start

Result<std::optional<std::string>> BootstrapAdminKey(AuthService& auth, AuthStore& store,
                                                     const std::string& key_file) {
  LLMUX_ASSIGN_OR_RETURN(int64_t users, store.CountUsers());
  LLMUX_ASSIGN_OR_RETURN(int64_t keys, store.CountApiKeys());
  if (users > 0 || keys > 0) return std::optional<std::string>();

  Principal system = AnonymousAdmin();
  system.subject = "system";
  NewKey spec;
  spec.name = "bootstrap-admin";
  spec.scopes = {std::string(kPermAll)};
  LLMUX_ASSIGN_OR_RETURN(CreatedKey created, auth.CreateKey(Actor{system, "first start"}, spec));

  ::unlink(key_file.c_str());  // a stale file from an earlier store
  LLMUX_RETURN_IF_ERROR(WriteNewPrivateFile(key_file, created.full_key + "\n"));
  return std::optional<std::string>(created.full_key);
}

}  // namespace llmux::auth
