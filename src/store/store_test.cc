// One behaviour suite, run against both backends (SQLite file, throwaway PostgreSQL server).
#include "store/store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "store/migrations.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "store/test_postgres_server.h"

namespace llmux::store {
namespace {

namespace fs = std::filesystem;
using Rows = std::vector<std::vector<std::string>>;

enum class Backend { kSqlite, kPostgres };

// "u3"; snprintf because GCC 12 misreports a -Wrestrict overlap for "u" + std::to_string(i).
std::string Numbered(const char* prefix, int i) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s%d", prefix, i);
  return buf;
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      // scripts/setup installs PostgreSQL: a missing server is a failure, never a skip.
      auto server = testing::TestPostgresServer::Get();
      ASSERT_TRUE(server.ok()) << server.status().ToString();
      auto conninfo = (*server)->CreateDatabase();
      ASSERT_TRUE(conninfo.ok()) << conninfo.status().ToString();
      conninfo_ = *conninfo;
    } else {
      char tmpl[] = "/tmp/llmux-store-XXXXXX";
      ASSERT_NE(mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
      path_ = dir_ + "/store.db";
    }
    auto s = Open();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  Result<std::unique_ptr<Store>> Open() {
    return GetParam() == Backend::kSqlite ? OpenSqliteStore(path_) : OpenPostgresStore(conninfo_);
  }

  // Closes the store and opens the same database again (a restart).
  void Reopen() {
    store_.reset();
    auto s = Open();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  // Runs SQL on the database directly, bypassing the store; NULLs read as "".
  Rows Raw(const std::string& sql) {
    Rows rows;
    if (GetParam() == Backend::kSqlite) {
      sqlite3* db = nullptr;
      EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
      sqlite3_stmt* stmt = nullptr;
      EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
          << sqlite3_errmsg(db);
      int rc;
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        std::vector<std::string> row;
        for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
          const auto* t = sqlite3_column_text(stmt, c);
          row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
        }
        rows.push_back(row);
      }
      EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(db);
      sqlite3_finalize(stmt);
      sqlite3_close(db);
    } else {
      PGconn* conn = PQconnectdb(conninfo_.c_str());
      EXPECT_EQ(PQstatus(conn), CONNECTION_OK);
      PGresult* res = PQexec(conn, sql.c_str());
      const auto st = PQresultStatus(res);
      EXPECT_TRUE(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) << PQerrorMessage(conn);
      for (int r = 0; r < PQntuples(res); ++r) {
        std::vector<std::string> row;
        for (int c = 0; c < PQnfields(res); ++c) row.emplace_back(PQgetvalue(res, r, c));
        rows.push_back(row);
      }
      PQclear(res);
      PQfinish(conn);
    }
    return rows;
  }

  User MakeUser(const std::string& name) {
    User u;
    u.name = name;
    u.password_hash = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA-" + name;
    u.roles = {"user"};
    auto r = store_->CreateUser(u);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : User{};
  }

  ApiKey MakeKey(const std::string& prefix, int64_t owner) {
    ApiKey k;
    k.prefix = prefix;
    k.secret_hash = "sha256:secret-of-" + prefix;
    k.owner_user_id = owner;
    k.name = "key " + prefix;
    auto r = store_->CreateApiKey(k);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ApiKey{};
  }

  std::string dir_, path_, conninfo_;
  std::unique_ptr<Store> store_;
};

// ------------------------------------------------------------------------- users

