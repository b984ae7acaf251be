// The serving types survive the worker protocol field for field (expected values are the
// structs the test builds), and decoding refuses what protobuf alone would let through.
#include "serving/remote/worker_wire.h"

#include <gtest/gtest.h>

namespace llmux::serving {
namespace {

ChatRequest FullChat() {
  ChatRequest r;
  r.model = "m";
  chat::Message system{"system", "be brief", std::nullopt, {}, "", ""};
  chat::Message assistant{"assistant", "", std::string("thinking"),
                          {{"call_1", "get", chat::Json::parse(R"({"b":1,"a":[2]})")}}, "", "bot"};
  chat::Message tool{"tool", "{\"t\":20}", std::nullopt, {}, "call_1", "get"};
  r.messages = {system, assistant, tool};
  r.tools = {{chat::Json::parse(R"({"type":"function","function":{"name":"get","parameters":{"z":1,"a":2}}})")}};
  r.tool_choice = {ToolChoiceMode::kFunction, "get"};
  r.parallel_tool_calls = false;
  r.response_format = ResponseFormat::kJsonSchema;
  r.json_schema = R"({"type":"object"})";
  r.json_schema_strict = true;
  r.enable_thinking = false;
  GenerationOptions& o = r.options;
  o.sampling = {0.5f, 0.9f, 40, 0.05f, 0.1f, 0.2f, 1.1f, 1234u};
  o.max_tokens = 77;
  o.stop = {"\n\n", "END"};
  o.logprobs = true;
  o.top_logprobs = 3;
  o.user = "u";
  o.caller_share = "user:7";
  o.ignore_eos = true;
  o.resume_tokens = {5, 0, 31999};
  return r;
}

void ExpectSameOptions(const GenerationOptions& a, const GenerationOptions& b) {
  EXPECT_EQ(a.sampling.temperature, b.sampling.temperature);
  EXPECT_EQ(a.sampling.top_p, b.sampling.top_p);
  EXPECT_EQ(a.sampling.top_k, b.sampling.top_k);
  EXPECT_EQ(a.sampling.min_p, b.sampling.min_p);
  EXPECT_EQ(a.sampling.presence_penalty, b.sampling.presence_penalty);
  EXPECT_EQ(a.sampling.frequency_penalty, b.sampling.frequency_penalty);
  EXPECT_EQ(a.sampling.repetition_penalty, b.sampling.repetition_penalty);
  EXPECT_EQ(a.sampling.seed, b.sampling.seed);
  EXPECT_EQ(a.max_tokens, b.max_tokens);
  EXPECT_EQ(a.stop, b.stop);
  EXPECT_EQ(a.logprobs, b.logprobs);
  EXPECT_EQ(a.top_logprobs, b.top_logprobs);
  EXPECT_EQ(a.user, b.user);
  EXPECT_EQ(a.caller_share, b.caller_share);
  EXPECT_EQ(a.ignore_eos, b.ignore_eos);
  EXPECT_EQ(a.resume_tokens, b.resume_tokens);
}

TEST(WorkerWireTest, AChatRequestCrossesWhole) {
  const ChatRequest sent = FullChat();
  Result<ChatRequest> got = wire::FromProto(wire::ToProto(sent));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->model, sent.model);
  ASSERT_EQ(got->messages.size(), sent.messages.size());
  for (size_t i = 0; i < sent.messages.size(); ++i) {
    const chat::Message& a = got->messages[i];
    const chat::Message& b = sent.messages[i];
    EXPECT_EQ(a.role, b.role);
    EXPECT_EQ(a.content, b.content);
    EXPECT_EQ(a.reasoning_content, b.reasoning_content);
    EXPECT_EQ(a.tool_call_id, b.tool_call_id);
    EXPECT_EQ(a.name, b.name);
    ASSERT_EQ(a.tool_calls.size(), b.tool_calls.size());
    for (size_t j = 0; j < a.tool_calls.size(); ++j) {
      EXPECT_EQ(a.tool_calls[j].id, b.tool_calls[j].id);
      EXPECT_EQ(a.tool_calls[j].name, b.tool_calls[j].name);
      EXPECT_EQ(a.tool_calls[j].arguments.dump(), b.tool_calls[j].arguments.dump());  // key order too
    }
  }
  ASSERT_EQ(got->tools.size(), 1u);
  EXPECT_EQ(got->tools[0].spec.dump(), sent.tools[0].spec.dump());
  EXPECT_EQ(got->tool_choice.mode, ToolChoiceMode::kFunction);
  EXPECT_EQ(got->tool_choice.function_name, "get");
  EXPECT_FALSE(got->parallel_tool_calls);
  EXPECT_EQ(got->response_format, ResponseFormat::kJsonSchema);
  EXPECT_EQ(got->json_schema, R"({"type":"object"})");
  EXPECT_TRUE(got->json_schema_strict);
  EXPECT_EQ(got->enable_thinking, std::optional<bool>(false));
  ExpectSameOptions(got->options, sent.options);
}

TEST(WorkerWireTest, UnsetOptionalsStayUnset) {
  ChatRequest sent;
  sent.model = "m";
  Result<ChatRequest> got = wire::FromProto(wire::ToProto(sent));
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->enable_thinking.has_value());
  EXPECT_FALSE(got->options.max_tokens.has_value());
  EXPECT_FALSE(got->options.sampling.temperature.has_value());
  EXPECT_FALSE(got->options.sampling.seed.has_value());
  EXPECT_EQ(got->options.sampling.repetition_penalty, 1.0f);
}

