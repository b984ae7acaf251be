#include "gateway/openai/responses_request.h"

#include <gtest/gtest.h>

namespace llmux::gateway {
namespace {

Status ErrorOf(const std::string& body) { return ParseResponsesRequest(body).status(); }

TEST(ResponsesRequestTest, StringInputIsOneUserMessage) {
  auto r = ParseResponsesRequest(
      R"({"model":"m","input":"hi","instructions":"be brief","max_output_tokens":7,"temperature":0})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->request.messages.size(), 1u);
  EXPECT_EQ(r->request.messages[0].role, "user");
  EXPECT_EQ(r->request.messages[0].content, "hi");
  EXPECT_EQ(r->instructions.value_or(""), "be brief");
  EXPECT_EQ(r->request.options.max_tokens.value_or(0), 7);
  EXPECT_EQ(r->request.options.sampling.temperature, 0.0f);
  EXPECT_TRUE(r->store);
  EXPECT_FALSE(r->stream);
  EXPECT_EQ(r->echo["instructions"], "be brief");
}

TEST(ResponsesRequestTest, ItemsBecomeMessagesAndToolTurns) {
  auto r = ParseResponsesRequest(R"({"model":"m","input":[
    {"role":"developer","content":"sys"},
    {"type":"message","role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]},
    {"type":"function_call","call_id":"call_1","name":"f","arguments":"{\"x\":1}"},
    {"type":"function_call","call_id":"call_2","name":"g","arguments":"{}"},
    {"type":"function_call_output","call_id":"call_1","output":"42"}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto& m = r->request.messages;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].role, "system");
  EXPECT_EQ(m[1].content, "ab");
  EXPECT_EQ(m[2].role, "assistant");
  ASSERT_EQ(m[2].tool_calls.size(), 2u);
  EXPECT_EQ(m[2].tool_calls[1].name, "g");
  EXPECT_EQ(m[2].tool_calls[0].arguments, "{\"x\":1}");
  EXPECT_EQ(m[3].role, "tool");
  EXPECT_EQ(m[3].tool_call_id, "call_1");
  EXPECT_EQ(m[3].content, "42");
}

TEST(ResponsesRequestTest, FlatFunctionToolsBecomeChatTools) {
  auto r = ParseResponsesRequest(
      R"({"model":"m","input":"x","tool_choice":{"type":"function","name":"f"},
    "tools":[{"type":"function","name":"f","description":"d","parameters":{"type":"object"},"strict":true}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->request.tools.size(), 1u);
  EXPECT_EQ(r->request.tools[0].name(), "f");
  EXPECT_EQ(r->request.tools[0].spec["function"]["parameters"]["type"], "object");
  EXPECT_EQ(r->request.tool_choice.mode, serving::ToolChoiceMode::kFunction);
  EXPECT_EQ(r->request.tool_choice.function_name, "f");
}

TEST(ResponsesRequestTest, TextFormatJsonSchema) {
  auto r = ParseResponsesRequest(R"({"model":"m","input":"x","text":{"format":{"type":"json_schema",
    "name":"p","strict":true,"schema":{"type":"object","properties":{"a":{"type":"integer"}}}}}})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->request.response_format, serving::ResponseFormat::kJsonSchema);
  EXPECT_TRUE(r->request.json_schema_strict);
  EXPECT_EQ(r->request.json_schema, R"({"type":"object","properties":{"a":{"type":"integer"}}})");
}

TEST(ResponsesRequestTest, WrongInputNamesTheParameter) {
  struct Case {
    const char* body;
    const char* field;
  } cases[] = {
      {R"({"input":"x"})", "model"},
      {R"({"model":"m"})", "input"},
      {R"({"model":"m","input":5})", "input"},
      {R"({"model":"m","input":[]})", "input"},
      {R"({"model":"m","input":[{"role":"user","content":7}]})", "input[0].content"},
      {R"({"model":"m","input":[{"role":"robot","content":"x"}]})", "input[0].role"},
      {R"({"model":"m","input":[{"type":"image","content":"x"}]})", "input[0].type"},
      {R"({"model":"m","input":[{"role":"user","content":[{"type":"input_image"}]}]})",
       "input[0].content[0].type"},
      {R"({"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]})",
       "input[0].call_id"},
      {R"({"model":"m","input":[{"type":"function_call_output","call_id":"c"}]})",
       "input[0].output"},
      {R"({"model":"m","input":"x","tools":[{"type":"web_search"}]})", "tools[0].type"},
      {R"({"model":"m","input":"x","tools":[{"type":"function","name":"f","parameters":"no"}]})",
       "tools[0].parameters"},
      {R"({"model":"m","input":"x","tool_choice":"sometimes"})", "tool_choice"},
      {R"({"model":"m","input":"x","text":{"format":{"type":"xml"}}})", "text.format.type"},
      {R"({"model":"m","input":"x","text":{"format":{"type":"json_schema","name":"n"}}})",
       "text.format.schema"},
      {R"({"model":"m","input":"x","max_output_tokens":"ten"})", "max_output_tokens"},
      {R"({"model":"m","input":"x","max_output_tokens":1e300})", "max_output_tokens"},
      {R"({"model":"m","input":"x","temperature":true})", "temperature"},
      {R"({"model":"m","input":"x","stream":"yes"})", "stream"},
      {R"({"model":"m","input":"x","store":1})", "store"},
      {R"({"model":"m","input":"x","previous_response_id":3})", "previous_response_id"},
      {R"({"model":"m","input":"x","metadata":[1]})", "metadata"},
      {R"({"model":"m","input":"x","reasoning":"high"})", "reasoning"},
  };
  for (const Case& c : cases) {
    Status s = ErrorOf(c.body);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_EQ(s.field(), c.field) << c.body << " -> " << s.message();
  }
}

TEST(ResponsesRequestTest, HostileShapesAreRefused) {
  std::string deep = R"({"model":"m","input":")" + std::string() + R"(x","metadata":)";
  for (int i = 0; i < 100000; ++i) deep += "[";
  EXPECT_EQ(ErrorOf(deep).code(), StatusCode::kInvalidArgument);

  std::string many = R"({"model":"m","input":[)";
  for (size_t i = 0; i <= kMaxResponseInputItems; ++i) {
    many += std::string(i ? "," : "") + R"({"role":"user","content":"x"})";
  }
  many += "]}";
  Status s = ErrorOf(many);
  EXPECT_EQ(s.field(), "input");
  EXPECT_NE(s.message().find("at most"), std::string::npos);

  EXPECT_EQ(ErrorOf("[1,2]").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorOf("{\"model\":").code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmux::gateway
