// The auth service on SQLite and on a throwaway PostgreSQL server: bootstrap, API key
// authentication, users, roles, scopes, the audit trail and persistence across a restart.
#include "auth/local_auth_service.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>

#include "auth/api_key.h"
#include "auth/token_issuer.h"
#include "store/open_store.h"
#include "store/test_postgres_server.h"

namespace llmux::auth {
namespace {

namespace fs = std::filesystem;

enum class Backend { kSqlite, kPostgres };

class AuthServiceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/llmux-auth-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto issuer = TokenIssuer::Ephemeral([this] { return now_; });
    ASSERT_TRUE(issuer.ok());
    issuer_ = std::move(issuer).value();
    if (GetParam() == Backend::kPostgres) {
      // scripts/setup installs PostgreSQL: a missing server is a failure, never a skip.
      auto server = store::testing::TestPostgresServer::Get();
      ASSERT_TRUE(server.ok()) << server.status().ToString();
      auto conninfo = (*server)->CreateDatabase();
      ASSERT_TRUE(conninfo.ok()) << conninfo.status().ToString();
      url_ = *conninfo;
    } else {
      url_ = dir_ + "/auth.db";
    }
    Restart();
  }

  void TearDown() override {
    auth_.reset();
    store_.reset();
    fs::remove_all(dir_);
    // A PostgreSQL URL must never have been taken for a SQLite file name.
    EXPECT_FALSE(fs::exists(url_)) << url_;
  }

  // Closes everything and opens the same database again, as a server restart does.
  void Restart() {
    auth_.reset();
    store_.reset();
    auto s = store::OpenStore(url_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    if (GetParam() == Backend::kPostgres) {
      ASSERT_FALSE(fs::exists(url_));
    }
    LocalAuthOptions options;
    options.clock = [this] { return now_; };
    options.argon2 = Argon2Params{1, 1024, 1};  // cheap for tests
    options.issuer = issuer_.get();
    auth_ = std::make_unique<LocalAuthService>(*store_, *store_, options);
    ASSERT_TRUE(auth_->Init().ok());
  }

  Actor Admin() { return Actor{admin_, "10.0.0.1"}; }

  int64_t AddUser(const std::string& name, std::vector<std::string> roles) {
    auto u = auth_->CreateUser(Admin(), NewUser{name, "pw-" + name, roles});
    EXPECT_TRUE(u.ok()) << u.status().ToString();
    return u.ok() ? u->id : 0;
  }

  std::string AddKey(NewKey spec) {
    auto k = auth_->CreateKey(Admin(), spec);
    EXPECT_TRUE(k.ok()) << k.status().ToString();
    return k.ok() ? k->full_key : "";
  }

  std::string dir_, url_;
  int64_t now_ = 1'900'000'000;
  Principal admin_ = AnonymousAdmin();
  std::unique_ptr<TokenIssuer> issuer_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<LocalAuthService> auth_;
};

TEST_P(AuthServiceTest, FirstStartCreatesOneAdminKeyInAPrivateFile) {
  const std::string file = dir_ + "/admin-api-key";
  auto key = BootstrapAdminKey(*auth_, *store_, file);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  ASSERT_TRUE(key->has_value());
  EXPECT_TRUE(ParseApiKey(**key).ok());

  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, **key);

  auto p = auth_->Authenticate(**key);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->Allows("users:manage"));
  EXPECT_TRUE(p->MayUseModel("anything"));

  // A second start (the store now has a key) creates nothing, and leaves the file alone.
  Restart();
  auto again = BootstrapAdminKey(*auth_, *store_, file);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  auto keys = auth_->ListKeys({}, std::nullopt);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->items.size(), 1u);
}

TEST_P(AuthServiceTest, UserKeyCarriesTheOwnersRolePermissions) {
  const int64_t alice = AddUser("alice", {"user"});
  const std::string key = AddKey(NewKey{.owner_user_id = alice, .name = "laptop"});
  auto p = auth_->Authenticate(key);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->user_id, alice);
  EXPECT_TRUE(p->MayUseModel("qwen3-0.6b"));
  EXPECT_FALSE(p->Allows("keys:manage"));
  EXPECT_FALSE(p->Allows("metrics:read"));
  // The display name shows the public prefix only.
  EXPECT_EQ(p->display.find(key.substr(19)), std::string::npos);

  // Roles can change after the key was made; the key follows them.
  ASSERT_TRUE(auth_->UpdateUser(Admin(), alice, UserUpdate{.roles = std::vector<std::string>{"operator"}}).ok());
  p = auth_->Authenticate(key);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->Allows("metrics:read"));
  EXPECT_FALSE(p->Allows("users:manage"));
}