TEST_P(StoreTest, UserCrud) {
  User in;
  in.name = "alice";
  in.password_hash = "$argon2id$opaque";
  in.roles = {"admin", "user"};
  auto created = store_->CreateUser(in);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_GT(created->id, 0);
  EXPECT_GT(created->created_at, 1600000000);  // defaulted to now

  auto by_id = store_->GetUser(created->id);
  ASSERT_TRUE(by_id.ok()) << by_id.status().ToString();
  EXPECT_EQ(by_id->name, "alice");
  EXPECT_EQ(by_id->password_hash, "$argon2id$opaque");
  EXPECT_EQ(by_id->roles, (std::vector<std::string>{"admin", "user"}));
  EXPECT_FALSE(by_id->disabled);
  EXPECT_EQ(by_id->created_at, created->created_at);

  auto by_name = store_->GetUserByName("alice");
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(by_name->id, created->id);

  ASSERT_TRUE(store_->UpdatePasswordHash(created->id, "$argon2id$new").ok());
  ASSERT_TRUE(store_->SetUserRoles(created->id, {"operator"}).ok());
  ASSERT_TRUE(store_->SetUserDisabled(created->id, true).ok());
  auto updated = store_->GetUser(created->id);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->password_hash, "$argon2id$new");
  EXPECT_EQ(updated->roles, std::vector<std::string>{"operator"});
  EXPECT_TRUE(updated->disabled);

  auto count = store_->CountUsers();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1);

  ASSERT_TRUE(store_->DeleteUser(created->id).ok());
  EXPECT_EQ(store_->GetUser(created->id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetUserByName("alice").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteUser(created->id).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->UpdatePasswordHash(created->id, "x").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->SetUserRoles(created->id, {}).code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, UserNameIsUniqueAndErrorsHideHashes) {
  MakeUser("bob");
  User dup;
  dup.name = "bob";
  dup.password_hash = "$argon2id$super-secret-hash";
  auto r = store_->CreateUser(dup);
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists) << r.status().ToString();
  EXPECT_NE(r.status().message().find("bob"), std::string::npos);
  EXPECT_EQ(r.status().message().find("super-secret-hash"), std::string::npos);

  User empty;
  EXPECT_EQ(store_->CreateUser(empty).status().code(), StatusCode::kInvalidArgument);
  // Names are case-sensitive and compared exactly.
  EXPECT_TRUE(store_->CreateUser(User{.name = "Bob"}).ok());
}

