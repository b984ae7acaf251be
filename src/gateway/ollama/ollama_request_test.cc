#include "gateway/ollama/ollama_request.h"

#include <gtest/gtest.h>

#include <string>

namespace llmux::gateway {
namespace {

Status ChatError(const std::string& body) {
  auto r = ParseOllamaChatRequest(body);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? Status::Ok() : r.status();
}

Status GenerateError(const std::string& body) {
  auto r = ParseOllamaGenerateRequest(body);
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? Status::Ok() : r.status();
}

// Ollama's structured outputs: a JSON schema as format (docs/api.md, "Request (Structured
// outputs)"), passed on as text in the client's key order.
TEST(OllamaRequestTest, TakesAJsonSchemaAsFormat) {
  auto r = ParseOllamaChatRequest(R"({"model": "m", "messages": [{"role": "user", "content": "x"}],
    "format": {"type": "object", "properties": {"age": {"type": "integer"},
               "available": {"type": "boolean"}}, "required": ["age", "available"]}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->request.response_format, serving::ResponseFormat::kJsonSchema);
  EXPECT_EQ(
      r->request.json_schema,
      R"({"type":"object","properties":{"age":{"type":"integer"},"available":{"type":"boolean"}},"required":["age","available"]})");
}

// The body of Ollama's own API documentation (docs/api.md, "Chat request (with tools)" and
// "Chat request (with history)"), with options from its "Request with options" example.
TEST(OllamaRequestTest, ParsesAChatRequestInOllamasShape) {
  auto r = ParseOllamaChatRequest(R"({
    "model": "llama3.2:latest",
    "messages": [
      {"role": "system", "content": "You are a helpful assistant."},
      {"role": "user", "content": "What is the weather today in Paris?"},
      {"role": "assistant", "content": "", "thinking": "I should call the tool",
       "tool_calls": [{"function": {"name": "get_current_weather",
                                     "arguments": {"format": "celsius", "location": "Paris, FR"}}}]},
      {"role": "tool", "content": "22 degrees", "tool_name": "get_current_weather"}],
    "stream": false,
    "keep_alive": "5m",
    "think": true,
    "format": "json",
    "tools": [{"type": "function", "function": {"name": "get_current_weather",
      "description": "Get the current weather for a location",
      "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                     "required": ["location"]}}}],
    "options": {"num_keep": 5, "seed": 42, "num_predict": 100, "top_k": 20, "top_p": 0.9,
                "min_p": 0.0, "typical_p": 0.7, "repeat_last_n": 33, "temperature": 0.8,
                "repeat_penalty": 1.2, "presence_penalty": 1.5, "frequency_penalty": 1.0,
                "mirostat": 1, "penalize_newline": true, "stop": ["\n", "user:"],
                "numa": false, "num_ctx": 1024, "num_batch": 2, "num_gpu": 1,
                "main_gpu": 0, "use_mmap": true, "num_thread": 8}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const serving::ChatRequest& c = r->request;
  EXPECT_EQ(c.model, "llama3.2");  // ":latest" is Ollama's default tag
  ASSERT_EQ(c.messages.size(), 4u);
  EXPECT_EQ(c.messages[0].role, "system");
  EXPECT_EQ(c.messages[2].reasoning_content, "I should call the tool");
  ASSERT_EQ(c.messages[2].tool_calls.size(), 1u);
  EXPECT_EQ(c.messages[2].tool_calls[0].name, "get_current_weather");
  EXPECT_EQ(c.messages[2].tool_calls[0].arguments["location"], "Paris, FR");
  EXPECT_EQ(c.messages[3].role, "tool");
  EXPECT_EQ(c.messages[3].name, "get_current_weather");
  ASSERT_EQ(c.tools.size(), 1u);
  EXPECT_EQ(c.tools[0].name(), "get_current_weather");
  EXPECT_FALSE(r->stream);
  EXPECT_FALSE(r->load_only);
  EXPECT_EQ(r->keep_alive, 300);
  EXPECT_EQ(c.enable_thinking, true);
  EXPECT_EQ(c.response_format, serving::ResponseFormat::kJsonObject);
  const serving::GenerationOptions& o = c.options;
  EXPECT_EQ(o.sampling.seed, 42u);
  EXPECT_EQ(o.max_tokens, 100);
  EXPECT_EQ(o.sampling.top_k, 20);
  EXPECT_FLOAT_EQ(*o.sampling.top_p, 0.9f);
  EXPECT_FLOAT_EQ(*o.sampling.temperature, 0.8f);
  EXPECT_FLOAT_EQ(o.sampling.repetition_penalty, 1.2f);
  EXPECT_FLOAT_EQ(o.sampling.presence_penalty, 1.5f);
  EXPECT_FLOAT_EQ(o.sampling.frequency_penalty, 1.0f);
  EXPECT_EQ(o.stop, (std::vector<std::string>{"\n", "user:"}));
}

TEST(OllamaRequestTest, DefaultsAreOllamas) {
  auto r =
      ParseOllamaChatRequest(R"({"model": "m", "messages": [{"role": "user", "content": "hi"}]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->stream);  // Ollama streams unless "stream": false
  EXPECT_FALSE(r->keep_alive.has_value());
  EXPECT_FALSE(r->request.options.max_tokens.has_value());
  EXPECT_FALSE(r->request.options.sampling.seed.has_value());
  EXPECT_FALSE(r->request.enable_thinking.has_value());
}

TEST(OllamaRequestTest, NoLimitAndRandomSeedValues) {
  // num_predict -1 (infinite) and -2 (fill the context) and seed -1 (random) are Ollama's
  // spellings of "unset".
  for (
      const char* body :
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"options":{"num_predict":-1,"seed":-1}})",
       R"({"model":"m","messages":[{"role":"user","content":"x"}],"options":{"num_predict":-2}})"}) {
    auto r = ParseOllamaChatRequest(body);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->request.options.max_tokens.has_value());
    EXPECT_FALSE(r->request.options.sampling.seed.has_value());
  }
}

TEST(OllamaRequestTest, NoMessagesIsTheLoadCall) {
  auto r = ParseOllamaChatRequest(R"({"model": "m", "messages": []})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->load_only);
  auto g = ParseOllamaGenerateRequest(R"({"model": "m"})");
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->load_only);
  auto empty = ParseOllamaGenerateRequest(R"({"model": "m", "prompt": "", "keep_alive": 0})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->load_only);
  EXPECT_EQ(empty->keep_alive, 0);
}

TEST(OllamaRequestTest, GenerateTemplatesUnlessRaw) {
  auto g = ParseOllamaGenerateRequest(
      R"({"model": "m", "prompt": "Why is the sky blue?", "system": "Be short.", "stream": false,
          "options": {"temperature": 0, "num_predict": 8}})");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_FALSE(g->raw);
  EXPECT_FALSE(g->stream);
  EXPECT_EQ(g->model(), "m");
  ASSERT_EQ(g->chat.messages.size(), 2u);
  EXPECT_EQ(g->chat.messages[0].role, "system");
  EXPECT_EQ(g->chat.messages[0].content, "Be short.");
  EXPECT_EQ(g->chat.messages[1].role, "user");
  EXPECT_EQ(g->chat.messages[1].content, "Why is the sky blue?");
  EXPECT_EQ(g->chat.options.max_tokens, 8);

  auto raw =
      ParseOllamaGenerateRequest(R"({"model": "m", "prompt": "[INST] hi [/INST]", "raw": true})");
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_TRUE(raw->raw);
  EXPECT_EQ(raw->completion.prompt, "[INST] hi [/INST]");
  EXPECT_EQ(raw->model(), "m");
}

TEST(OllamaRequestTest, KeepAliveTakesDurationsAndSeconds) {
  EXPECT_EQ(*ParseKeepAliveText("5m"), 300);
  EXPECT_EQ(*ParseKeepAliveText("1h30m"), 5400);
  EXPECT_EQ(*ParseKeepAliveText("10s"), 10);
  EXPECT_EQ(*ParseKeepAliveText("1.5h"), 5400);
  EXPECT_EQ(*ParseKeepAliveText("0"), 0);
  EXPECT_EQ(*ParseKeepAliveText("0s"), 0);
  EXPECT_EQ(*ParseKeepAliveText("-1"), -1);
  EXPECT_EQ(*ParseKeepAliveText("-1m"), -1);  // any negative duration: forever
  EXPECT_EQ(*ParseKeepAliveText("300"), 300);
  EXPECT_EQ(*ParseKeepAliveText("500ms"), 1);  // under a second still keeps it a moment
  for (const char* bad : {"", "m", "5x", "5 m", "1..2s", "forever", "-", "99999999999h"}) {
    auto r = ParseKeepAliveText(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().field(), "keep_alive") << bad;
    }
  }
  auto num = ParseOllamaChatRequest(R"({"model":"m","messages":[],"keep_alive":-1})");
  ASSERT_TRUE(num.ok());
  EXPECT_EQ(num->keep_alive, -1);
  auto secs = ParseOllamaChatRequest(R"({"model":"m","messages":[],"keep_alive":120})");
  ASSERT_TRUE(secs.ok());
  EXPECT_EQ(secs->keep_alive, 120);
  EXPECT_EQ(ChatError(R"({"model":"m","messages":[],"keep_alive":true})").field(), "keep_alive");
  EXPECT_EQ(ChatError(R"({"model":"m","messages":[],"keep_alive":"soon"})").field(), "keep_alive");
  EXPECT_EQ(ChatError(R"({"model":"m","messages":[],"keep_alive":1e300})").field(), "keep_alive");
}

TEST(OllamaRequestTest, BadInputGivesClearErrorsNamingTheField) {
  EXPECT_NE(ChatError("{not json").message().find("JSON"), std::string::npos);
  EXPECT_EQ(ChatError("[1, 2]").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ChatError(R"({"messages": []})").field(), "model");
  EXPECT_EQ(ChatError(R"({"model": 7, "messages": []})").field(), "model");
  EXPECT_EQ(ChatError(R"({"model": "m", "messages": {}})").field(), "messages");
  EXPECT_EQ(ChatError(R"({"model": "m", "messages": [{"content": "x"}]})").field(),
            "messages[0].role");
  EXPECT_EQ(
      ChatError(R"({"model": "m", "messages": [{"role": "wizard", "content": "x"}]})").field(),
      "messages[0].role");
  EXPECT_EQ(
      ChatError(R"({"model": "m", "messages": [{"role": "user", "content": ["x"]}]})").field(),
      "messages[0].content");
  EXPECT_EQ(
      ChatError(
          R"({"model": "m", "messages": [{"role": "user", "content": "x", "images": ["iVBOR"]}]})")
          .field(),
      "messages[0].images");
  EXPECT_EQ(
      ChatError(
          R"({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": {}}]}]})")
          .field(),
      "messages[0].tool_calls[0].function.name");
  EXPECT_EQ(ChatError(R"({"model": "m", "messages": [], "stream": "yes"})").field(), "stream");
  EXPECT_EQ(ChatError(R"({"model": "m", "messages": [], "options": []})").field(), "options");
  EXPECT_EQ(
      ChatError(R"({"model": "m", "messages": [], "options": {"temperature": "hot"}})").field(),
      "options.temperature");
  EXPECT_EQ(ChatError(R"({"model": "m", "messages": [], "options": {"top_k": 1.5}})").field(),
            "options.top_k");
  EXPECT_EQ(ChatError(R"({"model": "m", "messages": [], "options": {"num_predict": 0}})").field(),
            "options.num_predict");
  EXPECT_EQ(
      ChatError(R"({"model": "m", "messages": [], "options": {"num_predict": 1e12}})").field(),
      "options.num_predict");
  EXPECT_EQ(ChatError(R"({"model": "m", "messages": [], "options": {"stop": [1]}})").field(),
            "options.stop");
  EXPECT_EQ(ChatError(R"({"model": "m", "messages": [], "format": "yaml"})").field(), "format");
  EXPECT_EQ(ChatError(R"({"model": "m", "messages": [], "format": 7})").field(), "format");
  EXPECT_EQ(ChatError(R"({"model": "m", "messages": [], "think": "very"})").field(), "think");
  EXPECT_EQ(
      ChatError(R"({"model": "m", "messages": [], "tools": [{"type": "retrieval"}]})").field(),
      "tools[0].type");
  EXPECT_EQ(
      ChatError(
          R"({"model": "m", "messages": [], "tools": [{"function": {"name": "f", "parameters": 3}}]})")
          .field(),
      "tools[0].function.parameters");
  // Values the serving core refuses are named as Ollama names them.
  EXPECT_EQ(
      ChatError(
          R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "options": {"temperature": 7}})")
          .field(),
      "options.temperature");
  EXPECT_EQ(
      ChatError(
          R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "options": {"repeat_penalty": 0}})")
          .field(),
      "options.repeat_penalty");
  EXPECT_EQ(
      GenerateError(R"({"model": "m", "prompt": "x", "options": {"stop": ["a","b","c","d","e"]}})")
          .field(),
      "options.stop");
  EXPECT_EQ(GenerateError(R"({"model": "m", "prompt": "x", "raw": true, "options": {"top_p": 0}})")
                .field(),
            "options.top_p");

  EXPECT_EQ(GenerateError(R"({"model": "m", "prompt": 3})").field(), "prompt");
  EXPECT_EQ(GenerateError(R"({"model": "m", "prompt": "x", "images": ["iVBOR"]})").field(),
            "images");
  EXPECT_EQ(GenerateError(R"({"model": "m", "prompt": "x", "template": "{{ .Prompt }}"})").field(),
            "template");
  EXPECT_EQ(GenerateError(R"({"model": "m", "prompt": "x", "suffix": "end"})").field(), "suffix");
  EXPECT_EQ(GenerateError(R"({"model": "m", "prompt": "x", "context": [1, 2, 3]})").field(),
            "context");
  EXPECT_EQ(
      GenerateError(R"({"model": "m", "prompt": "x", "raw": true, "format": "json"})").field(),
      "format");
}

