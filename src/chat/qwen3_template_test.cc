// The Qwen3 template against the 15 reference renderings made with the real Jinja template
// (../shared/vectors/chat-template-qwen3.json), byte for byte.
#include <gtest/gtest.h>

#include "chat/chat_template.h"
#include "chat/chat_test_util.h"
#include "tests/support/test_paths.h"

namespace llmux::chat {
namespace {

Json LoadVectors() {
  const std::string text =
      testing::ReadFile(llmux::testing::SharedDir() + "/vectors/chat-template-qwen3.json");
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

TEST(Qwen3TemplateTest, RendersAllReferenceCasesExactly) {
  const Json vectors = LoadVectors();
  ASSERT_FALSE(vectors.is_discarded()) << "cannot read chat-template-qwen3.json";
  ASSERT_EQ(vectors["cases"].size(), 15u);
  auto tmpl = MakeChatTemplate("qwen3");
  ASSERT_TRUE(tmpl.ok());
  for (const auto& c : vectors["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    RenderOptions options;
    options.add_generation_prompt = c["kwargs"].value("add_generation_prompt", false);
    options.enable_thinking = c["kwargs"].value("enable_thinking", true);
    auto rendered = (*tmpl)->Render(testing::MessagesFromJson(c["messages"]),
                                    testing::ToolsFromJson(c["tools"]), options);
    ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
    EXPECT_EQ(*rendered, c["rendered"].get<std::string>());
  }
}

// OpenAI clients send content: null on assistant messages that only carry tool_calls; the
// serving layer turns it into "" (the vectors' note), which renders like the "" cases.
TEST(Qwen3TemplateTest, NullContentRendersLikeEmpty) {
  const Json vectors = LoadVectors();
  ASSERT_FALSE(vectors.is_discarded());
  auto tmpl = MakeChatTemplate("qwen3");
  ASSERT_TRUE(tmpl.ok());
  for (const auto& c : vectors["cases"]) {
    if (c["name"] != "tool_call_single_and_response") continue;
    Json messages = c["messages"];
    messages[1]["content"] = nullptr;
    auto rendered =
        (*tmpl)->Render(testing::MessagesFromJson(messages), testing::ToolsFromJson(c["tools"]),
                        RenderOptions{});
    ASSERT_TRUE(rendered.ok());
    EXPECT_EQ(*rendered, c["rendered"].get<std::string>());
  }
}

std::string Render(const std::vector<Message>& messages, const RenderOptions& options = {}) {
  auto tmpl = MakeChatTemplate("qwen3");
  auto r = (*tmpl)->Render(messages, {}, options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "";
}

// Rules of the template the vectors do not reach, worked out by hand from its source.
TEST(Qwen3TemplateTest, ThinkHistoryRules) {
  // After the last real user query, an assistant message keeps its reasoning (here one taken
  // from <think> tags in the content) when it is not the last message.
  std::vector<Message> m = {
      {.role = "user", .content = "Q"},
      {.role = "assistant", .content = "<think>\nr1\n</think>\n\nA1"},
      {.role = "tool", .content = "T"},
      {.role = "assistant", .content = "A2"},
  };
  EXPECT_EQ(Render(m, {.add_generation_prompt = false}),
            "<|im_start|>user\nQ<|im_end|>\n"
            "<|im_start|>assistant\n<think>\nr1\n</think>\n\nA1<|im_end|>\n"
            "<|im_start|>user\n<tool_response>\nT\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n<think>\n\n</think>\n\nA2<|im_end|>\n");
  // A user message that is a wrapped tool response does not count as the last query, and a
  // later system message is rendered in place.
  std::vector<Message> m2 = {
      {.role = "user", .content = "Q"},
      {.role = "assistant", .content = "x", .reasoning_content = "\nr\n"},
      {.role = "user", .content = "<tool_response>\nT\n</tool_response>"},
      {.role = "system", .content = "S"},
  };
  EXPECT_EQ(Render(m2),
            "<|im_start|>user\nQ<|im_end|>\n"
            "<|im_start|>assistant\n<think>\nr\n</think>\n\nx<|im_end|>\n"
            "<|im_start|>user\n<tool_response>\nT\n</tool_response><|im_end|>\n"
            "<|im_start|>system\nS<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(Qwen3TemplateTest, ToolCallArgumentsAndFirstToolMessage) {
  Message call_msg{.role = "assistant", .content = "ok"};
  call_msg.tool_calls.push_back({.id = "a", .name = "f", .arguments = Json::parse(R"({"x": 1.5})")});
  call_msg.tool_calls.push_back({.id = "b", .name = "g", .arguments = "{\"y\":2}"});
  std::vector<Message> m = {{.role = "tool", .content = "T0"}, {.role = "user", .content = "Q"},
                            call_msg};
  EXPECT_EQ(Render(m, {.add_generation_prompt = false}),
            "<|im_start|>user\n<tool_response>\nT0\n</tool_response><|im_end|>\n"
            "<|im_start|>user\nQ<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n\n</think>\n\nok\n"
            "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1.5}}\n</tool_call>\n"
            "<tool_call>\n{\"name\": \"g\", \"arguments\": {\"y\":2}}\n</tool_call><|im_end|>\n");
}

TEST(Qwen3TemplateTest, BadInput) {
  auto tmpl = MakeChatTemplate("qwen3");
  auto empty = (*tmpl)->Render({}, {}, {});
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  auto role = (*tmpl)->Render({{.role = "robot", .content = "x"}}, {}, {});
  EXPECT_EQ(role.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(role.status().message().find("robot"), std::string::npos);
  Message bad{.role = "user", .content = "x"};
  bad.tool_calls.push_back({.name = "f"});
  EXPECT_EQ((*tmpl)->Render({bad}, {}, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*tmpl)->Render({{.role = "user", .content = "x"}}, {Tool{Json("f")}}, {})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmux::chat
