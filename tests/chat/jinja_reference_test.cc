// The chat templates the server picks against the models' own Jinja templates, rendered at test
// time by @huggingface/jinja (tests/e2e/chat_references.mjs, run by the ctest fixture
// chat_jinja_references): Llama 3, Llama 3.1/3.2, Qwen2.5 and DeepSeek-V3 (native templates),
// Gemma 3 and Llama 2 (no native template: llmux's Jinja interpreter), over the conversations
// of ../shared/vectors/chat-template-qwen3.json plus tool-call cases.
//
// The template is chosen from its text as the server chooses it from a GGUF
// (SelectChatTemplate), and the output must equal the reference byte for byte. Where the Jinja
// template refuses a conversation, ours must refuse it too. For the native ones, the model's
// template through our interpreter (MakeJinjaChatTemplate) must also render what the native one
// renders: the native templates are a choice, not a necessity (see chat_template.h).
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>

#include "chat/chat_template.h"
#include "chat/chat_test_util.h"
#include "tests/support/test_paths.h"

namespace llmux::chat {
namespace {

const std::string kReferences = llmux::testing::BinaryDir() + "/tests/chat/jinja_references.json";

// The date a Llama 3.2 template writes today (strftime_now("%d %b %Y") in local time).
std::string Today() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%d %b %Y", &tm);
  return buf;
}

RenderOptions OptionsFor(const Json& t, const Json& c) {
  RenderOptions options;
  options.add_generation_prompt = c["kwargs"].value("add_generation_prompt", false);
  options.enable_thinking = c["kwargs"].value("enable_thinking", true);
  // A template that writes today's date: if the day changed since the references were made,
  // render with the reference's day (the format is what is checked).
  if (t["template"].get<std::string>().find("strftime_now") != std::string::npos &&
      t["strftime_date"].get<std::string>() != Today()) {
    options.date_string = t["strftime_date"].get<std::string>();
  }
  return options;
}

Result<std::string> RenderCase(const ChatTemplate& tmpl, const Json& t, const Json& c) {
  return tmpl.Render(testing::MessagesFromJson(c["messages"]), testing::ToolsFromJson(c["tools"]),
                     OptionsFor(t, c));
}

TemplateTokens TokensOf(const Json& t) {
  return {.bos = t["bos_token"].get<std::string>(), .eos = t["eos_token"].get<std::string>()};
}

class JinjaReferenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(kReferences)) return;
    references_ = Json::parse(testing::ReadFile(kReferences), nullptr, /*allow_exceptions=*/false);
  }

  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kReferences))
        << kReferences << " is missing: it is written by the ctest fixture chat_jinja_references "
        << "(ctest -R chat_jinja), i.e. node tests/e2e/chat_references.mjs " << kReferences;
    ASSERT_FALSE(references_.is_discarded()) << "cannot parse " << kReferences;
  }

  static Json references_;
};

Json JinjaReferenceTest::references_;

TEST_F(JinjaReferenceTest, CoversEveryTemplateAndConversation) {
  std::vector<std::string> names;
  for (const auto& t : references_["templates"]) {
    names.push_back(t["name"].get<std::string>());
    // The 15 shared conversations and 5 tool-call / edge cases; most render (Gemma 3 and
    // Llama 2 refuse the tool turns: their roles must alternate user/assistant).
    ASSERT_EQ(t["cases"].size(), 20u) << names.back();
    size_t rendered = 0;
    for (const auto& c : t["cases"]) rendered += c.contains("rendered");
    EXPECT_GE(rendered, t["min_rendered"].get<size_t>()) << names.back();
    EXPECT_GE(t["min_rendered"].get<size_t>(), 12u) << names.back();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"llama3", "llama3_1-package", "llama3.1", "llama3.2",
                                             "qwen2.5", "deepseek-v3", "gemma3", "llama2"}));
}

TEST_F(JinjaReferenceTest, SelectionPicksTheMatchingNativeTemplate) {
  for (const auto& t : references_["templates"]) {
    auto tmpl = SelectChatTemplate(t["arch"].get<std::string>(), t["template"].get<std::string>(),
                                   TokensOf(t));
    ASSERT_TRUE(tmpl.ok()) << tmpl.status().ToString();
    EXPECT_EQ((*tmpl)->name(), t["native"].get<std::string>()) << t["name"];
  }
}

TEST_F(JinjaReferenceTest, SelectedRenderingEqualsJinjaByteForByte) {
  size_t through_interpreter = 0;
  for (const auto& t : references_["templates"]) {
    const std::string name = t["name"].get<std::string>();
    auto tmpl = SelectChatTemplate(t["arch"].get<std::string>(), t["template"].get<std::string>(),
                                   TokensOf(t));
    ASSERT_TRUE(tmpl.ok()) << tmpl.status().ToString();
    through_interpreter += (*tmpl)->name() == "jinja";
    for (const auto& c : t["cases"]) {
      SCOPED_TRACE(name + " / " + c["name"].get<std::string>());
      auto rendered = RenderCase(**tmpl, t, c);
      if (c.contains("error")) {
        EXPECT_FALSE(rendered.ok()) << "Jinja refuses this conversation ("
                                    << c["error"].get<std::string>() << ") but we render:\n"
                                    << *rendered;
        if (rendered.ok()) continue;
        EXPECT_EQ(rendered.status().code(), StatusCode::kInvalidArgument);
        // The template's own raise_exception text is the message the client gets.
        if (c.contains("raised")) {
          EXPECT_EQ(rendered.status().message(), c["raised"].get<std::string>());
        }
        continue;
      }
      ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
      EXPECT_EQ(*rendered, c["rendered"].get<std::string>());
    }
  }
  EXPECT_EQ(through_interpreter, 2u);  // Gemma 3 and Llama 2
}

// Each native template against the same model template rendered by our interpreter, as the
// server would render it without the native one: the same bytes, or the same refusal.
TEST_F(JinjaReferenceTest, InterpreterRendersWhatTheNativeTemplateRenders) {
  size_t compared = 0;
  for (const auto& t : references_["templates"]) {
    if (t["native"] == "jinja") continue;
    const std::string name = t["name"].get<std::string>();
    auto native =
        SelectChatTemplate(t["arch"].get<std::string>(), t["template"].get<std::string>());
    ASSERT_TRUE(native.ok()) << native.status().ToString();
    ASSERT_NE((*native)->name(), "jinja") << name;
    auto jinja = MakeJinjaChatTemplate(t["template"].get<std::string>(), TokensOf(t));
    ASSERT_TRUE(jinja.ok()) << name << ": " << jinja.status().ToString();
    for (const auto& c : t["cases"]) {
      SCOPED_TRACE(name + " / " + c["name"].get<std::string>());
      auto by_native = RenderCase(**native, t, c);
      auto by_jinja = RenderCase(**jinja, t, c);
      ASSERT_EQ(by_native.ok(), by_jinja.ok())
          << "native: " << (by_native.ok() ? *by_native : by_native.status().ToString())
          << "\njinja: " << (by_jinja.ok() ? *by_jinja : by_jinja.status().ToString());
      if (by_native.ok()) {
        EXPECT_EQ(*by_jinja, *by_native);
        ++compared;
      } else {
        EXPECT_EQ(by_jinja.status().code(), StatusCode::kInvalidArgument);
        if (c.contains("raised")) {
          EXPECT_EQ(by_jinja.status().message(), by_native.status().message());
        }
      }
    }
  }
  EXPECT_GE(compared, 6u * 17u);
}

}  // namespace
}  // namespace llmux::chat
