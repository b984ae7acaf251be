#include "gateway/openai/responses_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace llmux::gateway {
namespace {

using Json = nlohmann::ordered_json;

// The data objects of an SSE stream, checking each event line names the data's type.
std::vector<Json> Events(const std::string& sse) {
  std::vector<Json> out;
  size_t pos = 0;
  while ((pos = sse.find("event: ", pos)) != std::string::npos) {
    size_t nl = sse.find('\n', pos);
    std::string type = sse.substr(pos + 7, nl - pos - 7);
    size_t end = sse.find("\n\n", nl);
    Json data = Json::parse(sse.substr(nl + 7, end - nl - 7));
    EXPECT_EQ(data["type"], type);
    out.push_back(std::move(data));
    pos = end;
  }
  return out;
}

serving::Delta Text(const std::string& s) {
  serving::Delta d;
  d.content = s;
  return d;
}

TEST(ResponsesFormatTest, StreamAndWholeCarryTheSameText) {
  ResponsesMeta meta{"resp_1", 5, "m", "", true, Json::object()};
  ResponseBuilder streamed(meta), whole(meta);
  std::string sse = streamed.StartEvents();
  serving::Delta thinking;
  thinking.reasoning = "hmm";
  for (const serving::Delta& d : {thinking, Text("Hel"), Text("lo")}) {
    sse += streamed.Add(d);
    whole.Add(d);
  }
  serving::Finish finish;
  finish.usage = {10, 3, 2};
  sse += streamed.FinishEvents(finish);
  Json response = Json::parse(whole.ResponseJson(finish));

  std::vector<Json> events = Events(sse);
  std::string deltas;
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i]["sequence_number"], i);
    if (events[i]["type"] == "response.output_text.delta") deltas += events[i]["delta"];
  }
  EXPECT_EQ(deltas, "Hello");
  EXPECT_EQ(events.front()["type"], "response.created");
  EXPECT_EQ(events.back()["type"], "response.completed");
  const Json& final_response = events.back()["response"];
  EXPECT_EQ(final_response["status"], "completed");
  ASSERT_EQ(response["output"].size(), 2u);
  EXPECT_EQ(response["output"][0]["type"], "reasoning");
  EXPECT_EQ(response["output"][1]["content"][0]["text"], "Hello");
  EXPECT_EQ(final_response["output"][1]["content"][0]["text"], "Hello");
  EXPECT_EQ(response["usage"]["input_tokens"], 10);
  EXPECT_EQ(response["usage"]["output_tokens"], 3);
  EXPECT_EQ(response["usage"]["total_tokens"], 13);
  EXPECT_EQ(response["usage"]["input_tokens_details"]["cached_tokens"], 2);
}

TEST(ResponsesFormatTest, ToolCallsAreFunctionCallItems) {
  ResponseBuilder b({"resp_1", 5, "m", "resp_0", false, Json::object()});
  serving::Delta d;
  d.tool_calls.push_back({0, "call_a", "get", "{\"x\""});
  std::string sse = b.Add(d);
  d.tool_calls = {{0, "", "", ":1}"}};
  sse += b.Add(d);
  serving::Finish finish;
  finish.reason = serving::FinishReason::kToolCalls;
  sse += b.FinishEvents(finish);
  std::vector<Json> events = Events(sse);
  ASSERT_GE(events.size(), 5u);
  EXPECT_EQ(events[0]["type"], "response.output_item.added");
  EXPECT_EQ(events[0]["item"]["call_id"], "call_a");
  Json done;
  for (const Json& e : events) {
    if (e["type"] == "response.function_call_arguments.done") done = e;
  }
  EXPECT_EQ(done["arguments"], "{\"x\":1}");
  const Json& response = events.back()["response"];
  EXPECT_EQ(response["previous_response_id"], "resp_0");
  EXPECT_EQ(response["store"], false);
  ASSERT_EQ(response["output"].size(), 1u);
  EXPECT_EQ(response["output"][0]["type"], "function_call");
  EXPECT_EQ(response["output"][0]["name"], "get");
  EXPECT_EQ(response["output"][0]["arguments"], "{\"x\":1}");
  chat::Message m = b.AssistantMessage();
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].id, "call_a");
}

TEST(ResponsesFormatTest, LengthLimitIsIncompleteAndEmptyOutputHasAMessage) {
  ResponseBuilder b({"resp_1", 5, "m", "", true, Json::object()});
  serving::Finish finish;
  finish.reason = serving::FinishReason::kLength;
  Json r = Json::parse(b.ResponseJson(finish));
  EXPECT_EQ(r["status"], "incomplete");
  EXPECT_EQ(r["incomplete_details"]["reason"], "max_output_tokens");
  ASSERT_EQ(r["output"].size(), 1u);
  EXPECT_EQ(r["output"][0]["content"][0]["text"], "");
}

TEST(ResponsesFormatTest, ErrorEventHasOpenAisShape) {
  ResponseBuilder b({"resp_1", 5, "m", "", true, Json::object()});
  std::string sse = b.StartEvents();
  sse += b.ErrorEvent(InternalError("engine failed"));
  std::vector<Json> events = Events(sse);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2]["type"], "error");
  EXPECT_EQ(events[2]["sequence_number"], 2);
  EXPECT_EQ(events[2]["message"], "engine failed");
  EXPECT_TRUE(events[2]["param"].is_null());
}

}  // namespace
}  // namespace llmux::gateway