TEST_P(AuthServiceTest, RefusedCredentialsNeverEchoTheSecret) {
  const int64_t bob = AddUser("bob", {"user"});
  const std::string key = AddKey(NewKey{.owner_user_id = bob});
  std::string wrong = key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  for (const std::string& bad : {std::string(), std::string("sk-123"), wrong, key.substr(0, 30),
                                 std::string("a.b.c")}) {
    auto p = auth_->Authenticate(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), StatusCode::kUnauthenticated);
    if (bad.size() > 8) {
      EXPECT_EQ(p.status().message().find(bad), std::string::npos);
    }
  }
}

TEST_P(AuthServiceTest, RevokedExpiredAndDisabledAreRefused) {
  const int64_t carol = AddUser("carol", {"user"});
  const std::string revoked = AddKey(NewKey{.owner_user_id = carol, .name = "old"});
  const std::string expiring = AddKey(NewKey{.owner_user_id = carol, .expires_at = now_ + 60});
  auto keys = auth_->ListKeys({}, carol);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->items.size(), 2u);

  ASSERT_TRUE(auth_->RevokeKey(Admin(), keys->items[0].id).ok());
  auto p = auth_->Authenticate(revoked);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("revoked"), std::string::npos);

  EXPECT_TRUE(auth_->Authenticate(expiring).ok());
  now_ += 61;
  p = auth_->Authenticate(expiring);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("expired"), std::string::npos);

  now_ -= 61;
  ASSERT_TRUE(auth_->UpdateUser(Admin(), carol, UserUpdate{.disabled = true}).ok());
  p = auth_->Authenticate(expiring);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("disabled"), std::string::npos);
}

TEST_P(AuthServiceTest, ScopesAndAllowedModelsNarrowAKey) {
  const int64_t dave = AddUser("dave", {"operator"});
  const std::string narrow = AddKey(NewKey{.owner_user_id = dave,
                                           .scopes = {"models:use:*"},
                                           .allowed_models = {"qwen3-*"}});
  auto p = auth_->Authenticate(narrow);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->MayUseModel("qwen3-8b"));
  EXPECT_FALSE(p->MayUseModel("llama-3"));
  EXPECT_FALSE(p->Allows("metrics:read"));  // the owner has it, the key's scopes do not

  // A scope never widens the owner's permissions.
  const std::string wide = AddKey(NewKey{.owner_user_id = AddUser("erin", {"user"}), .scopes = {"*"}});
  p = auth_->Authenticate(wide);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->Allows("users:manage"));

  // Nobody grants a scope they do not hold.
  Principal keys_admin;
  keys_admin.subject = "key:99";
  keys_admin.permissions.Add("keys:manage");
  auto escalated = auth_->CreateKey(Actor{keys_admin, "10.0.0.2"}, NewKey{.scopes = {"*"}});
  ASSERT_FALSE(escalated.ok());
  EXPECT_EQ(escalated.status().code(), StatusCode::kPermissionDenied);
  EXPECT_FALSE(auth_->CreateKey(Admin(), NewKey{.scopes = {"models:use:"}}).ok());
  EXPECT_FALSE(auth_->CreateKey(Admin(), NewKey{}).ok());  // ownerless without scopes
}

