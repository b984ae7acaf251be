#include "gateway/anthropic/anthropic_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace llmux::gateway {
namespace {

using Json = nlohmann::json;

// The (event name, data) pairs of an SSE text, checking each event's name equals data.type.
std::vector<Json> Events(const std::string& text) {
  std::vector<Json> out;
  std::istringstream in(text);
  std::string line, name;
  while (std::getline(in, line)) {
    if (line.rfind("event: ", 0) == 0) name = line.substr(7);
    if (line.rfind("data: ", 0) == 0) {
      Json data = Json::parse(line.substr(6));
      EXPECT_EQ(data["type"], name);
      out.push_back(std::move(data));
    }
  }
  return out;
}

serving::Finish Finished(serving::FinishReason reason, int in, int out) {
  serving::Finish f;
  f.reason = reason;
  f.usage.prompt_tokens = in;
  f.usage.completion_tokens = out;
  return f;
}

TEST(AnthropicFormatTest, WholeMessageWithThinkingTextAndToolUse) {
  MessageAccumulator acc;
  serving::Delta d1;
  d1.reasoning = "hmm";
  d1.content = "Hi";
  acc.Add(d1);
  serving::Delta d2;
  d2.tool_calls.push_back({0, "call_x", "weather", "{\"city\":"});
  acc.Add(d2);
  serving::Delta d3;
  d3.tool_calls.push_back({0, "", "", "\"Paris\"}"});
  acc.Add(d3);
  Json m = Json::parse(
      acc.MessageJson({"msg_1", "qwen"}, Finished(serving::FinishReason::kToolCalls, 7, 3)));
  EXPECT_EQ(m["id"], "msg_1");
  EXPECT_EQ(m["type"], "message");
  EXPECT_EQ(m["role"], "assistant");
  EXPECT_EQ(m["model"], "qwen");
  EXPECT_EQ(m["stop_reason"], "tool_use");
  EXPECT_TRUE(m["stop_sequence"].is_null());
  EXPECT_EQ(m["usage"], (Json{{"input_tokens", 7}, {"output_tokens", 3}}));
  ASSERT_EQ(m["content"].size(), 3u);
  EXPECT_EQ(m["content"][0], (Json{{"type", "thinking"}, {"thinking", "hmm"}, {"signature", ""}}));
  EXPECT_EQ(m["content"][1], (Json{{"type", "text"}, {"text", "Hi"}}));
  EXPECT_EQ(m["content"][2]["type"], "tool_use");
  EXPECT_EQ(m["content"][2]["name"], "weather");
  EXPECT_EQ(m["content"][2]["input"], (Json{{"city", "Paris"}}));
  EXPECT_EQ(m["content"][2]["id"].get<std::string>().rfind("toolu_", 0), 0u);
}

TEST(AnthropicFormatTest, EmptyAnswerStillHasATextBlockAndStopReasonsMap) {
  MessageAccumulator acc;
  Json m =
      Json::parse(acc.MessageJson({"msg_1", "m"}, Finished(serving::FinishReason::kLength, 1, 0)));
  EXPECT_EQ(m["content"], Json::parse(R"([{"type":"text","text":""}])"));
  EXPECT_EQ(m["stop_reason"], "max_tokens");
  EXPECT_STREQ(StopReason(Finished(serving::FinishReason::kStop, 1, 0)), "end_turn");
}

TEST(AnthropicFormatTest, StopSequenceIsReported) {
  serving::Finish finish = Finished(serving::FinishReason::kStop, 3, 2);
  finish.stop_sequence = "END";
  MessageAccumulator acc;
  Json m = Json::parse(acc.MessageJson({"msg_1", "m"}, finish));
  EXPECT_EQ(m["stop_reason"], "stop_sequence");
  EXPECT_EQ(m["stop_sequence"], "END");
  MessageEventStream s({"msg_2", "m"});
  std::string events = s.Finish(finish);
  EXPECT_NE(events.find(R"("stop_reason":"stop_sequence","stop_sequence":"END")"),
            std::string::npos)
      << events;
}

TEST(AnthropicFormatTest, StreamOpensAndClosesOneBlockPerKindOfOutput) {
  MessageEventStream s({"msg_2", "m"});
  std::string text = s.Start();
  serving::Delta think;
  think.reasoning = "a";
  text += s.Add(think);
  serving::Delta words;
  words.content = "Hel";
  text += s.Add(words);
  words.content = "lo";
  text += s.Add(words);
  serving::Delta call;
  call.tool_calls.push_back({0, "c", "f", "{\"x\":"});
  text += s.Add(call);
  call.tool_calls[0] = {0, "", "", "1}"};
  text += s.Add(call);
  text += s.Finish(Finished(serving::FinishReason::kToolCalls, 5, 4));
  std::vector<Json> ev = Events(text);
  std::vector<std::string> types;
  for (const Json& e : ev) types.push_back(e["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{
                       "message_start", "ping", "content_block_start", "content_block_delta",
                       "content_block_stop", "content_block_start", "content_block_delta",
                       "content_block_delta", "content_block_stop", "content_block_start",
                       "content_block_delta", "content_block_delta", "content_block_stop",
                       "message_delta", "message_stop"}));
  EXPECT_EQ(ev[0]["message"]["id"], "msg_2");
  EXPECT_EQ(ev[0]["message"]["content"], Json::array());
  EXPECT_EQ(ev[2]["index"], 0);
  EXPECT_EQ(ev[2]["content_block"]["type"], "thinking");
  EXPECT_EQ(ev[3]["delta"], (Json{{"type", "thinking_delta"}, {"thinking", "a"}}));
  EXPECT_EQ(ev[5]["index"], 1);
  EXPECT_EQ(ev[5]["content_block"], (Json{{"type", "text"}, {"text", ""}}));
  EXPECT_EQ(ev[7]["delta"], (Json{{"type", "text_delta"}, {"text", "lo"}}));
  EXPECT_EQ(ev[9]["index"], 2);
  EXPECT_EQ(ev[9]["content_block"]["type"], "tool_use");
  EXPECT_EQ(ev[9]["content_block"]["name"], "f");
  EXPECT_EQ(ev[9]["content_block"]["input"], Json::object());
  EXPECT_EQ(ev[11]["delta"], (Json{{"type", "input_json_delta"}, {"partial_json", "1}"}}));
  EXPECT_EQ(ev[12]["index"], 2);
  EXPECT_EQ(ev[13]["delta"]["stop_reason"], "tool_use");
  EXPECT_EQ(ev[13]["usage"]["output_tokens"], 4);
  EXPECT_EQ(ev[13]["usage"]["input_tokens"], 5);
}

