// RegistryService over real SQLite and PostgreSQL stores: versions named by digest (checked
// against coreutils' sha256sum), idempotent registration, refused files, tags and the
// ":latest" default, parameters, the change history, rollback (itself recorded and reversible),
// the audit events, and hostile names.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/gguf/gguf_writer.h"
#include "services/registry/load_settings.h"
#include "services/registry/registry_service.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "store/test_postgres_server.h"
#include "tests/support/test_paths.h"

namespace llmux::registry {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

enum class Backend { kSqlite, kPostgres };

// sha256sum's digest of the file: an implementation independent of the service's.
std::string Sha256Sum(const std::string& path) {
  std::string cmd = "sha256sum '" + path + "'";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  char buf[128] = {};
  std::string out = fgets(buf, sizeof buf, p) ? std::string(buf, 64) : "";
  pclose(p);
  return "sha256:" + out;
}

class RegistryTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/llmux-registry-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    if (GetParam() == Backend::kPostgres) {
      auto server = store::testing::TestPostgresServer::Get();
      ASSERT_TRUE(server.ok()) << server.status().ToString();
      auto conninfo = (*server)->CreateDatabase();
      ASSERT_TRUE(conninfo.ok()) << conninfo.status().ToString();
      auto s = store::OpenPostgresStore(*conninfo);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      store_ = std::move(s).value();
    } else {
      auto s = store::OpenSqliteStore(dir_ + "/store.db");
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      store_ = std::move(s).value();
    }
    service_ = std::make_unique<RegistryService>(*store_, *store_);
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  // A small valid GGUF whose bytes depend on `name`.
  std::string WriteGguf(const std::string& name) {
    gguf::GgufWriter w;
    w.SetString("general.architecture", "llama");
    w.SetString("general.name", name);
    const std::string path = dir_ + "/" + name + ".gguf";
    EXPECT_TRUE(w.Write(path).ok());
    return path;
  }

  Version MustRegister(const std::string& path, const std::string& model,
                       std::optional<std::string> tag = "latest") {
    auto r = service_->Register(admin_, {path, model, tag});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->version : Version{};
  }

  std::vector<audit::Event> AuditEvents() {
    auto page = store_->List(audit::Page{0, 1000});
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->items : std::vector<audit::Event>{};
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<RegistryService> service_;
  audit::Actor admin_{"user:1", "admin", "127.0.0.1"};
};

TEST_P(RegistryTest, RegisteringNamesTheVersionBySha256AndIsIdempotent) {
  // A real model file copied from the shared data, and a small one written here.
  const std::string real = dir_ + "/stories.gguf";
  fs::copy_file(testing::SharedPath("models/stories260K.gguf"), real);
  auto first = service_->Register(admin_, {real, "stories", "latest"});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->version.digest, Sha256Sum(real));
  EXPECT_EQ(first->version.size_bytes, static_cast<int64_t>(fs::file_size(real)));
  EXPECT_EQ(first->version.architecture, "llama");
  EXPECT_EQ(first->version.format, "gguf");
  EXPECT_EQ(first->version.path, fs::canonical(real).string());
  EXPECT_EQ(first->version.created_by, "admin");
  ASSERT_TRUE(first->tag_change);
  EXPECT_GT(first->tag_change->id, 0);

  // The same bytes under another path: the same version, nothing new recorded.
  const std::string again = dir_ + "/again.gguf";
  fs::copy_file(real, again);
  auto second = service_->Register(admin_, {again, "stories", "latest"});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->version.digest, first->version.digest);
  EXPECT_EQ(second->version.path, first->version.path);  // the stored version stands
  ASSERT_TRUE(second->tag_change);
  EXPECT_EQ(second->tag_change->id, 0);

  auto detail = service_->Show("stories");
  ASSERT_TRUE(detail.ok());
  EXPECT_EQ(detail->versions.size(), 1u);
  auto history = service_->History({"stories", 0, 50});
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->items.size(), 2u);  // register, tag
  EXPECT_EQ(history->items[1].kind, "version.register");
  EXPECT_EQ(history->items[0].kind, "tag.set");

  auto resolved = service_->Resolve("stories");  // no tag: latest
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(resolved->digest, first->version.digest);
}

