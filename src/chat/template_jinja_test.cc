// The model's own template through llmux_jinja (MakeJinjaChatTemplate): the context it gets,
// the input normalisation, errors, and when SelectChatTemplate picks it. Real templates are
// held against @huggingface/jinja in tests/chat (jinja_reference_test.cc).
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

#include "base/log.h"
#include "chat/chat_template.h"

namespace llmux::chat {
namespace {

std::unique_ptr<ChatTemplate> Jinja(std::string_view source, TemplateTokens tokens = {}) {
  auto t = MakeJinjaChatTemplate(source, std::move(tokens));
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

Result<std::string> Render(std::string_view source, const std::vector<Message>& messages,
                           const std::vector<Tool>& tools = {}, const RenderOptions& options = {},
                           TemplateTokens tokens = {}) {
  auto t = Jinja(source, std::move(tokens));
  if (!t) return InternalError("no template");
  return t->Render(messages, tools, options);
}

Message CallMessage(std::string content, Json arguments) {
  Message m{.role = "assistant", .content = std::move(content)};
  m.tool_calls.push_back({.id = "c1", .name = "f", .arguments = std::move(arguments)});
  return m;
}

Tool WeatherTool() {
  return Tool{Json::parse(R"({"type": "function", "function": {"name": "get_weather",
                              "parameters": {"type": "object"}}})")};
}

// A Gemma-like template: BOS, turns, EOS after the model's turns, the generation prompt.
constexpr std::string_view kTurns =
    "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content | trim }}"
    "{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}";

TEST(JinjaChatTemplateTest, RendersMessagesSpecialTokensAndGenerationPrompt) {
  const std::vector<Message> m = {{.role = "user", .content = " Hi "},
                                  {.role = "assistant", .content = "Hello"},
                                  {.role = "user", .content = "Bye"}};
  const TemplateTokens tokens{.bos = "<s>", .eos = "</s>"};
  auto r = Render(kTurns, m, {}, {}, tokens);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "<s><user>Hi\n<assistant>Hello</s>\n<user>Bye\n<assistant>");
  r = Render(kTurns, m, {}, {.add_generation_prompt = false}, tokens);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "<s><user>Hi\n<assistant>Hello</s>\n<user>Bye\n");

  auto t = Jinja(kTurns, tokens);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->name(), "jinja");
  // The template writes BOS itself; the tokenizer must not add one.
  EXPECT_TRUE(t->renders_bos());
  EXPECT_EQ(t->end_of_turn(), "</s>");
  EXPECT_FALSE(t->supports_tools());
  EXPECT_FALSE(t->supports_thinking());
  // An unknown family: its output is all text.
  const OutputFormat f = t->output_format({});
  EXPECT_EQ(f.tool_syntax, ToolCallSyntax::kNone);
  EXPECT_TRUE(f.think_open.empty());
}

TEST(JinjaChatTemplateTest, ToolsKwargsAndStrftime) {
  constexpr std::string_view src =
      "{% if tools %}{{ tools | map(attribute='function') | map(attribute='name') | join(',') }}"
      "{% else %}{{ tools is none }}{% endif %}|{{ enable_thinking }}|"
      "{{ date_string if date_string is defined else 'no date' }}|"
      "{{ strftime_now('%Y') | length }}";
  auto r = Render(src, {{.role = "user", .content = "x"}}, {WeatherTool()},
                  {.enable_thinking = false, .date_string = "02 Feb 2025"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "get_weather|false|02 Feb 2025|4");
  r = Render(src, {{.role = "user", .content = "x"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "true|true|no date|4");
  EXPECT_TRUE(Jinja(src)->supports_tools());
}

TEST(JinjaChatTemplateTest, MessageFieldsReachTheTemplate) {
  Message tool{.role = "tool", .content = "18", .tool_call_id = "c1", .name = "get_weather"};
  Message thought{.role = "assistant", .content = "A", .reasoning_content = "R"};
  auto r = Render(
      "{% for m in messages %}{{ m.role }}:{{ m.reasoning_content | default('-') }}:"
      "{{ m.tool_call_id | default('-') }}:{{ m.name | default('-') }};{% endfor %}",
      {{.role = "user", .content = "x"}, thought, tool});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "user:-:-:-;assistant:R:-:-;tool:-:c1:get_weather;");
}

TEST(JinjaChatTemplateTest, EmptyToolCallingTurnIsNullUnlessTheTemplateRaisesOnIt) {
  const std::vector<Message> m = {{.role = "user", .content = "x"}, CallMessage("", "{\"a\": 1}")};
  auto r = Render("{% for m in messages %}[{{ m.content is none }}]{% endfor %}", m);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "[false][true]");
  // `+` on none raises: the "" spelling is rendered instead.
  r = Render("{% for m in messages %}[{{ m.content + '!' }}]{% endfor %}", m);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "[x!][!]");
}