TEST(AnthropicFormatTest, ErrorsUseAnthropicsTypes) {
  Json e = Json::parse(AnthropicErrorJson(InvalidArgumentError("bad").WithField("x")));
  EXPECT_EQ(e, Json::parse(
                   R"({"type":"error","error":{"type":"invalid_request_error","message":"bad"}})"));
  EXPECT_EQ(Json::parse(AnthropicErrorJson(NotFoundError("no")))["error"]["type"],
            "not_found_error");
  EXPECT_EQ(Json::parse(AnthropicErrorJson(401, "who"))["error"]["type"], "authentication_error");
  EXPECT_EQ(Json::parse(AnthropicErrorJson(403, "no"))["error"]["type"], "permission_error");
  EXPECT_EQ(Json::parse(AnthropicErrorJson(429, "slow"))["error"]["type"], "rate_limit_error");
  EXPECT_EQ(Json::parse(AnthropicErrorJson(500, "oops"))["error"]["type"], "api_error");
  std::vector<Json> ev = Events(AnthropicErrorEvent(UnavailableError("busy")));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["error"]["type"], "overloaded_error");
  EXPECT_EQ(Json::parse(CountTokensJson(12)), Json::parse(R"({"input_tokens":12})"));
}

}  // namespace
}  // namespace llmux::gateway