TEST_P(AuthServiceTest, CustomRolesAndTheirRules) {
  ASSERT_TRUE(auth_->PutRole(Admin(), store::Role{"analyst", {"logs:read", "models:use:qwen*"}}).ok());
  EXPECT_FALSE(auth_->PutRole(Admin(), store::Role{"admin", {"logs:read"}}).ok());
  EXPECT_FALSE(auth_->PutRole(Admin(), store::Role{"typo", {"logs:raed"}}).ok());
  EXPECT_FALSE(auth_->CreateUser(Admin(), NewUser{"frank", "", {"nosuchrole"}}).ok());

  const std::string key = AddKey(NewKey{.owner_user_id = AddUser("grace", {"analyst"})});
  auto p = auth_->Authenticate(key);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->Allows("logs:read"));
  EXPECT_TRUE(p->MayUseModel("qwen3-0.6b"));
  EXPECT_FALSE(p->MayUseModel("llama"));

  auto roles = auth_->ListRoles();
  ASSERT_TRUE(roles.ok());
  std::vector<std::string> names;
  for (const auto& r : *roles) names.push_back(r.name);
  EXPECT_EQ(names, (std::vector<std::string>{"admin", "analyst", "operator", "user"}));
  EXPECT_FALSE(auth_->DeleteRole(Admin(), "user").ok());
  EXPECT_TRUE(auth_->DeleteRole(Admin(), "analyst").ok());
  p = auth_->Authenticate(key);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->Allows("logs:read"));
}

// The service's records have no place for a hash: they are not the store's rows. (The probes
// do find the hashes in the store's rows, so they are not vacuous.)
template <typename T>
concept HasPasswordHash = requires(const T& t) { t.password_hash; };
template <typename T>
concept HasSecretHash = requires(const T& t) { t.secret_hash; };
static_assert(!HasPasswordHash<User> && !HasSecretHash<ApiKey> && !HasSecretHash<CreatedKey>);
static_assert(HasPasswordHash<store::User> && HasSecretHash<store::ApiKey>);

TEST_P(AuthServiceTest, UsersNeverComeBackWithTheirPasswordHash) {
  auto u = auth_->CreateUser(Admin(), NewUser{"heidi", "correct horse", {"user"}});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(auth_->CreateUser(Admin(), NewUser{"heidi", "x", {"user"}}).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_FALSE(auth_->CreateUser(Admin(), NewUser{"bad name", "x", {"user"}}).ok());
  auto listed = auth_->ListUsers({});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->items.size(), 1u);
  // The store itself holds an Argon2id hash, not the password.
  auto stored = store_->GetUserByName("heidi");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->password_hash.rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(*VerifyPassword("correct horse", stored->password_hash));

  const std::string key = AddKey(NewKey{.owner_user_id = u->id});
  ASSERT_TRUE(auth_->DeleteUser(Admin(), u->id).ok());
  EXPECT_FALSE(auth_->Authenticate(key).ok());
}

TEST_P(AuthServiceTest, ChangesAndDenialsAreAudited) {
  const int64_t ivan = AddUser("ivan", {"user"});
  const std::string key = AddKey(NewKey{.owner_user_id = ivan, .name = "ci"});
  auto p = auth_->Authenticate(key);
  ASSERT_TRUE(p.ok());
  auth_->RecordDenied(&*p, "GET /admin/v1/users", "/admin/v1/users", "192.0.2.7",
                      "missing permission users:manage; sent " + key);
  auth_->RecordDenied(nullptr, "POST /v1/chat/completions", "/v1/chat/completions", "192.0.2.8",
                      "invalid API key");

  auto log = auth_->ListAudit({});
  ASSERT_TRUE(log.ok());
  ASSERT_GE(log->items.size(), 4u);
  const auto& last = log->items[0];  // newest first
  EXPECT_EQ(last.actor, "anonymous");
  EXPECT_EQ(last.outcome, "denied");
  EXPECT_EQ(last.source, "192.0.2.8");
  const auto& denied = log->items[1];
  EXPECT_EQ(denied.actor, p->subject);
  EXPECT_EQ(denied.detail.find(key), std::string::npos) << "the key leaked into the audit log";
  const auto& created = log->items[2];
  EXPECT_EQ(created.action, "keys.create");
  EXPECT_EQ(created.actor, "anonymous");
  EXPECT_EQ(created.source, "10.0.0.1");
  EXPECT_EQ(created.outcome, "ok");
  EXPECT_EQ(log->items[3].action, "users.create");
  for (const auto& e : log->items) EXPECT_EQ(e.detail.find("pw-ivan"), std::string::npos);
}