TEST(OllamaRequestTest, DeepOrHugeBodiesAreRefusedNotCrashed) {
  std::string deep = R"({"model": "m", "messages": [], "options": )";
  for (int i = 0; i < 100000; ++i) deep += "[";
  Status s = ChatError(deep);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("nest"), std::string::npos) << s.message();

  // Many messages and long texts parse (the HTTP server's body limit bounds them), and stay
  // exact.
  std::string many = R"({"model": "m", "stream": false, "messages": [)";
  for (int i = 0; i < 5000; ++i)
    many += std::string(i ? "," : "") + R"({"role": "user", "content": "x"})";
  many += "]}";
  auto r = ParseOllamaChatRequest(many);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->request.messages.size(), 5000u);
}

TEST(OllamaRequestTest, ShowTakesModelOrTheOlderName) {
  EXPECT_EQ(*ParseOllamaShowRequest(R"({"model": "llama3.2"})"), "llama3.2");
  EXPECT_EQ(*ParseOllamaShowRequest(R"({"name": "llama3.2:latest"})"), "llama3.2");
  EXPECT_EQ(ParseOllamaShowRequest(R"({})").status().field(), "model");
  EXPECT_EQ(ParseOllamaShowRequest(R"({"model": ["x"]})").status().field(), "model");
}

TEST(OllamaRequestTest, ServedNameDropsOnlyTheDefaultTag) {
  EXPECT_EQ(ServedModelName("stories:latest"), "stories");
  EXPECT_EQ(ServedModelName("stories"), "stories");
  EXPECT_EQ(ServedModelName("qwen3:0.6b"), "qwen3:0.6b");
  EXPECT_EQ(ServedModelName(":latest"), ":latest");
}

}  // namespace
}  // namespace llmux::gateway