TEST(JinjaChatTemplateTest, ArgumentsTakeTheFormTheTemplateConsumes) {
  const std::vector<Message> as_text = {{.role = "user", .content = "x"},
                                        CallMessage("", "{\"b\":2, \"a\":1}")};
  const std::vector<Message> as_object = {{.role = "user", .content = "x"},
                                          CallMessage("", Json::parse(R"({"b": 2, "a": 1})"))};
  // tojson: JSON text is parsed first (vLLM's normalisation), so it prints as an object.
  constexpr std::string_view tojson =
      "{% for c in messages[1].tool_calls %}{{ c.function.arguments | tojson }}{% endfor %}";
  EXPECT_EQ(*Render(tojson, as_text), "{\"b\": 2, \"a\": 1}");
  EXPECT_EQ(*Render(tojson, as_object), "{\"b\": 2, \"a\": 1}");
  // items: needs an object too.
  constexpr std::string_view items =
      "{% for c in messages[1].tool_calls %}{% for k, v in c.function.arguments|items %}"
      "{{ k }}={{ v }};{% endfor %}{% endfor %}";
  EXPECT_EQ(*Render(items, as_text), "b=2;a=1;");
  // Concatenation: an object is written as JSON text, text stays as sent.
  constexpr std::string_view concat =
      "{% for c in messages[1].tool_calls %}{{ 'args: ' + c['function']['arguments'] }}"
      "{% endfor %}";
  EXPECT_EQ(*Render(concat, as_object), "args: {\"b\": 2, \"a\": 1}");
  EXPECT_EQ(*Render(concat, as_text), "args: {\"b\":2, \"a\":1}");
  // A template that tests the type gets them as sent.
  constexpr std::string_view tested =
      "{% for c in messages[1].tool_calls %}{% if c.function.arguments is string %}S:"
      "{{ c.function.arguments }}{% else %}O:{{ c.function.arguments | tojson }}{% endif %}"
      "{% endfor %}";
  EXPECT_EQ(*Render(tested, as_text), "S:{\"b\":2, \"a\":1}");
  EXPECT_EQ(*Render(tested, as_object), "O:{\"b\": 2, \"a\": 1}");
}

TEST(JinjaChatTemplateTest, TemplateErrorsAreInvalidArgumentWithItsMessage) {
  const std::vector<Message> m = {{.role = "assistant", .content = "x"}};
  auto r = Render(
      "{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with "
      "user') }}{% endif %}",
      m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "Conversation must start with user");
  // An evaluation error and a sandbox limit are the request's fault too.
  r = Render("{{ messages[0].content.nope() }}", m);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = Render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", m);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  // The same refusals as the native templates.
  r = Render(kTurns, {{.role = "robot", .content = "x"}});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = Render(kTurns, {});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(JinjaChatTemplateTest, UnparsableTemplateIsAnError) {
  EXPECT_FALSE(MakeJinjaChatTemplate("{% for m in messages %}no end").ok());
  EXPECT_FALSE(MakeJinjaChatTemplate("").ok());
}

// Captures what spdlog writes while it lives.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

std::string Selected(std::string_view arch, std::string_view source) {
  auto t = SelectChatTemplate(arch, source);
  EXPECT_TRUE(t.ok());
  return t.ok() ? std::string((*t)->name()) : "";
}

TEST(SelectChatTemplateJinjaTest, UnknownTemplatesRenderThroughJinja) {
  // Not a native family: the model's own template, whatever the architecture says.
  EXPECT_EQ(Selected("gemma3", kTurns), "jinja");
  EXPECT_EQ(Selected("qwen3", kTurns), "jinja");
  // Recognised families stay native.
  EXPECT_EQ(Selected("llama", "{{ '<|start_header_id|>' + add_generation_prompt }}"), "llama3");
  auto t = SelectChatTemplate("gemma3", kTurns, {.bos = "<bos>", .eos = "<eos>"});
  ASSERT_TRUE(t.ok());
  auto r = (*t)->Render({{.role = "user", .content = "Hi"}}, {}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "<bos><user>Hi\n<assistant>");
}

TEST(SelectChatTemplateJinjaTest, BrokenOrMissingTemplateFallsBackWithTheReason) {
  {
    LogCapture log;
    EXPECT_EQ(Selected("llama", "{% if messages %}unclosed"), "plain");
    EXPECT_NE(log.text().find("does not parse"), std::string::npos) << log.text();
    EXPECT_NE(log.text().find("'plain'"), std::string::npos) << log.text();
  }
  {
    LogCapture log;
    EXPECT_EQ(Selected("qwen3", "{{ broken"), "qwen3");  // the architecture's native template
    EXPECT_NE(log.text().find("does not parse"), std::string::npos) << log.text();
  }
  {
    // Parses but cannot render: served as it is (requests get its error), with a warning.
    LogCapture log;
    EXPECT_EQ(Selected("llama", "{{ raise_exception('no chat here') }}"), "jinja");
    EXPECT_NE(log.text().find("fails on a one-message conversation: no chat here"),
              std::string::npos)
        << log.text();
  }
  {
    LogCapture log;
    EXPECT_EQ(Selected("llama", kTurns), "jinja");
    EXPECT_EQ(log.text(), "");
  }
  {
    LogCapture log;
    EXPECT_EQ(Selected("llama", ""), "plain");
    EXPECT_NE(log.text().find("no chat template"), std::string::npos) << log.text();
  }
}

}  // namespace
}  // namespace llmux::chat