TEST_P(AuthServiceTest, KeysAndLimitsSurviveARestart) {
  const int64_t judy = AddUser("judy", {"user"});
  const store::Limits limits{.requests_per_minute = 30, .tokens_per_minute = 5000,
                             .max_concurrent = 2, .token_budget = 100000,
                             .budget_period_seconds = 86400};
  const std::string key = AddKey(NewKey{.owner_user_id = judy, .limits = limits});
  Restart();
  auto p = auth_->Authenticate(key);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->limits, limits);
  EXPECT_FALSE(auth_->SetKeyLimits(Admin(), p->key_id, store::Limits{.token_budget = 5}).ok());
  ASSERT_TRUE(auth_->SetKeyLimits(Admin(), p->key_id, store::Limits{.requests_per_minute = 1}).ok());
  Restart();
  p = auth_->Authenticate(key);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->limits, store::Limits{.requests_per_minute = 1});
}

TEST_P(AuthServiceTest, PasswordLoginGivesAShortTokenThatFollowsTheUser) {
  const int64_t kim = AddUser("kim", {"operator"});
  auto tokens = auth_->Login("kim", "pw-kim", "10.1.1.1");
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  EXPECT_EQ(tokens->expires_in, 15 * 60);
  auto p = auth_->Authenticate(tokens->access_token);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->subject, "user:" + std::to_string(kim));
  EXPECT_TRUE(p->Allows("metrics:read"));

  // One message for a wrong password and an unknown user.
  auto wrong = auth_->Login("kim", "pw-nope", "10.1.1.1");
  auto unknown = auth_->Login("nobody", "pw-kim", "10.1.1.1");
  ASSERT_FALSE(wrong.ok());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(wrong.status().message(), unknown.status().message());

  // Role changes and disabling apply to a token already handed out; disabling ends the session,
  // so enabling the user again does not bring the token back.
  ASSERT_TRUE(auth_->UpdateUser(Admin(), kim, UserUpdate{.roles = std::vector<std::string>{"user"}}).ok());
  p = auth_->Authenticate(tokens->access_token);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->Allows("metrics:read"));
  ASSERT_TRUE(auth_->UpdateUser(Admin(), kim, UserUpdate{.disabled = true}).ok());
  EXPECT_FALSE(auth_->Authenticate(tokens->access_token).ok());
  EXPECT_FALSE(auth_->Login("kim", "pw-kim", "10.1.1.1").ok());
  ASSERT_TRUE(auth_->UpdateUser(Admin(), kim, UserUpdate{.disabled = false}).ok());
  p = auth_->Authenticate(tokens->access_token);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("session has ended"), std::string::npos)
      << p.status().message();
  EXPECT_FALSE(auth_->Refresh(tokens->refresh_token, "10.1.1.1").ok());
  tokens = auth_->Login("kim", "pw-kim", "10.1.1.1");
  ASSERT_TRUE(tokens.ok());
  EXPECT_TRUE(auth_->Authenticate(tokens->access_token).ok());

  // Short-lived: 15 minutes (plus a few seconds of leeway) later it is refused.
  now_ += 15 * 60 + 10;
  p = auth_->Authenticate(tokens->access_token);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kUnauthenticated);

  // A token signed by another key, or tampered, is refused.
  auto other = TokenIssuer::Ephemeral([this] { return now_; });
  ASSERT_TRUE(other.ok());
  const int64_t generation = store_->GetUser(kim)->session_generation;
  auto forged = (*other)->Issue(kim, generation, 600);
  ASSERT_TRUE(forged.ok());
  EXPECT_FALSE(auth_->Authenticate(forged->token).ok());
  auto fresh = issuer_->Issue(kim, generation, 600);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(auth_->Authenticate(fresh->token).ok());
  std::string tampered = fresh->token;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(auth_->Authenticate(tampered).ok());
}