TEST_P(RegistryTest, RefusesFilesThatAreNotReadableGgufWithTheReason) {
  const std::string text = dir_ + "/notes.txt";
  std::ofstream(text) << "not a model";
  auto r = service_->Register(admin_, {text, "m", "latest"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("not a readable GGUF"), std::string::npos)
      << r.status().message();

  // A real GGUF cut short.
  const std::string cut = dir_ + "/cut.gguf";
  fs::copy_file(testing::SharedPath("models/stories260K.gguf"), cut);
  fs::resize_file(cut, 100);
  r = service_->Register(admin_, {cut, "m", "latest"});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();

  r = service_->Register(admin_, {dir_ + "/missing.gguf", "m", "latest"});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();
  r = service_->Register(admin_, {dir_, "m", "latest"});  // a directory
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();

  auto models = service_->List();
  ASSERT_TRUE(models.ok());
  EXPECT_TRUE(models->empty());
  // Each refusal is audited as failed.
  int failed = 0;
  for (const auto& e : AuditEvents()) {
    if (e.action == "registry.version.register" && e.outcome == "failed") ++failed;
  }
  EXPECT_EQ(failed, 4);
}

TEST_P(RegistryTest, TagsMoveBetweenVersionsAndRollBack) {
  const Version v1 = MustRegister(WriteGguf("one"), "qwen3");
  const Version v2 = MustRegister(WriteGguf("two"), "qwen3", std::nullopt);
  ASSERT_NE(v1.digest, v2.digest);
  EXPECT_EQ(service_->Resolve("qwen3:latest")->digest, v1.digest);

  // Moved by a digest prefix.
  auto moved = service_->SetTag(admin_, "qwen3", "latest", v2.digest.substr(7, 16));
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(Json::parse(moved->before)["digest"], v1.digest);
  EXPECT_EQ(Json::parse(moved->after)["digest"], v2.digest);
  EXPECT_EQ(moved->actor, "user:1");
  EXPECT_EQ(moved->actor_name, "admin");
  EXPECT_EQ(service_->Resolve("qwen3")->digest, v2.digest);

  auto back = service_->Rollback(admin_, moved->id);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->rollback_of, moved->id);
  EXPECT_GT(back->id, moved->id);
  EXPECT_EQ(service_->Resolve("qwen3")->digest, v1.digest);
  // The rollback is itself a change, and rolling it back moves the tag forward again.
  ASSERT_TRUE(service_->Rollback(admin_, back->id).ok());
  EXPECT_EQ(service_->Resolve("qwen3")->digest, v2.digest);

  // A new tag rolled back is removed.
  auto stable = service_->SetTag(admin_, "qwen3", "stable", v1.digest);
  ASSERT_TRUE(stable.ok());
  EXPECT_EQ(stable->before, "null");
  ASSERT_TRUE(service_->Rollback(admin_, stable->id).ok());
  EXPECT_EQ(service_->Resolve("qwen3:stable").status().code(), StatusCode::kNotFound);

  // A tagged version cannot be removed (conflict); untagged, it can, and a rollback that
  // would point a tag at it again is a conflict.
  auto removed = service_->RemoveVersion(admin_, "qwen3", v2.digest);
  EXPECT_EQ(removed.status().code(), StatusCode::kAlreadyExists) << removed.status().ToString();
  ASSERT_TRUE(service_->SetTag(admin_, "qwen3", "latest", v1.digest).ok());
  ASSERT_TRUE(service_->RemoveVersion(admin_, "qwen3", v2.digest).ok());
  auto to_removed = service_->Rollback(admin_, back->id);  // before = v2, now gone
  EXPECT_EQ(to_removed.status().code(), StatusCode::kAlreadyExists)
      << to_removed.status().ToString();
  EXPECT_EQ(service_->Resolve("qwen3")->digest, v1.digest);

  // Unknown things.
  EXPECT_EQ(service_->SetTag(admin_, "nope", "latest", v1.digest).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(
      service_->SetTag(admin_, "qwen3", "latest", "sha256:" + std::string(64, 'e')).status().code(),
      StatusCode::kNotFound);
  EXPECT_EQ(service_->RemoveTag(admin_, "qwen3", "nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service_->Rollback(admin_, 999999).status().code(), StatusCode::kNotFound);
}

TEST_P(RegistryTest, ParametersAreRecordedAndRolledBack) {
  MustRegister(WriteGguf("p"), "llama");
  ModelParameters p;
  p.temperature = 0.25;
  p.max_tokens = 7;
  p.seed = 42;
  p.system_prompt = "Answer in French.";
  p.kv_type = "q8_0";
  auto first = service_->SetParameters(admin_, "llama", p);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(Json::parse(first->before), Json::object());
  EXPECT_EQ(Json::parse(first->after),
            Json::parse(R"({"temperature":0.25,"max_tokens":7,"seed":42,)"
                        R"("system_prompt":"Answer in French.","kv_type":"q8_0"})"));
  EXPECT_EQ(service_->DefaultsFor("llama:latest"), p);

  ModelParameters q;
  q.top_k = 5;
  auto second = service_->SetParameters(admin_, "llama", q);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(service_->Show("llama")->model.parameters, q);
  EXPECT_EQ(service_->DefaultsFor("llama"), q);  // seen at once, though cached

  auto rolled = service_->Rollback(admin_, second->id);
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(rolled->kind, "parameters.set");
  EXPECT_EQ(service_->Show("llama")->model.parameters, p);
  EXPECT_EQ(service_->DefaultsFor("llama"), p);
  EXPECT_EQ(service_->DefaultsFor("unknown"), std::nullopt);
  EXPECT_EQ(service_->DefaultsFor("bad name!"), std::nullopt);

  // Out of range values change nothing.
  ModelParameters bad;
  bad.top_p = 0;
  auto refused = service_->SetParameters(admin_, "llama", bad);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().field(), "top_p");
  bad = {};
  bad.seed = -1;
  EXPECT_EQ(service_->SetParameters(admin_, "llama", bad).status().field(), "seed");
  bad = {};
  bad.system_prompt = std::string(70000, 'x');
  EXPECT_EQ(service_->SetParameters(admin_, "llama", bad).status().field(), "system_prompt");
  EXPECT_EQ(service_->SetParameters(admin_, "ghost", p).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service_->Show("llama")->model.parameters, p);

  // Version registrations and removals are not rolled back.
  auto history = service_->History({"llama", 0, 50});
  ASSERT_TRUE(history.ok());
  const Change& oldest = history->items.back();
  EXPECT_EQ(oldest.kind, "version.register");
  EXPECT_EQ(service_->Rollback(admin_, oldest.id).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(RegistryTest, HistoryPagesNewestFirstAndEveryChangeIsAuditedOnce) {
  MustRegister(WriteGguf("h"), "a");
  MustRegister(WriteGguf("i"), "b");
  for (int i = 0; i < 5; ++i) {
    ModelParameters p;
    p.max_tokens = i + 1;
    ASSERT_TRUE(service_->SetParameters(admin_, "a", p).ok());
  }
  auto page = service_->History({"a", 0, 3});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 3u);
  EXPECT_TRUE(page->has_more);
  EXPECT_EQ(Json::parse(page->items[0].after)["max_tokens"], 5);
  auto next = service_->History({"a", page->next_cursor, 3});
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->items.size(), 3u);  // 2 parameter changes, the tag; register left
  EXPECT_TRUE(next->has_more);
  EXPECT_LT(next->items[0].id, page->items[2].id);
  auto all = service_->History({"", 0, 1000});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 9u);  // 2 x (register + tag) + 5
  EXPECT_EQ(service_->History({"a", 0, 0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(service_->History({"a", 0, 1001}).status().code(), StatusCode::kInvalidArgument);

  int registry_events = 0;
  for (const auto& e : AuditEvents()) {
    if (e.action.rfind("registry.", 0) != 0) continue;
    ++registry_events;
    EXPECT_EQ(e.actor, "user:1");
    EXPECT_EQ(e.source, "127.0.0.1");
    EXPECT_EQ(e.outcome, "ok");
  }
  EXPECT_EQ(registry_events, 9);

  // Removing a model drops it, keeps its history and records what it held.
  auto removed = service_->RemoveModel(admin_, "b");
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  Json before = Json::parse(removed->before);
  EXPECT_EQ(before["versions"].size(), 1u);
  EXPECT_TRUE(before["tags"].contains("latest"));
  EXPECT_EQ(service_->Show("b").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service_->History({"b", 0, 50})->items.size(), 3u);
  EXPECT_EQ(service_->RemoveModel(admin_, "b").status().code(), StatusCode::kNotFound);
}

TEST_P(RegistryTest, HostileNamesAreRefusedBeforeAnythingIsTouched) {
  const std::string file = WriteGguf("x");
  for (const std::string& name :
       {std::string(), std::string(129, 'a'), std::string("-lead"), std::string("a b"),
        std::string("a//b"), std::string("../etc"), std::string("a/"), std::string("a\nb"),
        std::string("x;DROP TABLE registry_models"), std::string("na\xc3\xafve")}) {
    auto r = service_->Register(admin_, {file, name, "latest"});
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(r.status().field(), "name") << name;
  }
  for (const std::string& tag : {std::string(), std::string(65, 't'), std::string(".x"),
                                 std::string("a:b"), std::string("a/b")}) {
    auto r = service_->Register(admin_, {file, "ok", tag});
    EXPECT_EQ(r.status().field(), "tag") << tag;
  }
  EXPECT_EQ(service_->Resolve("ok:").status().field(), "tag");
  EXPECT_EQ(service_->Resolve("ok:a:b").status().field(), "tag");
  EXPECT_EQ(service_->Register(admin_, {std::string(5000, 'p'), "ok", "latest"}).status().field(),
            "path");
  EXPECT_TRUE(service_->List()->empty());
  // A name at the limits is fine, and names with a namespace.
  EXPECT_TRUE(service_->Register(admin_, {file, std::string(128, 'n'), std::string(64, 't')}).ok());
  EXPECT_TRUE(service_->Register(admin_, {file, "library/qwen3.5-7B_x", "q8_0"}).ok());
  EXPECT_EQ(service_->Resolve("library/qwen3.5-7B_x:q8_0")->architecture, "llama");
  // Digests: too short, not hex.
  EXPECT_EQ(service_->SetTag(admin_, "ok", "t", "abc").status().field(), "digest");
  EXPECT_EQ(service_->SetTag(admin_, "ok", "t", std::string(64, 'Z')).status().field(), "digest");
}

// What serving reads at a model's load: the load-time parameters, and the file of the tag the
// served name names; nothing for a name that is not registered.
TEST_P(RegistryTest, LoadSettingsCarryTheLoadTimeParametersAndTheTaggedFile) {
  const std::string file = WriteGguf("load");
  const Version v = MustRegister(file, "served");
  ModelParameters p;
  p.context_length = 96;
  p.kv_type = "q8_0";
  p.kv_budget_mb = 3;
  p.max_running = 2;
  p.chat_template = "{{ messages[0].content }}";
  p.temperature = 0.5;  // a request default: not a load setting
  ASSERT_TRUE(service_->SetParameters(admin_, "served", p).ok());
  const serving::ModelLoadSettingsLookup lookup = RegistryLoadSettings(*service_);
  std::optional<serving::ModelLoadSettings> s = lookup("served");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->path, v.path);
  EXPECT_EQ(s->n_ctx, 96);
  EXPECT_EQ(s->kv_type, DType::kQ8_0);
  EXPECT_EQ(s->kv_cache_bytes, 3 * 1024 * 1024);
  EXPECT_EQ(s->max_running, 2);
  EXPECT_EQ(s->chat_template, "{{ messages[0].content }}");
  EXPECT_EQ(lookup("served:latest")->path, v.path);
  // A tag that does not exist: the settings still apply, there is no file to load on demand.
  std::optional<serving::ModelLoadSettings> untagged = lookup("served:nope");
  ASSERT_TRUE(untagged.has_value());
  EXPECT_EQ(untagged->path, "");
  EXPECT_EQ(untagged->n_ctx, 96);
  EXPECT_FALSE(lookup("unregistered").has_value());
  // Unset parameters leave the flags alone.
  ASSERT_TRUE(service_->SetParameters(admin_, "served", ModelParameters{}).ok());
  s = lookup("served");
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->n_ctx || s->kv_type || s->kv_cache_bytes || s->max_running || s->chat_template);
}

INSTANTIATE_TEST_SUITE_P(Backends, RegistryTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

}  // namespace
}  // namespace llmux::registry