TEST_P(StoreTest, UserPaginationThreePagesOfTwo) {
  std::set<int64_t> created;
  for (int i = 0; i < 6; ++i) created.insert(MakeUser(Numbered("u", i)).id);
  std::set<int64_t> seen;
  Page page{.after_id = 0, .limit = 2};
  int pages = 0;
  int64_t last_id = 0;
  for (;;) {
    auto r = store_->ListUsers(page);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ++pages;
    ASSERT_LE(r->items.size(), 2u);
    for (const User& u : r->items) {
      EXPECT_GT(u.id, last_id) << "ordered by id, no overlap";
      last_id = u.id;
      EXPECT_TRUE(seen.insert(u.id).second);
    }
    if (!r->has_more) {
      EXPECT_EQ(r->next_cursor, 0);
      break;
    }
    EXPECT_EQ(r->next_cursor, r->items.back().id);
    page.after_id = r->next_cursor;
    ASSERT_LT(pages, 10) << "pagination does not stop";
  }
  EXPECT_EQ(pages, 3);  // exactly full pages: the last one says no more remain
  EXPECT_EQ(seen, created);

  auto past_end = store_->ListUsers(Page{.after_id = last_id, .limit = 2});
  ASSERT_TRUE(past_end.ok());
  EXPECT_TRUE(past_end->items.empty());
  EXPECT_FALSE(past_end->has_more);

  EXPECT_EQ(store_->ListUsers(Page{.after_id = 0, .limit = 0}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ListUsers(Page{.after_id = 0, .limit = 100000}).status().code(),
            StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------------------- roles

TEST_P(StoreTest, RoleUpsertListDelete) {
  ASSERT_TRUE(store_->UpsertRole({"user", {"models:use:*"}, true}).ok());
  ASSERT_TRUE(store_->UpsertRole({"analyst", {"logs:read", "metrics:read"}, false}).ok());

  auto analyst = store_->GetRole("analyst");
  ASSERT_TRUE(analyst.ok()) << analyst.status().ToString();
  EXPECT_EQ(analyst->permissions, (std::vector<std::string>{"logs:read", "metrics:read"}));
  EXPECT_FALSE(analyst->builtin);

  // Upsert replaces permissions.
  ASSERT_TRUE(store_->UpsertRole({"analyst", {"logs:read"}, false}).ok());
  EXPECT_EQ(store_->GetRole("analyst")->permissions, std::vector<std::string>{"logs:read"});
  // Built in stays built in even when an update says otherwise.
  ASSERT_TRUE(store_->UpsertRole({"user", {"models:use:qwen*"}, false}).ok());
  auto user = store_->GetRole("user");
  ASSERT_TRUE(user.ok());
  EXPECT_TRUE(user->builtin);
  EXPECT_EQ(user->permissions, std::vector<std::string>{"models:use:qwen*"});

  auto list = store_->ListRoles();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "analyst");  // by name
  EXPECT_EQ((*list)[1].name, "user");

  EXPECT_EQ(store_->DeleteRole("user").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->GetRole("user").ok());
  EXPECT_TRUE(store_->DeleteRole("analyst").ok());
  EXPECT_EQ(store_->GetRole("analyst").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteRole("analyst").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->UpsertRole({"", {}, false}).code(), StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------------------- prompts

TEST_P(StoreTest, PromptUpsertGetListDelete) {
  using prompts::Prompt;
  prompts::PromptStore& prompts = *store_;  // what PromptService is handed
  Prompt p;
  p.name = "translate-formal";
  p.title = "Formal translation";
  p.description = "Translate, formally";
  p.arguments = {{"text", std::nullopt, true}, {"to", "language", std::nullopt}};
  p.messages = {{"user", "Translate formally: {{text}}"}, {"assistant", "Into {{to}}?"}};
  p.updated_by = "alice";
  p.updated_at = 1700000000;
  ASSERT_TRUE(prompts.UpsertPrompt(p).ok());
  Prompt q = p;
  q.name = "a-first";
  q.arguments = {};
  q.updated_at = 0;  // now
  ASSERT_TRUE(prompts.UpsertPrompt(q).ok());

  auto list = prompts.ListPrompts();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a-first");  // by name
  EXPECT_GT((*list)[0].updated_at, 1700000000);
  EXPECT_TRUE((*list)[0].arguments.empty());
  const Prompt& got = (*list)[1];
  EXPECT_EQ(got.title, p.title);
  EXPECT_EQ(got.description, p.description);
  EXPECT_EQ(got.arguments, p.arguments);
  EXPECT_EQ(got.messages, p.messages);
  EXPECT_EQ(got.updated_by, "alice");
  EXPECT_EQ(got.updated_at, 1700000000);
  // The columns keep the admin API's JSON shapes, left-out argument fields left out.
  const Rows raw = Raw("SELECT arguments, messages FROM prompts WHERE name = 'translate-formal'");
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_EQ(raw[0][0], R"([{"name":"text","required":true},{"description":"language","name":"to"}])");
  EXPECT_EQ(raw[0][1],
            R"([{"role":"user","text":"Translate formally: {{text}}"},{"role":"assistant","text":"Into {{to}}?"}])");

  auto one = prompts.GetPrompt("translate-formal");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->arguments, p.arguments);
  EXPECT_EQ(prompts.GetPrompt("nosuch").status().code(), StatusCode::kNotFound);

  // Upsert replaces.
  p.description = "changed";
  ASSERT_TRUE(prompts.UpsertPrompt(p).ok());
  EXPECT_EQ((*prompts.ListPrompts())[1].description, "changed");
  EXPECT_EQ(prompts.ListPrompts()->size(), 2u);

  EXPECT_TRUE(prompts.DeletePrompt("a-first").ok());
  EXPECT_EQ(prompts.DeletePrompt("a-first").code(), StatusCode::kNotFound);
  EXPECT_EQ(prompts.ListPrompts()->size(), 1u);
  EXPECT_EQ(prompts.UpsertPrompt(Prompt{}).code(), StatusCode::kInvalidArgument);

  // A row that does not decode is data loss, not an empty template.
  Raw("UPDATE prompts SET messages = '[{\"role\": 1}]' WHERE name = 'translate-formal'");
  EXPECT_EQ(prompts.GetPrompt("translate-formal").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(prompts.ListPrompts().status().code(), StatusCode::kDataLoss);
}

// ------------------------------------------------------------------------- api keys

TEST_P(StoreTest, ApiKeyRoundTripsEveryField) {
  const User owner = MakeUser("carol");
  ApiKey in;
  in.prefix = "llmux_ab12";
  in.secret_hash = "sha256:0123456789abcdef";
  in.owner_user_id = owner.id;
  in.name = "ci pipeline";
  in.scopes = {"inference", "models:list"};
  in.allowed_models = {"qwen*", "llama-3.*"};
  in.expires_at = 1900000000;
  in.created_at = 1700000000;
  in.limits = {.requests_per_minute = 60,
               .tokens_per_minute = 10000,
               .max_concurrent = 4,
               .token_budget = 1000000,
               .budget_period_seconds = 86400};
  auto created = store_->CreateApiKey(in);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_GT(created->id, 0);

  auto found = store_->FindApiKeyByPrefix("llmux_ab12");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->id, created->id);
  EXPECT_EQ(found->secret_hash, in.secret_hash);
  EXPECT_EQ(found->owner_user_id, owner.id);
  EXPECT_EQ(found->name, "ci pipeline");
  EXPECT_EQ(found->scopes, in.scopes);
  EXPECT_EQ(found->allowed_models, in.allowed_models);
  EXPECT_EQ(found->expires_at, 1900000000);
  EXPECT_EQ(found->revoked_at, 0);
  EXPECT_EQ(found->last_used_at, 0);
  EXPECT_EQ(found->created_at, 1700000000);
  EXPECT_EQ(found->limits, in.limits);

  ASSERT_TRUE(store_->TouchApiKey(created->id, 1800000123).ok());
  ASSERT_TRUE(store_->RevokeApiKey(created->id, 1800000200).ok());
  ASSERT_TRUE(store_->RevokeApiKey(created->id, 1800000999).ok());  // keeps the first time
  Limits changed{.requests_per_minute = 5};
  ASSERT_TRUE(store_->SetApiKeyLimits(created->id, changed).ok());
  auto got = store_->GetApiKey(created->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->last_used_at, 1800000123);
  EXPECT_EQ(got->revoked_at, 1800000200);
  EXPECT_EQ(got->limits, changed);
  EXPECT_EQ(got->expires_at, 1900000000);

  EXPECT_EQ(store_->SetApiKeyLimits(created->id, Limits{.max_concurrent = -1}).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(store_->DeleteApiKey(created->id).ok());
  EXPECT_EQ(store_->GetApiKey(created->id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FindApiKeyByPrefix("llmux_ab12").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->RevokeApiKey(created->id, 1).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->TouchApiKey(created->id, 1).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteApiKey(created->id).code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, ApiKeyUniquenessAndOwnerChecks) {
  const User owner = MakeUser("dave");
  MakeKey("pfx1", owner.id);
  ApiKey dup;
  dup.prefix = "pfx1";
  dup.secret_hash = "sha256:do-not-print-me";
  auto r = store_->CreateApiKey(dup);
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists) << r.status().ToString();
  EXPECT_EQ(r.status().message().find("do-not-print-me"), std::string::npos);

  ApiKey orphan;
  orphan.prefix = "pfx2";
  orphan.secret_hash = "h";
  orphan.owner_user_id = owner.id + 1000;
  EXPECT_EQ(store_->CreateApiKey(orphan).status().code(), StatusCode::kNotFound);

  // A system key (no owner) is allowed, e.g. the bootstrap admin key.
  const ApiKey system = MakeKey("pfx3", 0);
  EXPECT_EQ(store_->GetApiKey(system.id)->owner_user_id, 0);

  ApiKey no_hash;
  no_hash.prefix = "pfx4";
  EXPECT_EQ(store_->CreateApiKey(no_hash).status().code(), StatusCode::kInvalidArgument);
  auto count = store_->CountApiKeys();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 2);
}

TEST_P(StoreTest, ApiKeyListPaginatesAndFiltersByOwner) {
  const User a = MakeUser("a");
  const User b = MakeUser("b");
  std::vector<int64_t> a_keys;
  for (int i = 0; i < 5; ++i) {
    a_keys.push_back(MakeKey(Numbered("a", i), a.id).id);
    MakeKey(Numbered("b", i), b.id);
  }
  MakeKey("sys", 0);

  std::vector<int64_t> seen;
  Page page{.after_id = 0, .limit = 2};
  for (int i = 0; i < 10; ++i) {
    auto r = store_->ListApiKeys(page, a.id);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (const ApiKey& k : r->items) {
      EXPECT_EQ(k.owner_user_id, a.id);
      seen.push_back(k.id);
    }
    if (!r->has_more) break;
    page.after_id = r->next_cursor;
  }
  EXPECT_EQ(seen, a_keys);

  auto all = store_->ListApiKeys(Page{.after_id = 0, .limit = 100}, std::nullopt);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 11u);
  auto ownerless = store_->ListApiKeys(Page{.after_id = 0, .limit = 100}, int64_t{0});
  ASSERT_TRUE(ownerless.ok());
  ASSERT_EQ(ownerless->items.size(), 1u);
  EXPECT_EQ(ownerless->items[0].prefix, "sys");
}

TEST_P(StoreTest, DeletingUserDeletesTheirKeysAndTokens) {
  const User u = MakeUser("erin");
  const User other = MakeUser("frank");
  const ApiKey k = MakeKey("erin1", u.id);
  const ApiKey kept = MakeKey("frank1", other.id);
  auto t = store_->CreateRefreshToken({.token_hash = "th-erin", .user_id = u.id, .expires_at = 5});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_TRUE(store_->DeleteUser(u.id).ok());
  EXPECT_EQ(store_->GetApiKey(k.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FindRefreshToken("th-erin").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetApiKey(kept.id).ok());
}

// ------------------------------------------------------------------------- usage

TEST_P(StoreTest, UsageCountersAddAndRead) {
  auto missing = store_->GetUsage("key:1", 1000);
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, 0);
  EXPECT_EQ(*store_->AddUsage("key:1", 1000, 10), 10);
  EXPECT_EQ(*store_->AddUsage("key:1", 1000, 32), 42);
  EXPECT_EQ(*store_->AddUsage("key:1", 2000, 5), 5);   // another period
  EXPECT_EQ(*store_->AddUsage("user:1", 1000, 7), 7);  // another subject
  EXPECT_EQ(*store_->GetUsage("key:1", 1000), 42);
  EXPECT_EQ(*store_->AddUsage("key:1", 1000, 0), 42);
  EXPECT_EQ(store_->AddUsage("key:1", 1000, -1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->AddUsage("", 1000, 1).status().code(), StatusCode::kInvalidArgument);
  // Large totals do not overflow 32 bits.
  EXPECT_EQ(*store_->AddUsage("key:2", 0, int64_t{5} << 33), int64_t{5} << 33);

  auto dropped = store_->DeleteUsageBefore(2000);
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, 3);  // key:1@1000, user:1@1000, key:2@0
  EXPECT_EQ(*store_->GetUsage("key:1", 1000), 0);
  EXPECT_EQ(*store_->GetUsage("key:1", 2000), 5);
}

TEST_P(StoreTest, UsageIncrementsAreAtomicAcrossThreadsAndConnections) {
  // Two stores (two database connections) on one database: the increment must be atomic in the
  // database, not only behind one process's mutex.
  auto second = Open();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  constexpr int kThreads = 8;
  constexpr int kAddsPerThread = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    Store* s = (t % 2 == 0) ? store_.get() : second->get();
    threads.emplace_back([s, t, &failures] {
      for (int i = 0; i < kAddsPerThread; ++i) {
        if (!s->AddUsage("key:7", 3600, t + 1).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  // sum over t of (t+1) * kAddsPerThread
  EXPECT_EQ(*store_->GetUsage("key:7", 3600),
            int64_t{kAddsPerThread} * (kThreads * (kThreads + 1) / 2));
}

// ------------------------------------------------------------------------- audit

TEST_P(StoreTest, AuditNewestFirstWithPaging) {
  audit::AuditLog& log = *store_;  // what the services are handed
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    AuditEvent e{.time_ms = 1700000000000 + i,
                 .actor = "user:" + std::to_string(i),
                 .action = "keys.create",
                 .target = "key:9",
                 .source = "10.0.0." + std::to_string(i),
                 .outcome = i % 2 ? "denied" : "ok",
                 .detail = "detail " + std::to_string(i)};
    auto id = log.Append(e);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    if (!ids.empty()) {
      EXPECT_GT(*id, ids.back());
    }
    ids.push_back(*id);
  }
  auto first = log.List(AuditPage{.before_id = 0, .limit = 3});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->items.size(), 3u);
  EXPECT_TRUE(first->has_more);
  EXPECT_EQ(first->items[0].id, ids[4]);
  EXPECT_EQ(first->items[1].id, ids[3]);
  EXPECT_EQ(first->items[2].id, ids[2]);
  const AuditEvent& newest = first->items[0];
  EXPECT_EQ(newest.time_ms, 1700000000004);
  EXPECT_EQ(newest.actor, "user:4");
  EXPECT_EQ(newest.action, "keys.create");
  EXPECT_EQ(newest.target, "key:9");
  EXPECT_EQ(newest.source, "10.0.0.4");
  EXPECT_EQ(newest.outcome, "ok");
  EXPECT_EQ(newest.detail, "detail 4");

  auto second = log.List(AuditPage{.before_id = first->next_cursor, .limit = 3});
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->items.size(), 2u);
  EXPECT_FALSE(second->has_more);
  EXPECT_EQ(second->items[0].id, ids[1]);
  EXPECT_EQ(second->items[1].id, ids[0]);
  EXPECT_EQ(second->items[1].outcome, "ok");
  EXPECT_EQ(second->items[0].outcome, "denied");

  // time defaults to now.
  auto id = log.Append(AuditEvent{.actor = "x"});
  ASSERT_TRUE(id.ok());
  auto latest = log.List(AuditPage{.before_id = 0, .limit = 1});
  ASSERT_TRUE(latest.ok());
  EXPECT_GT(latest->items[0].time_ms, int64_t{1600000000} * 1000);

  EXPECT_EQ(log.List(AuditPage{.before_id = 0, .limit = 0}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(log.List(AuditPage{.before_id = 0, .limit = 1001}).status().code(),
            StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------------------- refresh tokens

TEST_P(StoreTest, RefreshTokensCreateFindRotateRevoke) {
  const User u = MakeUser("gina");
  auto t1 =
      store_->CreateRefreshToken({.token_hash = "h1", .user_id = u.id, .expires_at = 2000000000});
  ASSERT_TRUE(t1.ok()) << t1.status().ToString();
  auto found = store_->FindRefreshToken("h1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->id, t1->id);
  EXPECT_EQ(found->user_id, u.id);
  EXPECT_EQ(found->expires_at, 2000000000);
  EXPECT_FALSE(found->revoked);
  EXPECT_EQ(found->rotated_from, 0);

  EXPECT_EQ(store_->CreateRefreshToken({.token_hash = "h1", .user_id = u.id}).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->CreateRefreshToken({.token_hash = "hx", .user_id = u.id + 99}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->FindRefreshToken("nope").status().code(), StatusCode::kNotFound);

  auto t2 =
      store_->RotateRefreshToken(t1->id, {.token_hash = "h2", .user_id = u.id, .expires_at = 7});
  ASSERT_TRUE(t2.ok()) << t2.status().ToString();
  EXPECT_EQ(t2->rotated_from, t1->id);
  EXPECT_TRUE(store_->FindRefreshToken("h1")->revoked);
  EXPECT_EQ(store_->FindRefreshToken("h2")->rotated_from, t1->id);

  // Replaying the old token fails and stores nothing.
  auto replay = store_->RotateRefreshToken(t1->id, {.token_hash = "h3", .user_id = u.id});
  EXPECT_EQ(replay.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->FindRefreshToken("h3").status().code(), StatusCode::kNotFound);
  // A failed insert inside the rotation rolls the revocation back.
  auto clash = store_->RotateRefreshToken(t2->id, {.token_hash = "h1", .user_id = u.id});
  EXPECT_EQ(clash.status().code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(store_->FindRefreshToken("h2")->revoked);

  // Ending the user's sessions revokes every refresh token and raises the generation, which
  // tokens carry from their issue and which survives a restart.
  EXPECT_EQ(store_->GetUser(u.id)->session_generation, 0);
  ASSERT_TRUE(
      store_->CreateRefreshToken({.token_hash = "h4", .user_id = u.id, .session_generation = 0})
          .ok());
  auto ended = store_->EndUserSessions(u.id);
  ASSERT_TRUE(ended.ok()) << ended.status().ToString();
  EXPECT_EQ(*ended, 1);
  EXPECT_TRUE(store_->FindRefreshToken("h2")->revoked);
  EXPECT_TRUE(store_->FindRefreshToken("h4")->revoked);
  EXPECT_EQ(store_->FindRefreshToken("h4")->session_generation, 0);
  EXPECT_EQ(*store_->EndUserSessions(u.id), 2);
  Reopen();
  EXPECT_EQ(store_->GetUser(u.id)->session_generation, 2);
  EXPECT_EQ(store_->GetUserByName(u.name)->session_generation, 2);
  auto h6 =
      store_->CreateRefreshToken({.token_hash = "h6", .user_id = u.id, .session_generation = 2});
  ASSERT_TRUE(h6.ok());
  EXPECT_EQ(h6->session_generation, 2);
  EXPECT_EQ(store_->FindRefreshToken("h6")->session_generation, 2);
  EXPECT_EQ(store_->EndUserSessions(u.id + 99).status().code(), StatusCode::kNotFound);
  // A new user starts at generation 0, whatever the caller passed.
  User fresh;
  fresh.name = "fresh-gen";
  fresh.session_generation = 7;
  EXPECT_EQ(store_->CreateUser(fresh)->session_generation, 0);

  auto t5 = store_->CreateRefreshToken({.token_hash = "h5", .user_id = u.id});
  ASSERT_TRUE(t5.ok());
  ASSERT_TRUE(store_->RevokeRefreshToken(t5->id).ok());
  EXPECT_TRUE(store_->FindRefreshToken("h5")->revoked);
  EXPECT_EQ(store_->RevokeRefreshToken(t5->id + 100).code(), StatusCode::kNotFound);
}

// ------------------------------------------------------------------------- restart, migrations

TEST_P(StoreTest, LimitsUsageAndEverythingSurviveARestart) {
  const User u = MakeUser("henry");
  ApiKey k;
  k.prefix = "persist";
  k.secret_hash = "h";
  k.owner_user_id = u.id;
  k.limits = {.requests_per_minute = 30,
              .tokens_per_minute = 900,
              .max_concurrent = 2,
              .token_budget = 5000,
              .budget_period_seconds = 3600};
  auto key = store_->CreateApiKey(k);
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(store_->AddUsage("key:" + std::to_string(key->id), 7200, 1234).ok());
  ASSERT_TRUE(store_->UpsertRole({"custom", {"models:use:qwen*"}, false}).ok());
  ASSERT_TRUE(store_->Append({.actor = "user:1", .action = "users.create"}).ok());
  const Limits user_limits{.requests_per_minute = 7, .tokens_per_minute = 70, .max_concurrent = 3,
                           .token_budget = 700, .budget_period_seconds = 60};
  ASSERT_TRUE(store_->SetUserLimits(u.id, user_limits).ok());
  EXPECT_EQ(store_->SetUserLimits(u.id + 1000, user_limits).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->SetUserLimits(u.id, {.max_concurrent = -1}).code(), StatusCode::kInvalidArgument);

  Reopen();
  EXPECT_EQ(store_->GetUser(u.id)->limits, user_limits);
  EXPECT_EQ(store_->ListUsers({})->items[0].limits, user_limits);
  auto again = store_->FindApiKeyByPrefix("persist");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->limits, k.limits);
  EXPECT_EQ(*store_->GetUsage("key:" + std::to_string(key->id), 7200), 1234);
  EXPECT_EQ(*store_->AddUsage("key:" + std::to_string(key->id), 7200, 6), 1240);
  EXPECT_TRUE(store_->GetUserByName("henry").ok());
  EXPECT_TRUE(store_->GetRole("custom").ok());
  EXPECT_EQ(store_->List({})->items.size(), 1u);
  // Ids are not reused after a restart.
  const User next = MakeUser("ivy");
  EXPECT_GT(next.id, u.id);
}

TEST_P(StoreTest, MigrationsAppliedOnceAndRecorded) {
  const int latest = LatestSchemaVersion();
  ASSERT_GE(latest, 2);
  auto version = store_->SchemaVersion();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, latest);

  const Rows before = Raw("SELECT version, applied_at FROM schema_migrations ORDER BY version");
  ASSERT_EQ(before.size(), static_cast<size_t>(latest));
  for (int i = 0; i < latest; ++i) EXPECT_EQ(before[i][0], std::to_string(i + 1));

  MakeUser("kept");
  Reopen();
  Reopen();
  // Not re-applied: same rows, same applied_at, data untouched.
  EXPECT_EQ(Raw("SELECT version, applied_at FROM schema_migrations ORDER BY version"), before);
  EXPECT_TRUE(store_->GetUserByName("kept").ok());
}

TEST_P(StoreTest, RefusesADatabaseFromTheFuture) {
  store_.reset();
  const int future = LatestSchemaVersion() + 1;
  Raw("INSERT INTO schema_migrations(version, applied_at) VALUES (" + std::to_string(future) +
      ", 0)");
  auto s = Open();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.status().message().find(std::to_string(future)), std::string::npos)
      << s.status().message();
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

// ------------------------------------------------------------------------- backend specifics

using SqliteStoreTest = StoreTest;

TEST_P(SqliteStoreTest, UsesWalJournal) {
  EXPECT_EQ(Raw("PRAGMA journal_mode"), Rows{{"wal"}});
  EXPECT_TRUE(fs::exists(path_ + "-wal"));
}

TEST_P(SqliteStoreTest, DatabaseAndItsWalFilesAreOwnerOnly) {
  // Written through the store, so that the -wal and -shm files exist; under the widest umask,
  // which SQLite's own default (0644) would leave readable to every user.
  const mode_t old_umask = ::umask(0);
  const std::string path = dir_ + "/private.db";
  {
    auto store = OpenSqliteStore(path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->CreateUser(User{.name = "alice"}).ok());
    for (const char* suffix : {"", "-wal", "-shm"}) {
      struct stat st {};
      ASSERT_EQ(::stat((path + suffix).c_str(), &st), 0) << suffix;
      EXPECT_EQ(st.st_mode & 0777, 0600u) << path << suffix;
    }
  }
  // A database an older version left 0644 is narrowed when it is opened again.
  ::chmod(path.c_str(), 0644);
  ASSERT_TRUE(OpenSqliteStore(path).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ::umask(old_umask);
}

TEST_P(SqliteStoreTest, BadPathsAreErrorsNotCrashes) {
  auto missing_dir = OpenSqliteStore(dir_ + "/no/such/dir/store.db");
  EXPECT_EQ(missing_dir.status().code(), StatusCode::kUnavailable)
      << missing_dir.status().ToString();
  EXPECT_EQ(OpenSqliteStore("").status().code(), StatusCode::kInvalidArgument);
  const std::string junk = dir_ + "/junk.db";
  {
    std::ofstream out(junk);
    out << std::string(8192, 'x');
  }
  auto not_db = OpenSqliteStore(junk);
  EXPECT_FALSE(not_db.ok());
  EXPECT_EQ(not_db.status().code(), StatusCode::kDataLoss) << not_db.status().ToString();
}

INSTANTIATE_TEST_SUITE_P(Backends, SqliteStoreTest, ::testing::Values(Backend::kSqlite),
                         [](const auto&) { return "Sqlite"; });

using PostgresStoreTest = StoreTest;

TEST_P(PostgresStoreTest, ReconnectsAfterTheServerDropsTheConnection) {
  MakeUser("before");
  // Kill every other session on this database (the store's), as a server restart would.
  const Rows killed =
      Raw("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
          "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  ASSERT_EQ(killed.size(), 1u);
  auto u = store_->GetUserByName("before");
  EXPECT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_TRUE(store_->CreateUser(User{.name = "after"}).ok());
}

TEST_P(PostgresStoreTest, UnreachableServerIsUnavailable) {
  auto s = OpenPostgresStore("host=127.0.0.1 port=1 user=postgres dbname=x connect_timeout=2");
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status().ToString();
}

INSTANTIATE_TEST_SUITE_P(Backends, PostgresStoreTest, ::testing::Values(Backend::kPostgres),
                         [](const auto&) { return "Postgres"; });

}  // namespace
}  // namespace llmux::store
