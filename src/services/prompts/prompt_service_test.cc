// PromptService on a real SQLite store: the template rules, what is stored and read back, and
// the audit events it writes (once per change, none for a refused template).
#include "services/prompts/prompt_service.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <ctime>
#include <filesystem>
#include <memory>

#include "store/sqlite_store.h"

namespace llmux::prompts {
namespace {

namespace fs = std::filesystem;

Prompt Greet() {
  Prompt p;
  p.name = "greet";
  p.title = "Greeting";
  p.description = "Greet someone";
  p.arguments = {{"who", std::nullopt, true}, {"tone", "how warm", std::nullopt}};
  p.messages = {{"user", "Say hello to {{who}}, {{tone}}."}, {"assistant", "Hello!"}};
  return p;
}

class PromptServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/llmux-prompts-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = store::OpenSqliteStore(dir_ + "/store.db");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    service_ = std::make_unique<PromptService>(*store_, *store_);
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  std::vector<audit::Event> AuditEvents() {
    auto events = store_->List(audit::Page{0, 100});
    EXPECT_TRUE(events.ok()) << events.status().ToString();
    return events.ok() ? events->items : std::vector<audit::Event>{};
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<PromptService> service_;
  const audit::Actor alice_{"user:3", "alice", "10.0.0.7"};
};

TEST_F(PromptServiceTest, PutStoresTheTemplateAsWrittenAndAuditsOnce) {
  const int64_t before = std::time(nullptr);
  Prompt in = Greet();
  in.updated_by = "mallory";  // the service stamps who stored it, not the caller's claim
  in.updated_at = 42;
  auto stored = service_->Put(alice_, in);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->name, "greet");
  EXPECT_EQ(stored->title, "Greeting");
  EXPECT_EQ(stored->description, "Greet someone");
  EXPECT_EQ(stored->updated_by, "alice");
  EXPECT_GE(stored->updated_at, before);
  EXPECT_LE(stored->updated_at, std::time(nullptr));
  // Left-out argument fields stay left out; given ones come back.
  ASSERT_EQ(stored->arguments.size(), 2u);
  EXPECT_EQ(stored->arguments[0], (Argument{"who", std::nullopt, true}));
  EXPECT_EQ(stored->arguments[1], (Argument{"tone", "how warm", std::nullopt}));
  ASSERT_EQ(stored->messages.size(), 2u);
  EXPECT_EQ(stored->messages[0], (Message{"user", "Say hello to {{who}}, {{tone}}."}));
  EXPECT_EQ(stored->messages[1], (Message{"assistant", "Hello!"}));

  auto got = service_->Get("greet");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->arguments, stored->arguments);
  EXPECT_EQ(got->updated_by, "alice");

  const auto events = AuditEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor, "user:3");
  EXPECT_EQ(events[0].action, "prompts.put");
  EXPECT_EQ(events[0].target, "prompt:greet");
  EXPECT_EQ(events[0].source, "10.0.0.7");
  EXPECT_EQ(events[0].outcome, "ok");
  EXPECT_EQ(events[0].detail, "");
}

TEST_F(PromptServiceTest, PutReplacesAndListIsByName) {
  ASSERT_TRUE(service_->Put(alice_, Greet()).ok());
  Prompt other = Greet();
  other.name = "a.first-one_2";
  ASSERT_TRUE(service_->Put(alice_, other).ok());
  Prompt changed = Greet();
  changed.description = "changed";
  changed.arguments = {};
  changed.messages = {{"user", "plain"}};
  const audit::Actor bob{"key:9", "llmux_ab12", "cli"};
  ASSERT_TRUE(service_->Put(bob, changed).ok());

  auto list = service_->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a.first-one_2");
  EXPECT_EQ((*list)[1].name, "greet");
  EXPECT_EQ((*list)[1].description, "changed");
  EXPECT_TRUE((*list)[1].arguments.empty());
  EXPECT_EQ((*list)[1].messages, (std::vector<Message>{{"user", "plain"}}));
  EXPECT_EQ((*list)[1].updated_by, "llmux_ab12");

  const auto events = AuditEvents();  // newest first
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].actor, "key:9");
  EXPECT_EQ(events[0].source, "cli");
  EXPECT_EQ(events[0].target, "prompt:greet");
}