TEST_P(AuthServiceTest, RefreshRotatesAndAReplayEndsEverySession) {
  AddUser("lee", {"user"});
  auto first = auth_->Login("lee", "pw-lee", "10.2.2.2");
  ASSERT_TRUE(first.ok());
  auto second = auth_->Refresh(first->refresh_token, "10.2.2.2");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_NE(second->refresh_token, first->refresh_token);
  EXPECT_TRUE(auth_->Authenticate(second->access_token).ok());

  // The spent token comes back: refused, and the thief's or owner's newer token dies too.
  auto replay = auth_->Refresh(first->refresh_token, "10.9.9.9");
  ASSERT_FALSE(replay.ok());
  EXPECT_NE(replay.status().message().find("already used"), std::string::npos);
  EXPECT_FALSE(auth_->Refresh(second->refresh_token, "10.2.2.2").ok());

  // Logout ends a session; a password change ends all of them.
  auto a = auth_->Login("lee", "pw-lee", "10.2.2.2");
  auto b = auth_->Login("lee", "pw-lee", "10.2.2.3");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(auth_->Logout(a->refresh_token, "10.2.2.2").ok());
  EXPECT_FALSE(auth_->Refresh(a->refresh_token, "10.2.2.2").ok());
  auto lee = auth_->GetUserByName("lee");
  ASSERT_TRUE(lee.ok());
  ASSERT_TRUE(auth_->UpdateUser(Admin(), lee->id, UserUpdate{.password = std::string("pw-new")}).ok());
  EXPECT_FALSE(auth_->Refresh(b->refresh_token, "10.2.2.3").ok());

  // Refresh tokens expire (30 days).
  auto c = auth_->Login("lee", "pw-new", "10.2.2.2");
  ASSERT_TRUE(c.ok());
  now_ += 31 * 24 * 3600;
  auto expired = auth_->Refresh(c->refresh_token, "10.2.2.2");
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);

  // Logins and refreshes are audited, and no token appears in the log.
  auto log = auth_->ListAudit({});
  ASSERT_TRUE(log.ok());
  int logins = 0;
  for (const auto& e : log->items) {
    if (e.action == "auth.login") ++logins;
    EXPECT_EQ(e.detail.find(c->refresh_token), std::string::npos);
  }
  EXPECT_EQ(logins, 4);
}

// The reported gap: a replayed refresh token ended the refresh tokens, but the access tokens
// handed out (to the owner and to whoever holds the copy) kept working until they expired.
// Now every access token of the user stops at once, in every process sharing the store and
// after a restart; a password change and disabling the user do the same.
TEST_P(AuthServiceTest, EndingTheSessionsEndsTheAccessTokensToo) {
  const int64_t ann = AddUser("ann", {"user"});
  AddUser("bob", {"user"});
  auto laptop = auth_->Login("ann", "pw-ann", "10.3.3.1");
  auto phone = auth_->Login("ann", "pw-ann", "10.3.3.2");
  auto bob = auth_->Login("bob", "pw-bob", "10.3.3.3");
  ASSERT_TRUE(laptop.ok() && phone.ok() && bob.ok());
  auto rotated = auth_->Refresh(laptop->refresh_token, "10.3.3.1");
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  const std::vector<std::string> ann_tokens = {laptop->access_token, rotated->access_token,
                                               phone->access_token};
  for (const std::string& t : ann_tokens) ASSERT_TRUE(auth_->Authenticate(t).ok());

  // The spent refresh token comes back (a thief's copy, or the owner's after a theft).
  auto replay = auth_->Refresh(laptop->refresh_token, "10.9.9.9");
  ASSERT_FALSE(replay.ok());
  auto ended = [&](const std::string& token) {
    auto p = auth_->Authenticate(token);
    if (p.ok()) return ::testing::AssertionFailure() << "still accepted";
    if (p.status().code() != StatusCode::kUnauthenticated ||
        p.status().message().find("session has ended") == std::string::npos) {
      return ::testing::AssertionFailure() << p.status().ToString();
    }
    return ::testing::AssertionSuccess();
  };
  for (const std::string& t : ann_tokens) EXPECT_TRUE(ended(t));
  EXPECT_FALSE(auth_->Refresh(rotated->refresh_token, "10.3.3.1").ok());
  EXPECT_FALSE(auth_->Refresh(phone->refresh_token, "10.3.3.2").ok());
  EXPECT_TRUE(auth_->Authenticate(bob->access_token).ok()) << "another user's session is untouched";

  // The end is in the store: a restarted server (or another one on the store) refuses them too,
  // while a new login works.
  Restart();
  for (const std::string& t : ann_tokens) EXPECT_TRUE(ended(t));
  auto again = auth_->Login("ann", "pw-ann", "10.3.3.1");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(auth_->Authenticate(again->access_token).ok());
  Restart();
  EXPECT_TRUE(auth_->Authenticate(again->access_token).ok());
  EXPECT_TRUE(auth_->Authenticate(bob->access_token).ok());

  // A password change ends the access tokens as well as the refresh tokens.
  ASSERT_TRUE(auth_->UpdateUser(Admin(), ann, UserUpdate{.password = std::string("pw-ann2")}).ok());
  EXPECT_TRUE(ended(again->access_token));
  EXPECT_FALSE(auth_->Refresh(again->refresh_token, "10.3.3.1").ok());

  // A refresh token issued under an older generation and never revoked (a login whose tokens
  // were made while a password change ended the sessions) is refused without ending anything.
  auto current = auth_->Login("ann", "pw-ann2", "10.3.3.1");
  ASSERT_TRUE(current.ok());
  const int64_t generation = store_->GetUser(ann)->session_generation;
  ASSERT_GT(generation, 0);
  store::RefreshToken stale;
  stale.token_hash = HashOpaqueToken("stale-refresh-token");
  stale.user_id = ann;
  stale.expires_at = now_ + 3600;
  stale.session_generation = generation - 1;
  ASSERT_TRUE(store_->CreateRefreshToken(stale).ok());
  auto refused = auth_->Refresh("stale-refresh-token", "10.3.3.1");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("session has ended"), std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(auth_->Authenticate(current->access_token).ok());
  EXPECT_TRUE(auth_->Refresh(current->refresh_token, "10.3.3.1").ok());

  // Only our generation is good: one from before or after is refused.
  for (int64_t other : {generation - 1, generation + 1}) {
    auto t = issuer_->Issue(ann, other, 600);
    ASSERT_TRUE(t.ok());
    EXPECT_TRUE(ended(t->token)) << other;
  }
}

