// ChatML, DeepSeek-R1 and plain templates against renderings worked out by hand from their Jinja
// templates, options the reference renderings do not cover, and template selection.
#include <gtest/gtest.h>

#include <regex>

#include "chat/chat_template.h"

namespace llmux::chat {
namespace {

std::unique_ptr<ChatTemplate> Make(std::string_view name) {
  auto t = MakeChatTemplate(name);
  EXPECT_TRUE(t.ok()) << name;
  return std::move(t).value();
}

std::string Render(std::string_view name, const std::vector<Message>& messages,
                   const std::vector<Tool>& tools = {}, const RenderOptions& options = {}) {
  auto r = Make(name)->Render(messages, tools, options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "<error>";
}

Message CallMessage(std::string content, std::vector<ToolCall> calls) {
  Message m{.role = "assistant", .content = std::move(content)};
  m.tool_calls = std::move(calls);
  return m;
}

// Qwen2.5, Llama 3 / 3.1 / 3.2 and DeepSeek-V3 are held against their real templates in
// tests/chat (references rendered by @huggingface/jinja); what remains here has no template in
// an npm package (ChatML, DeepSeek-R1, plain) or tests an option the references do not set.

TEST(ChatMLTemplateTest, PlainLoop) {
  EXPECT_EQ(Render("chatml",
                   {{.role = "system", .content = "S"},
                    {.role = "user", .content = "U"},
                    {.role = "assistant", .content = "A"}},
                   {}, {.add_generation_prompt = false}),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
            "<|im_start|>assistant\nA<|im_end|>\n");
}

TEST(LlamaTemplateTest, RenderBosAndTakeTheDateOption) {
  EXPECT_TRUE(Make("llama3")->renders_bos());
  EXPECT_TRUE(Make("llama3.1")->renders_bos());
  const std::string r = Render("llama3.1", {{.role = "user", .content = "Hi"}}, {},
                               {.add_generation_prompt = false, .date_string = "02 Feb 2025"});
  EXPECT_NE(r.find("\nToday Date: 02 Feb 2025\n\n"), std::string::npos) << r;
}

// The R1 template with content before the calls (worked out by hand from it).
TEST(DeepSeekR1TemplateTest, Conversation) {
  std::vector<Message> m = {
      {.role = "system", .content = "S1"},
      {.role = "system", .content = "S2"},
      {.role = "user", .content = "U1"},
      {.role = "assistant", .content = "<think>x</think>A1"},
      {.role = "user", .content = "U2"},
      CallMessage("", {{.name = "f", .arguments = "{\"a\": 1}"},
                       {.name = "g", .arguments = Json::parse(R"({"b": 2})")}}),
      {.role = "tool", .content = "R1"},
      {.role = "tool", .content = "R2"},
      {.role = "assistant", .content = "Done"},
      {.role = "user", .content = "U3"},
  };
  EXPECT_EQ(Render("deepseek-r1", m),
            "<｜begin▁of▁sentence｜>S1\n\nS2<｜User｜>U1<｜Assistant｜>A1<｜end▁of▁sentence｜>"
            "<｜User｜>U2<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function"
            "<｜tool▁sep｜>f\n```json\n{\"a\": 1}\n```<｜tool▁call▁end｜>\n"
            "<｜tool▁call▁begin｜>function<｜tool▁sep｜>g\n```json\n{\"b\": 2}\n```"
            "<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>"
            "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>R1<｜tool▁output▁end｜>"
            "<｜tool▁output▁begin｜>R2<｜tool▁output▁end｜><｜tool▁outputs▁end｜>Done"
            "<｜end▁of▁sentence｜><｜User｜>U3<｜Assistant｜><think>\n");
}

TEST(DeepSeekR1TemplateTest, ConversationFlagsAreNeverReset) {
  // The template's is_first / is_output_first flags stay set: a second tool-calling turn
  // has no <｜Assistant｜> opener and its outputs no <｜tool▁outputs▁begin｜>; after tool
  // outputs no generation prompt follows.
  std::vector<Message> m = {
      {.role = "user", .content = "U"},
      CallMessage("c1", {{.name = "f", .arguments = "{}"}}),
      {.role = "tool", .content = "R1"},
      CallMessage("c2", {{.name = "g", .arguments = "{}"}}),
      {.role = "tool", .content = "R2"},
  };
  EXPECT_EQ(Render("deepseek-r1", m),
            "<｜begin▁of▁sentence｜><｜User｜>U<｜Assistant｜>c1<｜tool▁calls▁begin｜>"
            "<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{}\n```<｜tool▁call▁end｜>"
            "<｜tool▁calls▁end｜><｜end▁of▁sentence｜><｜tool▁outputs▁begin｜>"
            "<｜tool▁output▁begin｜>R1<｜tool▁output▁end｜>\n"
            "<｜tool▁call▁begin｜>function<｜tool▁sep｜>g\n```json\n{}\n```<｜tool▁call▁end｜>"
            "<｜tool▁calls▁end｜><｜end▁of▁sentence｜><｜tool▁output▁begin｜>R2"
            "<｜tool▁output▁end｜><｜tool▁outputs▁end｜>");
}

TEST(DeepSeekR1TemplateTest, GenerationPromptOpensThinking) {
  EXPECT_EQ(Render("deepseek-r1", {{.role = "user", .content = "1+1?"}}),
            "<｜begin▁of▁sentence｜><｜User｜>1+1?<｜Assistant｜><think>\n");
  auto t = Make("deepseek-r1");
  EXPECT_TRUE(t->supports_thinking());
  EXPECT_TRUE(t->output_format({}).starts_in_think);
}

TEST(PlainTemplateTest, JoinsContents) {
  EXPECT_EQ(Render("plain", {{.role = "user", .content = "Once upon a time"}}),
            "Once upon a time");
  EXPECT_EQ(Render("plain", {{.role = "system", .content = "S"},
                             {.role = "user", .content = "U"},
                             {.role = "assistant", .content = "A"}}),
            "S\nU\nA");
  auto t = Make("plain");
  EXPECT_FALSE(t->renders_bos());
  EXPECT_FALSE(t->supports_tools());
}

std::string SelectedName(std::string_view arch, std::string_view source) {
  auto t = SelectChatTemplate(arch, source);
  EXPECT_TRUE(t.ok());
  return t.ok() ? std::string((*t)->name()) : "";
}

TEST(SelectChatTemplateTest, ByTemplateTextThenArchitecture) {
  // Fragments of the real templates.
  const std::string qwen3 =
      "{%- if message.content.startswith('<tool_response>') %}{{- '<|im_start|>' + "
      "message.role + '\\n<think>\\n' }}";
  const std::string qwen25 =
      "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
      "assistant.<|im_end|>\\n' }}";
  const std::string chatml = "{{'<|im_start|>' + message['role'] + '\\n' + message['content']}}";
  const std::string llama3 = "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>' }}";
  const std::string llama31 = llama3 + "{{- \"Cutting Knowledge Date: December 2023\\n\" }}";
  const std::string llama32 = llama31 + "{%- set date_string = strftime_now(\"%d %b %Y\") %}";
  const std::string ds = "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}";
  const std::string r1 = ds + "{{'<｜Assistant｜><think>\\n'}}";
  EXPECT_EQ(SelectedName("qwen3", qwen3), "qwen3");
  EXPECT_EQ(SelectedName("deepseek2", qwen3), "qwen3");  // the text wins over the architecture
  EXPECT_EQ(SelectedName("qwen2", qwen25), "qwen2.5");
  EXPECT_EQ(SelectedName("llama", chatml), "jinja");  // not Qwen's: the template as it is
  EXPECT_EQ(SelectedName("llama", llama3), "llama3");
  EXPECT_EQ(SelectedName("llama", llama31), "llama3.1");
  EXPECT_EQ(SelectedName("llama", llama32), "llama3.1");
  EXPECT_EQ(SelectedName("deepseek2", ds), "deepseek-v3");
  EXPECT_EQ(SelectedName("qwen2", r1), "deepseek-r1");
  EXPECT_EQ(SelectedName("qwen3", ""), "qwen3");
  EXPECT_EQ(SelectedName("qwen3moe", ""), "qwen3");
  EXPECT_EQ(SelectedName("qwen2", ""), "qwen2.5");
  EXPECT_EQ(SelectedName("deepseek2", ""), "deepseek-v3");
  EXPECT_EQ(SelectedName("llama", ""), "plain");
  // Any other template is rendered as it is (template_jinja_test.cc); one that does not parse
  // falls back to the architecture's template or plain.
  EXPECT_EQ(SelectedName("mystery", "{{ something }}"), "jinja");
  EXPECT_EQ(SelectedName("mystery", "{{ something unknown }}"), "plain");
  EXPECT_EQ(MakeChatTemplate("nope").status().code(), StatusCode::kNotFound);
  for (const std::string& name : ChatTemplateNames()) {
    auto t = MakeChatTemplate(name);
    ASSERT_TRUE(t.ok()) << name;
    EXPECT_EQ((*t)->name(), name);
  }
}

TEST(SelectChatTemplateTest, Llama32TakesTodaysDate) {
  auto t = SelectChatTemplate(
      "llama", "<|start_header_id|> Cutting Knowledge Date strftime_now(\"%d %b %Y\")");
  ASSERT_TRUE(t.ok());
  auto r = (*t)->Render({{.role = "user", .content = "Hi"}}, {}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(std::regex_search(*r, std::regex("Today Date: [0-9]{2} [A-Z][a-z]{2} [0-9]{4}\n")))
      << *r;
  EXPECT_EQ(r->find("26 Jul 2024"), std::string::npos);
}

}  // namespace
}  // namespace llmux::chat