TEST(WorkerWireTest, CompletionsDeltasFinishesAndErrorsCross) {
  CompletionRequest c;
  c.model = "m";
  c.prompt = "Once";
  c.options = FullChat().options;
  Result<CompletionRequest> got = wire::FromProto(wire::ToProto(c));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->prompt, "Once");
  ExpectSameOptions(got->options, c.options);

  Delta d;
  d.reasoning = "r";
  d.content = "c";
  d.tool_calls = {{1, "call_2", "f", "{\"a\""}};
  d.logprobs = {{"tok", -0.5f, {{"tok", -0.5f}, {"other", -1.5f}}}};
  d.tokens = {17, 4};
  d.content = std::string("c\xe2\x82", 3);  // a character cut short: not UTF-8 on its own
  d.logprobs[0].top[0].token = "\xff";
  Delta back = wire::FromProto(wire::ToProto(d));
  EXPECT_EQ(back.reasoning, "r");
  EXPECT_EQ(back.content, std::string("c\xe2\x82", 3));
  EXPECT_EQ(back.logprobs[0].top[0].token, "\xff");
  std::string bytes;
  EXPECT_TRUE(wire::ToProto(d).SerializeToString(&bytes)) << "text that is not UTF-8 still goes";
  wire::pb::Delta parsed;
  EXPECT_TRUE(parsed.ParseFromString(bytes));
  ASSERT_EQ(back.tool_calls.size(), 1u);
  EXPECT_EQ(back.tool_calls[0].index, 1);
  EXPECT_EQ(back.tool_calls[0].arguments, "{\"a\"");
  ASSERT_EQ(back.logprobs.size(), 1u);
  EXPECT_EQ(back.logprobs[0].top[1].token, "other");
  EXPECT_EQ(back.logprobs[0].top[1].logprob, -1.5f);
  EXPECT_EQ(back.tokens, (std::vector<int32_t>{17, 4}));

  Finish f{FinishReason::kError, {5, 7, 3}, ResourceExhaustedError("full").WithField("model")};
  Result<Finish> fb = wire::FromProto(wire::ToProto(f));
  ASSERT_TRUE(fb.ok());
  EXPECT_EQ(fb->reason, FinishReason::kError);
  EXPECT_EQ(fb->usage.prompt_tokens, 5);
  EXPECT_EQ(fb->usage.completion_tokens, 7);
  EXPECT_EQ(fb->usage.cached_tokens, 3);
  Finish stopped{FinishReason::kStop, {}, Status::Ok(), "END"};
  Result<Finish> sb = wire::FromProto(wire::ToProto(stopped));
  ASSERT_TRUE(sb.ok());
  EXPECT_EQ(sb->stop_sequence, "END");
  EXPECT_EQ(fb->error.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(fb->error.message(), "full");
  EXPECT_EQ(fb->error.field(), "model");
}

