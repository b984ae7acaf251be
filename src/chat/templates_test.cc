// Qwen2.5, ChatML, Llama 3 / 3.1, DeepSeek-V3 / R1 and plain templates against renderings
// worked out by hand from the models' Jinja templates, and template selection.
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

const Tool kWeatherTool{Json::parse(
    R"({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}})")};

TEST(Qwen25TemplateTest, DefaultSystemPrompt) {
  EXPECT_EQ(Render("qwen2.5", {{.role = "user", .content = "Hi"}}),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
            "assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  // Assistant content is rendered as is, <think> included.
  EXPECT_EQ(Render("qwen2.5",
                   {{.role = "system", .content = "S"},
                    {.role = "user", .content = "U"},
                    {.role = "assistant", .content = "<think>t</think>A"}},
                   {}, {.add_generation_prompt = false}),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
            "<|im_start|>assistant\n<think>t</think>A<|im_end|>\n");
}

TEST(Qwen25TemplateTest, ToolsCallsAndResponses) {
  std::vector<Message> m = {
      {.role = "system", .content = "S"},
      {.role = "user", .content = "Weather?"},
      CallMessage("", {{.id = "c1", .name = "get_weather", .arguments = "{\"city\":\"Paris\"}"}}),
      {.role = "tool", .content = "21C"},
      {.role = "tool", .content = "22C"},
  };
  EXPECT_EQ(Render("qwen2.5", m, {kWeatherTool}),
            "<|im_start|>system\nS\n\n# Tools\n\nYou may call one or more functions to assist "
            "with the user query.\n\nYou are provided with function signatures within "
            "<tools></tools> XML tags:\n<tools>\n"
            "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
            "{\"type\": \"object\"}}}\n</tools>\n\nFor each function call, return a json object "
            "with function name and arguments within <tool_call></tool_call> XML tags:\n"
            "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
            "</tool_call><|im_end|>\n"
            "<|im_start|>user\nWeather?<|im_end|>\n"
            "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
            "{\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n"
            "<|im_start|>user\n<tool_response>\n21C\n</tool_response>\n<tool_response>\n22C\n"
            "</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n");
  // Without a system message the default one opens the tools block; content goes before
  // the calls.
  std::vector<Message> m2 = {
      {.role = "user", .content = "U"},
      CallMessage("Let me check.", {{.name = "f", .arguments = Json::parse(R"({"a": [1, 2]})")}}),
  };
  const std::string r = Render("qwen2.5", m2, {kWeatherTool}, {.add_generation_prompt = false});
  const std::string prefix =
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
      "assistant.\n\n# Tools\n\n";
  EXPECT_EQ(r.substr(0, prefix.size()), prefix);
  EXPECT_NE(r.find("<|im_start|>assistant\nLet me check.\n<tool_call>\n{\"name\": \"f\", "
                   "\"arguments\": {\"a\": [1, 2]}}\n</tool_call><|im_end|>\n"),
            std::string::npos);
}

TEST(ChatMLTemplateTest, PlainLoop) {
  EXPECT_EQ(Render("chatml",
                   {{.role = "system", .content = "S"},
                    {.role = "user", .content = "U"},
                    {.role = "assistant", .content = "A"}},
                   {}, {.add_generation_prompt = false}),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
            "<|im_start|>assistant\nA<|im_end|>\n");
}

TEST(Llama3TemplateTest, TrimsAndAddsBosOnce) {
  auto t = Make("llama3");
  EXPECT_TRUE(t->renders_bos());
  EXPECT_EQ(Render("llama3",
                   {{.role = "system", .content = " S "},
                    {.role = "user", .content = "Hi\n"},
                    {.role = "assistant", .content = "Yo"}}),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nYo<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(Llama31TemplateTest, SystemHeaderWithoutTools) {
  EXPECT_EQ(Render("llama3.1", {{.role = "user", .content = "Hi"}}),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(Render("llama3.1",
                   {{.role = "system", .content = " Be brief. "}, {.role = "user", .content = "Hi"}},
                   {}, {.add_generation_prompt = false, .date_string = "02 Feb 2025"}),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 02 Feb 2025\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
}

TEST(Llama31TemplateTest, ToolsInFirstUserMessage) {
  const Tool tool{Json::parse(R"({"type": "function", "function": {"name": "f",
      "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}})")};
  std::vector<Message> m = {
      {.role = "user", .content = "Call f"},
      CallMessage("", {{.id = "c", .name = "f", .arguments = "{\"x\": 1}"}}),
      {.role = "tool", .content = "{\"ok\": true}"},
  };
  EXPECT_EQ(
      Render("llama3.1", m, {tool}, {.date_string = "01 Jan 2025"}),
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n"
      "Cutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please "
      "respond with a JSON for a function call with its proper arguments that best answers the "
      "given prompt.\n\nRespond in the format {\"name\": function name, \"parameters\": "
      "dictionary of argument name and its value}.Do not use variables.\n\n"
      "{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"f\",\n"
      "        \"parameters\": {\n            \"type\": \"object\",\n"
      "            \"properties\": {\n                \"x\": {\n"
      "                    \"type\": \"integer\"\n                }\n            }\n"
      "        }\n    }\n}\n\n"
      "Call f<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"f\", \"parameters\": "
      "{\"x\": 1}}<|eot_id|>"
      "<|start_header_id|>ipython<|end_header_id|>\n\n\"{\\\"ok\\\": true}\"<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(Llama31TemplateTest, RaisesLikeTheTemplate) {
  auto t = Make("llama3.1");
  std::vector<Message> two_calls = {
      {.role = "user", .content = "U"},
      CallMessage("", {{.name = "f", .arguments = "{}"}, {.name = "g", .arguments = "{}"}}),
  };
  auto r = t->Render(two_calls, {}, {});
  ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "This model only supports single tool-calls at once!");
  auto r2 = t->Render({{.role = "system", .content = "S"}}, {kWeatherTool}, {});
  ASSERT_EQ(r2.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r2.status().message().find("no first user message"), std::string::npos);
}

TEST(DeepSeekV3TemplateTest, Conversation) {
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
  EXPECT_EQ(Render("deepseek-v3", m),
            "<｜begin▁of▁sentence｜>S1\n\nS2<｜User｜>U1<｜Assistant｜>A1<｜end▁of▁sentence｜>"
            "<｜User｜>U2<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function"
            "<｜tool▁sep｜>f\n```json\n{\"a\": 1}\n```<｜tool▁call▁end｜>\n"
            "<｜tool▁call▁begin｜>function<｜tool▁sep｜>g\n```json\n{\"b\": 2}\n```"
            "<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>"
            "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>R1<｜tool▁output▁end｜>"
            "<｜tool▁output▁begin｜>R2<｜tool▁output▁end｜><｜tool▁outputs▁end｜>Done"
            "<｜end▁of▁sentence｜><｜User｜>U3<｜Assistant｜>");
}

TEST(DeepSeekV3TemplateTest, ConversationFlagsAreNeverReset) {
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
  EXPECT_EQ(Render("deepseek-v3", m),
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
  EXPECT_EQ(SelectedName("llama", chatml), "chatml");
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
