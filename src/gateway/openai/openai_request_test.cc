#include "gateway/openai/openai_request.h"

#include <gtest/gtest.h>

namespace llmux::gateway {
namespace {

Status ChatError(const std::string& body) {
  auto r = ParseChatCompletionRequest(body);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? Status::Ok() : r.status();
}

TEST(OpenAiRequestTest, ParsesAFullChatRequest) {
  auto r = ParseChatCompletionRequest(R"({
    "model": "m", "unknown_field": [1, 2],
    "messages": [
      {"role": "system", "content": "be brief"},
      {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
      {"role": "assistant", "content": null,
       "tool_calls": [{"id": "call_1", "type": "function",
                       "function": {"name": "f", "arguments": "{\"x\": 1}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "42"}],
    "max_completion_tokens": 7, "max_tokens": 99, "temperature": 0.5, "top_p": 0.9,
    "top_k": 5, "min_p": 0.1, "seed": 3, "stop": "END", "logprobs": true, "top_logprobs": 2,
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "tool_choice": {"type": "function", "function": {"name": "f"}},
    "response_format": {"type": "json_object"},
    "chat_template_kwargs": {"enable_thinking": false},
    "stream": true, "stream_options": {"include_usage": true}, "user": "u1"})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const serving::ChatRequest& c = r->request;
  EXPECT_EQ(c.model, "m");
  ASSERT_EQ(c.messages.size(), 4u);
  EXPECT_EQ(c.messages[1].content, "ab");
  EXPECT_EQ(c.messages[2].content, "");
  ASSERT_EQ(c.messages[2].tool_calls.size(), 1u);
  EXPECT_EQ(c.messages[2].tool_calls[0].name, "f");
  EXPECT_EQ(c.messages[2].tool_calls[0].arguments, "{\"x\": 1}");
  EXPECT_EQ(c.messages[3].tool_call_id, "call_1");
  EXPECT_EQ(c.options.max_tokens, 7);  // max_completion_tokens wins
  EXPECT_FLOAT_EQ(*c.options.sampling.temperature, 0.5f);
  EXPECT_EQ(*c.options.sampling.top_k, 5);
  EXPECT_EQ(*c.options.sampling.seed, 3u);
  EXPECT_EQ(c.options.stop, std::vector<std::string>{"END"});
  EXPECT_TRUE(c.options.logprobs);
  EXPECT_EQ(c.options.top_logprobs, 2);
  ASSERT_EQ(c.tools.size(), 1u);
  EXPECT_EQ(c.tools[0].name(), "f");
  EXPECT_EQ(c.tool_choice.mode, serving::ToolChoiceMode::kFunction);
  EXPECT_EQ(c.response_format, serving::ResponseFormat::kJsonObject);
  EXPECT_EQ(c.enable_thinking, false);
  EXPECT_TRUE(r->stream.stream);
  EXPECT_TRUE(r->stream.include_usage);
  EXPECT_EQ(c.options.user, "u1");
}

TEST(OpenAiRequestTest, ParsesJsonSchemaAndGrammar) {
  auto r =
      ParseChatCompletionRequest(R"({"model": "m", "messages": [{"role": "user", "content": "x"}],
    "response_format": {"type": "json_schema", "json_schema": {"name": "n", "strict": true,
      "schema": {"type": "object", "properties": {"z": {"type": "string"}, "a": {"type": "integer"}}}}}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->request.response_format, serving::ResponseFormat::kJsonSchema);
  EXPECT_TRUE(r->request.json_schema_strict);
  // The client's key order is kept (it orders the generated properties).
  EXPECT_EQ(r->request.json_schema,
            R"({"type":"object","properties":{"z":{"type":"string"},"a":{"type":"integer"}}})");

  auto g =
      ParseChatCompletionRequest(R"({"model": "m", "messages": [{"role": "user", "content": "x"}],
    "grammar": "root ::= [a-z]+"})");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->request.response_format, serving::ResponseFormat::kGrammar);
  EXPECT_EQ(g->request.grammar, "root ::= [a-z]+");
}

TEST(OpenAiRequestTest, ErrorsNameTheParameter) {
  EXPECT_EQ(ChatError("{not json").field(), "");
  EXPECT_NE(ChatError("{not json").message().find("JSON"), std::string::npos);
  EXPECT_EQ(ChatError("[1]").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ChatError(R"({"messages": []})").field(), "model");
  EXPECT_EQ(ChatError(R"({"model": 5, "messages": []})").field(), "model");
  EXPECT_EQ(ChatError(R"({"model": "m"})").field(), "messages");
  EXPECT_EQ(ChatError(R"({"model": "m", "messages": "hi"})").field(), "messages");
  EXPECT_EQ(ChatError(R"({"model": "m", "messages": [{"content": "x"}]})").field(), "messages[0].role");
  EXPECT_EQ(ChatError(R"({"model": "m", "messages": [{"role": "user", "content": 5}]})").field(),
            "messages[0].content");
  EXPECT_EQ(ChatError(R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]})")
                .field(),
            "messages[0].content[0].type");
  const std::string ok_msgs = R"("messages": [{"role": "user", "content": "x"}])";
  auto with = [&](const std::string& extra) { return ChatError("{\"model\": \"m\", " + ok_msgs + ", " + extra + "}"); };
  EXPECT_EQ(with(R"("temperature": "hot")").field(), "temperature");
  EXPECT_EQ(with(R"("temperature": 3)").field(), "temperature");
  EXPECT_EQ(with(R"("max_tokens": -1)").field(), "max_tokens");
  EXPECT_EQ(with(R"("max_tokens": 1e12)").field(), "max_tokens");
  EXPECT_EQ(with(R"("max_tokens": 1.5)").field(), "max_tokens");
  EXPECT_EQ(with(R"("n": 2)").field(), "n");
  EXPECT_EQ(with(R"("stop": ["a","b","c","d","e"])").field(), "stop");
  EXPECT_EQ(with(R"("stop": 7)").field(), "stop");
  EXPECT_EQ(with(R"("stream": "yes")").field(), "stream");
  EXPECT_EQ(with(R"("tool_choice": "sometimes")").field(), "tool_choice");
  EXPECT_EQ(with(R"("tool_choice": "required")").field(), "tool_choice");  // no tools
  EXPECT_EQ(with(R"("response_format": {"type": "json_schema"})").field(),
            "response_format.json_schema");
  EXPECT_EQ(
      with(R"("response_format": {"type": "json_schema", "json_schema": {"name": "x"}})").field(),
      "response_format.json_schema.schema");
  EXPECT_EQ(
      with(R"("response_format": {"type": "json_schema", "json_schema": {"schema": 3}})").field(),
      "response_format.json_schema.schema");
  EXPECT_EQ(with(R"("response_format": {"type": "xml"})").field(), "response_format.type");
  EXPECT_EQ(
      with(R"("response_format": {"type": "json_object"}, "grammar": "root ::= [a]")").field(),
      "grammar");
  EXPECT_EQ(with(R"("top_logprobs": 30, "logprobs": true)").field(), "top_logprobs");
  // A tool's parameters must be a JSON Schema object, as OpenAI requires.
  for (const char* params : {R"("notaschema")", "[]", "5", "true"}) {
    EXPECT_EQ(with(std::string(R"("tools": [{"type": "function", "function": {"name": "f", "parameters": )") +
                   params + "}}]")
                  .field(),
              "tools[0].function.parameters")
        << params;
  }
  EXPECT_EQ(ChatError("{\"model\": \"m\", " + ok_msgs + R"(, "tools": [{"type": "function", "function": {"name": "f"}}], "n": 2})")
                .field(),
            "n");  // no parameters at all is fine (a function without arguments)
}

TEST(OpenAiRequestTest, OutOfRangeNumbersAreReportedAsSent) {
  const std::string ok_msgs = R"("messages": [{"role": "user", "content": "x"}])";
  auto with = [&](const std::string& extra) { return ChatError("{\"model\": \"m\", " + ok_msgs + ", " + extra + "}"); };
  struct Case {
    const char* field;
    const char* json;
    const char* sent;
  };
  for (const Case& c : std::vector<Case>{{"max_tokens", "1e12", "1000000000000.0"},
                                         {"max_tokens", "9999999999", "9999999999"},
                                         {"max_tokens", "18446744073709551615", "18446744073709551615"},
                                         {"max_completion_tokens", "-3000000000", "-3000000000"},
                                         {"top_k", "1e300", "1e+300"},
                                         {"top_logprobs", "4294967296", "4294967296"},
                                         {"temperature", "1e308", "1e+308"},
                                         {"top_p", "-1e300", "-1e+300"}}) {
    const Status e = with(std::string("\"") + c.field + "\": " + c.json);
    EXPECT_EQ(e.field(), c.field) << c.json;
    EXPECT_NE(e.message().find(std::string("got ") + c.sent), std::string::npos) << e.message();
    EXPECT_EQ(e.message().find("2147483647"), std::string::npos) << e.message();
    EXPECT_EQ(e.message().find("inf"), std::string::npos) << e.message();
  }
}

TEST(OpenAiRequestTest, TokenizeAndDetokenize) {
  auto t = ParseTokenizeRequest(R"({"model": "m", "prompt": "Hi <|im_end|>"})");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->model, "m");
  EXPECT_EQ(t->prompt, "Hi <|im_end|>");
  EXPECT_TRUE(t->add_special_tokens);  // vLLM's default
  t = ParseTokenizeRequest(R"({"model": "m", "prompt": "", "add_special_tokens": false})");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->add_special_tokens);
  EXPECT_EQ(ParseTokenizeRequest(R"({"prompt": "x"})").status().field(), "model");
  EXPECT_EQ(ParseTokenizeRequest(R"({"model": "m"})").status().field(), "prompt");
  EXPECT_EQ(ParseTokenizeRequest(R"({"model": "m", "prompt": ["x"]})").status().field(), "prompt");
  EXPECT_EQ(ParseTokenizeRequest(R"({"model": "m", "prompt": "x", "add_special_tokens": 1})")
                .status()
                .field(),
            "add_special_tokens");

  auto d = ParseDetokenizeRequest(R"({"model": "m", "tokens": [0, 7, 2147483647]})");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->tokens, (std::vector<int32_t>{0, 7, 2147483647}));
  for (const char* bad :
       {R"({"model": "m"})", R"({"model": "m", "tokens": 5})", R"({"model": "m", "tokens": [-1]})",
        R"({"model": "m", "tokens": [1.5]})", R"({"model": "m", "tokens": ["1"]})",
        R"({"model": "m", "tokens": [2147483648]})",
        R"({"model": "m", "tokens": [18446744073709551615]})"}) {
    const Status s = ParseDetokenizeRequest(bad).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.field(), "tokens") << bad;
  }
  EXPECT_EQ(ParseDetokenizeRequest(R"({"tokens": [1]})").status().field(), "model");
}

TEST(OpenAiRequestTest, Completions) {
  auto r = ParseCompletionRequest(R"({"model": "m", "prompt": ["Once"], "logprobs": 2, "echo": true})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->request.prompt, "Once");
  EXPECT_EQ(r->request.options.max_tokens, 16);
  EXPECT_TRUE(r->request.options.logprobs);
  EXPECT_EQ(r->request.options.top_logprobs, 2);
  EXPECT_TRUE(r->echo);
  EXPECT_EQ(ParseCompletionRequest(R"({"model": "m"})").status().field(), "prompt");
  EXPECT_EQ(ParseCompletionRequest(R"({"model": "m", "prompt": ["a", "b"]})").status().field(), "prompt");
  EXPECT_EQ(ParseCompletionRequest(R"({"model": "m", "prompt": "a", "logprobs": 9})").status().field(),
            "logprobs");
}

}  // namespace
}  // namespace llmux::gateway