// Two deltas sent as one read back as the engine's two deltas read together: what a client
// assembles from them (text, the tool call, logprobs, ids) is the same.
TEST(WorkerWireTest, AppendedDeltasCarryBothInOrder) {
  Delta first;
  first.content = "Hel";
  first.reasoning = "r1";
  first.tool_calls = {{0, "call_a", "get", "{\"ci"}};
  first.logprobs = {{"Hel", -0.5f, {{"Hel", -0.5f}}}};
  first.tokens = {11, 12};
  Delta second;
  second.content = "lo";
  second.reasoning = "r2";
  second.tool_calls = {{0, "", "", "ty\":1}"}, {1, "call_b", "put", "{}"}};
  second.logprobs = {{"lo", -1.5f, {}}};
  second.tokens = {13};
  wire::pb::Delta merged = wire::ToProto(first);
  wire::AppendDelta(merged, wire::ToProto(second));
  Delta got = wire::FromProto(merged);
  EXPECT_EQ(got.content, "Hello");
  EXPECT_EQ(got.reasoning, "r1r2");
  ASSERT_EQ(got.tool_calls.size(), 2u);
  EXPECT_EQ(got.tool_calls[0].index, 0);
  EXPECT_EQ(got.tool_calls[0].id, "call_a");
  EXPECT_EQ(got.tool_calls[0].name, "get");
  EXPECT_EQ(got.tool_calls[0].arguments, "{\"city\":1}");
  EXPECT_EQ(got.tool_calls[1].id, "call_b");
  EXPECT_EQ(got.tool_calls[1].arguments, "{}");
  ASSERT_EQ(got.logprobs.size(), 2u);
  EXPECT_EQ(got.logprobs[0].token, "Hel");
  EXPECT_EQ(got.logprobs[0].top.size(), 1u);
  EXPECT_EQ(got.logprobs[1].token, "lo");
  EXPECT_FLOAT_EQ(got.logprobs[1].logprob, -1.5f);
  EXPECT_EQ(got.tokens, (std::vector<int32_t>{11, 12, 13}));
}

TEST(WorkerWireTest, DecodingRefusesWhatProtobufLetsThrough) {
  wire::pb::ChatRequest p = wire::ToProto(FullChat());
  p.set_tool_choice(static_cast<wire::pb::ToolChoiceMode>(99));
  EXPECT_EQ(wire::FromProto(p).status().field(), "tool_choice");
  p = wire::ToProto(FullChat());
  p.mutable_messages(1)->mutable_tool_calls(0)->set_arguments_json("{not json");
  Result<ChatRequest> bad = wire::FromProto(p);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().field(), "messages[1].tool_calls[0].arguments");
  p = wire::ToProto(FullChat());
  p.set_tools_json(0, "[");
  EXPECT_EQ(wire::FromProto(p).status().field(), "tools[0]");
  p = wire::ToProto(FullChat());  // 200,000 levels: refused before parsing, not a stack overflow
  p.set_tools_json(0, std::string(200000, '[') + std::string(200000, ']'));
  Result<ChatRequest> deep = wire::FromProto(p);
  EXPECT_EQ(deep.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(deep.status().field(), "tools[0]");
  wire::pb::Finish f;
  f.set_reason(static_cast<wire::pb::FinishReason>(42));
  EXPECT_FALSE(wire::FromProto(f).ok());
  wire::pb::Error e;
  e.set_code(0);  // "OK" is no error: a refusal must never read as success
  EXPECT_EQ(wire::FromProto(e).code(), StatusCode::kInternal);
  e.set_code(1000);
  EXPECT_EQ(wire::FromProto(e).code(), StatusCode::kInternal);
}