// The rule behind every admin change, as a property: whatever a caller with a random set of
// rights asks (create or change users, roles and keys, set limits, revoke, delete), no change that
// succeeds leaves a principal with a right the caller lacks. Rights are compared on concrete
// permissions, through keys authenticated as any client would, with Principal::Allows and
// MayUseModel (the check every request passes), not with the glob reasoning under test.
TEST_P(AuthServiceTest, NoChangeLeavesAPrincipalWithRightsBeyondTheCaller) {
  const std::vector<std::string> grants = {"*", "models:use:*", "models:use:a", "models:use:b", "models:use:a*",
                                           "models:use:?", "models:manage", "keys:manage", "users:manage",
                                           "logs:read", "metrics:read"};
  const std::vector<std::string> models = {"a", "b", "ab", "c"};
  const std::vector<std::string> fixed = {"models:manage", "keys:manage", "users:manage", "logs:read", "metrics:read"};
  std::mt19937 rng(GetParam() == Backend::kSqlite ? 7 : 8);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto subset = [&](const std::vector<std::string>& from, int max) {
    std::vector<std::string> out;
    for (int n = static_cast<int>(pick(static_cast<size_t>(max) + 1)); n > 0; --n) {
      const std::string& g = from[pick(from.size())];
      if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
    }
    return out;
  };
  // a's rights are within b's, on every concrete permission.
  auto within = [&](const Principal& a, const Principal& b) -> std::string {
    for (const std::string& f : fixed) {
      if (a.Allows(f) && !b.Allows(f)) return f;
    }
    for (const std::string& m : models) {
      if (a.MayUseModel(m) && !b.MayUseModel(m)) return "models:use:" + m;
    }
    return "";
  };

  std::vector<std::string> role_names = {"admin", "operator", "user"};
  for (int r = 0; r < 4; ++r) {
    const std::string name = "r" + std::to_string(r);
    ASSERT_TRUE(auth_->PutRole(Admin(), store::Role{name, subset(grants, 3)}).ok());
    role_names.push_back(name);
  }
  std::vector<int64_t> users;
  for (int u = 0; u < 6; ++u) users.push_back(AddUser("u" + std::to_string(u), subset(role_names, 2)));
  std::vector<int64_t> keys;
  for (int64_t u : users) {
    auto k = auth_->CreateKey(Admin(), NewKey{.owner_user_id = u});
    ASSERT_TRUE(k.ok());
    keys.push_back(k->key.id);
  }
  // The rights a user holds now: those of a fresh key of theirs, as a client would see them.
  auto user_rights = [&](int64_t user) -> Result<Principal> {
    LLMUX_ASSIGN_OR_RETURN(CreatedKey k, auth_->CreateKey(Admin(), NewKey{.owner_user_id = user}));
    return auth_->Authenticate(k.full_key);
  };

  // The rights of a stored key: its scopes, bounded by its owner's roles when it has an owner.
  auto key_rights = [&](const store::ApiKey& key) {
    Principal p;
    if (key.owner_user_id == 0) {
      for (const std::string& g : key.scopes) p.permissions.Add(g);
    } else {
      auto owner = user_rights(key.owner_user_id);
      if (owner.ok()) p = *owner;
      for (const std::string& g : key.scopes) p.scopes.Add(g);
    }
    p.allowed_models = key.allowed_models;
    return p;
  };

  const int rounds = GetParam() == Backend::kSqlite ? 400 : 120;
  int allowed = 0, refused = 0, unique = 0;
  for (int round = 0; round < rounds; ++round) {
    Principal caller;
    caller.subject = "key:caller";
    for (const std::string& g : subset(grants, 4)) caller.permissions.Add(g);
    if (pick(3) == 0) {
      for (const std::string& g : subset(grants, 3)) caller.scopes.Add(g);
    }
    if (pick(4) == 0) caller.allowed_models = subset(models, 2);
    const Actor actor{caller, "property"};
    const std::string trace = "round " + std::to_string(round);
    // What the change left behind, and must be within the caller: a principal whose rights were
    // granted or whose account was touched.
    std::optional<Principal> result;
    bool ok = false;
    switch (pick(8)) {
      case 0: {  // a new user with roles
        auto u = auth_->CreateUser(actor, NewUser{"n" + std::to_string(unique++), "", subset(role_names, 2)});
        ok = u.ok();
        if (ok) {
          users.push_back(u->id);
          auto p = user_rights(u->id);
          ASSERT_TRUE(p.ok()) << p.status().ToString();
          result = *p;
        }
        break;
      }
      case 1: {  // other roles, or a new password (a takeover), for an existing user
        const int64_t u = users[pick(users.size())];
        UserUpdate update;
        if (pick(2)) update.roles = subset(role_names, 2);
        else update.password = "taken-over";
        ok = auth_->UpdateUser(actor, u, update).ok();
        if (ok) {
          auto p = user_rights(u);
          ASSERT_TRUE(p.ok()) << p.status().ToString();
          result = *p;
        }
        break;
      }
      case 2: {  // a custom role, new or changed: check through a user who holds it
        const std::string name = "r" + std::to_string(pick(6));
        ok = auth_->PutRole(actor, store::Role{name, subset(grants, 3)}).ok();
        if (ok) {
          if (std::find(role_names.begin(), role_names.end(), name) == role_names.end()) role_names.push_back(name);
          const int64_t holder = AddUser("h" + std::to_string(unique++), {name});
          auto p = user_rights(holder);
          ASSERT_TRUE(p.ok()) << p.status().ToString();
          result = *p;
        }
        break;
      }
      case 3:
      case 4: {  // a key, for a user or ownerless, with or without scopes and models
        NewKey spec;
        spec.owner_user_id = pick(4) == 0 ? 0 : users[pick(users.size())];
        spec.scopes = subset(grants, 2);
        if (pick(3) == 0) spec.allowed_models = subset(models, 2);
        auto k = auth_->CreateKey(actor, spec);
        ok = k.ok();
        if (ok) {
          keys.push_back(k->key.id);
          auto p = auth_->Authenticate(k->full_key);
          if (p.ok()) result = *p;  // an ownerless key of scopes only: refused below if not
          else ADD_FAILURE() << trace << ": " << p.status().ToString();
        }
        break;
      }
      case 5: {  // limits on a key
        const int64_t id = keys[pick(keys.size())];
        ok = auth_->SetKeyLimits(actor, id, store::Limits{.requests_per_minute = 1}).ok();
        if (ok) {
          auto key = store_->GetApiKey(id);
          ASSERT_TRUE(key.ok());
          result = key_rights(*key);
        }
        break;
      }
      case 6: {  // revoke a key (checked as the limits are, before it goes)
        const int64_t id = keys[pick(keys.size())];
        auto key = store_->GetApiKey(id);
        if (!key.ok()) break;  // gone with its deleted owner
        const Principal p = key_rights(*key);
        ok = auth_->RevokeKey(actor, id).ok();
        if (ok) result = p;
        break;
      }
      case 7: {  // delete a user (checked before it goes)
        const int64_t u = users[pick(users.size())];
        auto before = user_rights(u);
        if (!before.ok()) break;  // already deleted
        ok = auth_->DeleteUser(actor, u).ok();
        if (ok) result = *before;
        break;
      }
    }
    (ok ? allowed : refused)++;
    if (result) {
      const std::string beyond = within(*result, caller);
      EXPECT_EQ(beyond, "") << trace << ": a change left a principal holding '" << beyond
                            << "', which the caller does not hold";
    }
  }
  // Both outcomes happened often enough for the property to mean something.
  EXPECT_GT(allowed, rounds / 10);
  EXPECT_GT(refused, rounds / 10);
  RecordProperty("allowed", allowed);
  RecordProperty("refused", refused);
}

