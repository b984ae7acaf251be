#include "gateway/anthropic/anthropic_request.h"

#include <gtest/gtest.h>

#include <string>

namespace llmux::gateway {
namespace {

std::string FieldOf(const std::string& body) {
  auto r = ParseMessagesRequest(body);
  EXPECT_FALSE(r.ok()) << body;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return std::string(r.status().field());
}

TEST(AnthropicRequestTest, MapsAConversationWithToolsAndOptions) {
  auto r = ParseMessagesRequest(R"({
    "model": "m", "max_tokens": 64, "system": [{"type": "text", "text": "Be brief."}],
    "messages": [
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "use the tool", "signature": ""},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}]},
      {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}]},
        {"type": "text", "text": "Thanks"}]}],
    "tools": [{"name": "weather", "description": "d", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "any"}, "stop_sequences": ["END"], "temperature": 0.5,
    "top_p": 0.9, "top_k": 5, "stream": true, "thinking": {"type": "disabled"},
    "metadata": {"user_id": "u"}, "seed": 7})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const serving::ChatRequest& q = r->request;
  EXPECT_TRUE(r->stream);
  EXPECT_EQ(q.model, "m");
  EXPECT_EQ(q.options.max_tokens, 64);
  ASSERT_EQ(q.messages.size(), 5u);
  EXPECT_EQ(q.messages[0].role, "system");
  EXPECT_EQ(q.messages[0].content, "Be brief.");
  EXPECT_EQ(q.messages[1].role, "user");
  EXPECT_EQ(q.messages[2].role, "assistant");
  EXPECT_EQ(q.messages[2].content, "Checking.");
  EXPECT_EQ(q.messages[2].reasoning_content, "use the tool");
  ASSERT_EQ(q.messages[2].tool_calls.size(), 1u);
  EXPECT_EQ(q.messages[2].tool_calls[0].id, "toolu_1");
  EXPECT_EQ(q.messages[2].tool_calls[0].name, "weather");
  EXPECT_EQ(q.messages[2].tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(q.messages[3].role, "tool");
  EXPECT_EQ(q.messages[3].tool_call_id, "toolu_1");
  EXPECT_EQ(q.messages[3].content, "sunny");
  EXPECT_EQ(q.messages[4].role, "user");
  EXPECT_EQ(q.messages[4].content, "Thanks");
  ASSERT_EQ(q.tools.size(), 1u);
  EXPECT_EQ(q.tools[0].name(), "weather");
  EXPECT_EQ(q.tools[0].spec["function"]["parameters"]["type"], "object");
  EXPECT_EQ(q.tool_choice.mode, serving::ToolChoiceMode::kRequired);
  EXPECT_EQ(q.options.stop, std::vector<std::string>{"END"});
  EXPECT_FLOAT_EQ(*q.options.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(*q.options.sampling.top_p, 0.9f);
  EXPECT_EQ(q.options.sampling.top_k, 5);
  EXPECT_EQ(q.enable_thinking, false);
  EXPECT_EQ(q.options.sampling.seed, 7u);
}

TEST(AnthropicRequestTest, ToolChoiceAndThinkingKinds) {
  auto named = ParseMessagesRequest(
      R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],
          "tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"tool","name":"f"},
          "thinking":{"type":"enabled","budget_tokens":1024}})");
  ASSERT_TRUE(named.ok()) << named.status().message();
  EXPECT_EQ(named->request.tool_choice.mode, serving::ToolChoiceMode::kFunction);
  EXPECT_EQ(named->request.tool_choice.function_name, "f");
  EXPECT_EQ(named->request.enable_thinking, true);
  auto none = ParseMessagesRequest(
      R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"none"}})");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->request.tool_choice.mode, serving::ToolChoiceMode::kNone);
  EXPECT_FALSE(none->request.enable_thinking.has_value());
}

TEST(AnthropicRequestTest, CountTokensNeedsNoMaxTokens) {
  auto r = ParseCountTokensRequest(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(FieldOf(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})"), "max_tokens");
}

TEST(AnthropicRequestTest, WrongTypesAndMissingFieldsNameTheField) {
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  EXPECT_EQ(FieldOf(R"({"max_tokens":1,)" + msgs + "}"), "model");
  EXPECT_EQ(FieldOf(R"({"model":1,"max_tokens":1,)" + msgs + "}"), "model");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":"1",)" + msgs + "}"), "max_tokens");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":0,)" + msgs + "}"), "max_tokens");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":99999999999,)" + msgs + "}"), "max_tokens");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":1,"messages":{}})"), "messages");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":1,"messages":[]})"), "messages");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":1,"messages":[{"role":"system","content":"x"}]})"),
            "messages[0].role");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":5}]})"),
            "messages[0].content");
  EXPECT_EQ(
      FieldOf(
          R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{}}]}]})"),
      "messages[0].content[0].type");
  EXPECT_EQ(
      FieldOf(
          R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"document"}]}]})"),
      "messages[0].content[0].type");
  EXPECT_EQ(
      FieldOf(
          R"({"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f","input":[1]}]}]})"),
      "messages[0].content[0].input");
  EXPECT_EQ(
      FieldOf(
          R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]})"),
      "messages[0].content[0].tool_use_id");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":1,"system":{"a":1},)" + msgs + "}"), "system");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":1,"tools":[{"name":"f"}],)" + msgs + "}"),
            "tools[0].input_schema");
  EXPECT_EQ(
      FieldOf(
          R"({"model":"m","max_tokens":1,"tools":[{"type":"web_search_20250305","name":"w"}],)" +
          msgs + "}"),
      "tools[0].type");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":1,"tool_choice":"auto",)" + msgs + "}"),
            "tool_choice");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":1,"tool_choice":{"type":"tool"},)" + msgs + "}"),
            "tool_choice.name");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":1,"stop_sequences":"x",)" + msgs + "}"),
            "stop_sequences");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":1,"stop_sequences":[1],)" + msgs + "}"),
            "stop_sequences[0]");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":1,"temperature":"hot",)" + msgs + "}"),
            "temperature");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":1,"top_k":1.5,)" + msgs + "}"), "top_k");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":1,"stream":"yes",)" + msgs + "}"), "stream");
  EXPECT_EQ(FieldOf(R"({"model":"m","max_tokens":1,"thinking":{"type":"maybe"},)" + msgs + "}"),
            "thinking.type");
}

TEST(AnthropicRequestTest, HostileBodiesAreRefusedNotCrashedOn) {
  EXPECT_FALSE(ParseMessagesRequest("not json").ok());
  EXPECT_FALSE(ParseMessagesRequest("[1,2]").ok());
  // Nesting far past the limit, inside a tool's input.
  std::string deep =
      R"({"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f","input":{"a":)";
  deep += std::string(100000, '[') + std::string(100000, ']') + "}}]}]}";
  auto r = ParseMessagesRequest(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  // A huge array of blocks is parsed without recursion, and its wrong element is named.
  std::string many = R"({"model":"m","max_tokens":1,"messages":[{"role":"user","content":[)";
  for (int i = 0; i < 50000; ++i) many += R"({"type":"text","text":"a"},)";
  many += R"(7]}]})";
  EXPECT_EQ(FieldOf(many), "messages[0].content[50000]");
}

}  // namespace
}  // namespace llmux::gateway