TEST(WorkerWireTest, ModelStatusesCrossAndUnknownStatesAreRefused) {
  ModelStatus s;
  s.name = "stories@v2";
  s.path = "/m/stories.gguf";
  s.state = ModelState::kFailed;
  s.reason = "truncated";
  s.pinned = false;
  s.keep_alive_s = 30;
  s.loaded_at = 1765000000.5;
  s.last_used = 1765000100.25;
  s.in_flight = 3;
  s.weights_bytes = int64_t{5} << 32;
  s.kv_bytes = 16777216;
  Result<ModelStatus> back = wire::FromProto(wire::ToProto(s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->name, s.name);
  EXPECT_EQ(back->path, s.path);
  EXPECT_EQ(back->state, ModelState::kFailed);
  EXPECT_EQ(back->reason, "truncated");
  EXPECT_EQ(back->keep_alive_s, std::optional<double>(30));
  EXPECT_FALSE(back->expires_at.has_value());
  EXPECT_EQ(back->loaded_at, s.loaded_at);
  EXPECT_EQ(back->last_used, s.last_used);
  EXPECT_EQ(back->in_flight, 3);
  EXPECT_EQ(back->weights_bytes, s.weights_bytes);
  EXPECT_EQ(back->kv_bytes, s.kv_bytes);
  wire::pb::ModelStatus odd = wire::ToProto(s);
  odd.set_state(static_cast<wire::pb::ModelState>(99));
  EXPECT_EQ(wire::FromProto(odd).status().code(), StatusCode::kInvalidArgument);
}

TEST(WorkerWireTest, EmbedRequestsAndResultsCrossAndBadCountsAreRefused) {
  EmbedRequest r;
  r.model = "emb";
  r.inputs = {{std::string("bytes \xff not UTF-8", 17), {}}, {"", {1, 2, 3}}};
  r.dimensions = 16;
  r.normalize = false;
  r.truncate = true;
  r.caller_share = "user:7";
  Result<EmbedRequest> back = wire::FromProto(wire::ToProto(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->model, "emb");
  ASSERT_EQ(back->inputs.size(), 2u);
  EXPECT_EQ(back->inputs[0].text, r.inputs[0].text);
  EXPECT_EQ(back->inputs[1].tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(back->dimensions, 16);
  EXPECT_FALSE(back->normalize);
  EXPECT_TRUE(back->truncate);
  EXPECT_EQ(back->caller_share, "user:7");

  EmbedResult result{{{0.5f, -1.25f}, {3.0f}}, 9};
  Result<EmbedResult> got = wire::FromProto(wire::ToProto(result));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->embeddings, result.embeddings);
  EXPECT_EQ(got->prompt_tokens, 9);
  wire::pb::EmbedResponse refused;
  *refused.mutable_error() =
      wire::ToProto(InvalidArgumentError("input 0 is empty").WithField("input"));
  Result<EmbedResult> no = wire::FromProto(refused);
  EXPECT_EQ(no.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(no.status().field(), "input");

  wire::pb::EmbedRequest empty;
  EXPECT_EQ(wire::FromProto(empty).status().field(), "input");
  wire::pb::EmbedRequest many;
  for (int i = 0; i <= kMaxEmbedInputs; ++i) many.add_inputs()->set_text("x");
  EXPECT_EQ(wire::FromProto(many).status().field(), "input");
  wire::pb::EmbedRequest negative;
  negative.add_inputs()->set_text("x");
  negative.set_dimensions(-1);
  EXPECT_EQ(wire::FromProto(negative).status().field(), "dimensions");
}

}  // namespace
}  // namespace llmux::serving