TEST_P(AuthServiceTest, TheReportedEscalationsAreRefused) {
  const int64_t root = AddUser("root", {"admin"});
  Principal keys_only;
  keys_only.subject = "key:keys-only";
  keys_only.permissions.Add("keys:manage");
  // A keys:manage key creates a key for an admin user: it would carry the admin's rights.
  auto key = auth_->CreateKey(Actor{keys_only, "t"}, NewKey{.owner_user_id = root});
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(key.status().message().find("'*'"), std::string::npos) << key.status().ToString();
  // Nor may it limit or revoke the admin's keys.
  const std::string admin_key = AddKey(NewKey{.owner_user_id = root});
  auto admin_principal = auth_->Authenticate(admin_key);
  ASSERT_TRUE(admin_principal.ok());
  EXPECT_EQ(auth_->SetKeyLimits(Actor{keys_only, "t"}, admin_principal->key_id, store::Limits{.requests_per_minute = 1})
                .code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(auth_->RevokeKey(Actor{keys_only, "t"}, admin_principal->key_id).code(), StatusCode::kPermissionDenied);

  Principal users_only;
  users_only.subject = "key:users-only";
  users_only.permissions.Add("users:manage");
  const Actor u{users_only, "t"};
  EXPECT_EQ(auth_->CreateUser(u, NewUser{"mallory", "", {"admin"}}).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(auth_->PutRole(u, store::Role{"everything", {"*"}}).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(auth_->PutRole(u, store::Role{"models", {"models:use:*"}}).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(auth_->UpdateUser(u, root, UserUpdate{.password = "mine now"}).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(auth_->DeleteUser(u, root).code(), StatusCode::kPermissionDenied);
  // What it holds, it may hand out: a role of users:manage only, and a user with that role.
  ASSERT_TRUE(auth_->PutRole(u, store::Role{"helpers", {"users:manage"}}).ok());
  EXPECT_TRUE(auth_->CreateUser(u, NewUser{"helper", "", {"helpers"}}).ok());
  // A glob is handed out only when the caller's grant covers all of it.
  Principal qwen;
  qwen.subject = "key:qwen";
  qwen.permissions.Add("users:manage");
  qwen.permissions.Add("models:use:qwen*");
  EXPECT_TRUE(auth_->PutRole(Actor{qwen, "t"}, store::Role{"q3", {"models:use:qwen3-*"}}).ok());
  EXPECT_FALSE(auth_->PutRole(Actor{qwen, "t"}, store::Role{"any", {"models:use:*"}}).ok());
  Principal one_char;
  one_char.subject = "key:one-char";
  one_char.permissions.Add("users:manage");
  one_char.permissions.Add("models:use:?");
  EXPECT_FALSE(auth_->PutRole(Actor{one_char, "t"}, store::Role{"star", {"models:use:*"}}).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthServiceTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

}  // namespace
}  // namespace llmux::auth