TEST_F(PromptServiceTest, InvalidTemplatesAreRefusedAndNotRecorded) {
  struct Case {
    const char* what;
    Prompt prompt;
    const char* field;
  };
  std::vector<Case> cases;
  auto with = [](auto change) {
    Prompt p = Greet();
    change(p);
    return p;
  };
  cases.push_back({"empty name", with([](Prompt& p) { p.name = ""; }), "name"});
  cases.push_back({"name of 65", with([](Prompt& p) { p.name = std::string(65, 'a'); }), "name"});
  cases.push_back({"space in name", with([](Prompt& p) { p.name = "a b"; }), "name"});
  cases.push_back({"slash in name", with([](Prompt& p) { p.name = "a/b"; }), "name"});
  cases.push_back(
      {"unnamed argument", with([](Prompt& p) { p.arguments.push_back({}); }), "arguments"});
  cases.push_back({"no messages", with([](Prompt& p) { p.messages.clear(); }), "messages"});
  cases.push_back(
      {"system role", with([](Prompt& p) { p.messages[1].role = "system"; }), "messages"});
  cases.push_back({"undeclared placeholder",
                   with([](Prompt& p) { p.messages[0].text = "Hi {{nobody}}"; }), "messages"});
  cases.push_back({"placeholder of a removed argument",
                   with([](Prompt& p) { p.arguments.pop_back(); }), "messages"});
  for (const Case& c : cases) {
    auto r = service_->Put(alice_, c.prompt);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.what;
    EXPECT_EQ(r.status().field(), c.field) << c.what;
  }
  EXPECT_EQ(service_->Put(alice_, with([](Prompt& p) { p.messages[0].text = "{{nobody}}"; }))
                .status()
                .message(),
            "{{nobody}} names no declared argument");
  EXPECT_TRUE(service_->List()->empty());
  EXPECT_TRUE(AuditEvents().empty());

  // The limits themselves pass: 64 characters, an unclosed "{{" is plain text.
  Prompt edge = Greet();
  edge.name = std::string(64, 'z');
  edge.messages[0].text = "{{who}} and {{ unclosed";
  EXPECT_TRUE(service_->Put(alice_, edge).ok());
}

TEST_F(PromptServiceTest, DeleteRemovesAndAuditsFailuresToo) {
  ASSERT_TRUE(service_->Put(alice_, Greet()).ok());
  ASSERT_TRUE(service_->Delete(alice_, "greet").ok());
  EXPECT_EQ(service_->Get("greet").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(service_->List()->empty());

  Status again = service_->Delete(alice_, "greet");
  EXPECT_EQ(again.code(), StatusCode::kNotFound);
  EXPECT_EQ(again.message(), "prompt 'greet' not found");

  const auto events = AuditEvents();  // newest first
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].action, "prompts.delete");
  EXPECT_EQ(events[1].outcome, "ok");
  EXPECT_EQ(events[0].action, "prompts.delete");
  EXPECT_EQ(events[0].target, "prompt:greet");
  EXPECT_EQ(events[0].outcome, "failed");
  EXPECT_EQ(events[0].detail, "prompt 'greet' not found");
}

// An audit log that cannot be written.
class BrokenAuditLog : public audit::AuditLog {
 public:
  Result<int64_t> Append(const audit::Event&) override {
    ++appends;
    return UnavailableError("audit log busy");
  }
  Result<audit::EventList> List(audit::Page) override { return UnavailableError("audit log busy"); }
  int appends = 0;
};

TEST_F(PromptServiceTest, ABusyAuditLogDoesNotFailTheChange) {
  BrokenAuditLog broken;
  PromptService service(*store_, broken);
  EXPECT_TRUE(service.Put(alice_, Greet()).ok());
  EXPECT_TRUE(service.Delete(alice_, "greet").ok());
  EXPECT_EQ(broken.appends, 2);
  EXPECT_TRUE(service.List()->empty());
}

TEST(FillPlaceholdersTest, ReplacesNamedPlaceholdersOnly) {
  const std::map<std::string, std::string> values{{"who", "Ada"}, {"n", "3"}};
  EXPECT_EQ(FillPlaceholders("Say hello to {{who}}, kindly.", values), "Say hello to Ada, kindly.");
  EXPECT_EQ(FillPlaceholders("{{who}}{{who}} x{{n}}", values), "AdaAda x3");
  EXPECT_EQ(FillPlaceholders("[{{tone}}]", values), "[]");  // an optional argument left out
  EXPECT_EQ(FillPlaceholders("{{who} and {{who", values), "{{who} and {{who");
  EXPECT_EQ(FillPlaceholders("", values), "");
}

}  // namespace
}  // namespace llmux::prompts
