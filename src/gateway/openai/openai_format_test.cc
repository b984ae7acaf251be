#include "gateway/openai/openai_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace llmux::gateway {
namespace {

using nlohmann::json;

json ParseEvent(const std::string& event) {
  EXPECT_EQ(event.rfind("data: ", 0), 0u);
  EXPECT_EQ(event.substr(event.size() - 2), "\n\n");
  return json::parse(event.substr(6, event.size() - 8));
}

TEST(OpenAiFormatTest, WholeChatResponseMergesToolCallsAndReasoning) {
  ResponseAccumulator acc;
  serving::Delta a;
  a.reasoning = "think";
  acc.Add(a);
  serving::Delta b;
  b.tool_calls.push_back({0, "call_a", "f", "{\"x\":"});
  b.tool_calls.push_back({1, "call_b", "g", "{}"});
  acc.Add(b);
  serving::Delta c;
  c.tool_calls.push_back({0, "", "", "1}"});
  acc.Add(c);
  serving::Finish f;
  f.reason = serving::FinishReason::kToolCalls;
  f.usage = {10, 5, 0};
  json j = json::parse(acc.ChatCompletionJson({"chatcmpl-1", 7, "m"}, f, false));
  EXPECT_EQ(j["object"], "chat.completion");
  const json& msg = j["choices"][0]["message"];
  EXPECT_TRUE(msg["content"].is_null());
  EXPECT_EQ(msg["reasoning_content"], "think");
  ASSERT_EQ(msg["tool_calls"].size(), 2u);
  EXPECT_EQ(msg["tool_calls"][0]["function"]["arguments"], "{\"x\":1}");
  EXPECT_EQ(msg["tool_calls"][1]["id"], "call_b");
  EXPECT_EQ(msg["tool_calls"][1]["type"], "function");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(j["usage"]["total_tokens"], 15);
}

TEST(OpenAiFormatTest, StreamChunks) {
  ResponseMeta meta{"chatcmpl-1", 7, "m"};
  json first = ParseEvent(ChatChunkEvent(meta, serving::Delta{}, true, false));
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(first["choices"][0]["delta"]["content"], "");
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  serving::Delta d;
  d.content = "hi";
  d.logprobs.push_back({"hi", -0.5f, {{"hi", -0.5f}}});
  json chunk = ParseEvent(ChatChunkEvent(meta, d, false, true));
  EXPECT_EQ(chunk["choices"][0]["delta"]["content"], "hi");
  EXPECT_FALSE(chunk["choices"][0]["delta"].contains("role"));
  EXPECT_EQ(chunk["choices"][0]["logprobs"]["content"][0]["bytes"], json::array({104, 105}));
  serving::Finish f;
  f.reason = serving::FinishReason::kLength;
  json fin = ParseEvent(ChatFinishEvent(meta, f));
  EXPECT_EQ(fin["choices"][0]["finish_reason"], "length");
  json usage = ParseEvent(UsageEvent(meta, "chat.completion.chunk", {3, 4, 0}));
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 4);
}

TEST(OpenAiFormatTest, ACallOpensWithEmptyArgumentsThenTheyFollow) {
  ResponseMeta meta{"chatcmpl-1", 1, "m"};
  serving::Delta d;
  d.tool_calls.push_back({0, "call_a", "f", "{\"x\":"});
  const std::string events = ChatChunkEvent(meta, d, false, false);
  const size_t split = events.find("\n\ndata: ");
  ASSERT_NE(split, std::string::npos) << events;
  json head = ParseEvent(events.substr(0, split + 2));
  json rest = ParseEvent(events.substr(split + 2));
  const json& h = head["choices"][0]["delta"]["tool_calls"][0];
  EXPECT_EQ(h["id"], "call_a");
  EXPECT_EQ(h["type"], "function");
  EXPECT_EQ(h["function"]["name"], "f");
  EXPECT_EQ(h["function"]["arguments"], "");
  const json& r = rest["choices"][0]["delta"]["tool_calls"][0];
  EXPECT_EQ(r["index"], 0);
  EXPECT_FALSE(r.contains("id"));
  EXPECT_FALSE(r["function"].contains("name"));
  EXPECT_EQ(r["function"]["arguments"], "{\"x\":");
}

TEST(OpenAiFormatTest, InvalidUtf8IsReplacedNotThrown) {
  serving::Delta d;
  d.content = std::string("a\xE4", 2);
  EXPECT_NO_THROW(ParseEvent(CompletionChunkEvent({"cmpl-1", 1, "m"}, d, false)));
}

TEST(OpenAiFormatTest, ErrorObject) {
  json e = json::parse(ErrorJson(InvalidArgumentError("bad").WithField("temperature")));
  EXPECT_EQ(e["error"]["message"], "bad");
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
  EXPECT_EQ(e["error"]["param"], "temperature");
  EXPECT_EQ(HttpStatusFor(InvalidArgumentError("x")), 400);
  json nf = json::parse(ErrorJson(NotFoundError("no").WithField("model")));
  EXPECT_EQ(nf["error"]["code"], "model_not_found");
  EXPECT_EQ(HttpStatusFor(NotFoundError("x")), 404);
  EXPECT_EQ(HttpStatusFor(ResourceExhaustedError("x")), 429);
  EXPECT_EQ(HttpStatusFor(UnavailableError("x")), 503);
  EXPECT_EQ(HttpStatusFor(InternalError("x")), 500);
}

}  // namespace
}  // namespace llmux::gateway
