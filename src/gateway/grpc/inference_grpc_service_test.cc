// The gRPC front end end to end over localhost: a real grpc::Server (GrpcServer) and the
// real gRPC C++ client, with a scripted fake InferenceService standing in for the engine.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gateway/grpc/grpc_server.h"
#include "llmux/v1/inference.grpc.pb.h"
#include "serving/inference_service.h"

namespace llmux::gateway {
namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------
// A fake serving core: each accepted request runs its script on its own thread, as the
// engine thread would, and records what it was given.

class FakeHandle final : public serving::RequestHandle {
 public:
  void Cancel() override {
    std::lock_guard lock(mu_);
    ++cancel_calls_;
    cv_.notify_all();
  }
  bool cancelled() {
    std::lock_guard lock(mu_);
    return cancel_calls_ > 0;
  }
  bool WaitCancelled(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return cancel_calls_ > 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int cancel_calls_ = 0;
};

struct Script {
  std::vector<serving::Delta> deltas;
  serving::Finish finish;
  // After the deltas, wait for Cancel() (then finish with kCancelled, like the engine).
  bool wait_for_cancel = false;
  std::chrono::milliseconds delay_before_finish{0};
};

class FakeInferenceService final : public serving::InferenceService {
 public:
  FakeInferenceService() {
    serving::ModelInfo model;
    model.id = "stories";
    model.architecture = "llama";
    model.quantization = "F32";
    model.context_length = 512;
    model.created = 1700000000;
    model.ready = true;
    models_.push_back(model);
  }
  ~FakeInferenceService() override {
    for (std::thread& t : threads_) t.join();
  }

  void set_script(Script script) {
    std::lock_guard lock(mu_);
    script_ = std::move(script);
  }
  void set_submit_error(Status error) {
    std::lock_guard lock(mu_);
    submit_error_ = std::move(error);
  }
  int submissions() {
    std::lock_guard lock(mu_);
    return submissions_;
  }
  std::optional<serving::ChatRequest> last_chat() {
    std::lock_guard lock(mu_);
    return last_chat_;
  }
  std::optional<serving::CompletionRequest> last_completion() {
    std::lock_guard lock(mu_);
    return last_completion_;
  }
  std::shared_ptr<FakeHandle> last_handle() {
    std::lock_guard lock(mu_);
    return last_handle_;
  }

  std::vector<serving::ModelInfo> ListModels() const override { return models_; }
  bool Ready() const override { return true; }

  Result<std::shared_ptr<serving::RequestHandle>> Chat(
      serving::ChatRequest request, std::shared_ptr<serving::Sink> sink) override {
    std::lock_guard lock(mu_);
    LLMUX_RETURN_IF_ERROR(CheckModel(request.model));
    last_chat_ = std::move(request);
    return StartLocked(std::move(sink));
  }

  Result<std::shared_ptr<serving::RequestHandle>> Complete(
      serving::CompletionRequest request, std::shared_ptr<serving::Sink> sink) override {
    std::lock_guard lock(mu_);
    LLMUX_RETURN_IF_ERROR(CheckModel(request.model));
    last_completion_ = std::move(request);
    return StartLocked(std::move(sink));
  }

 private:
  Status CheckModel(const std::string& model) const {
    if (!submit_error_.ok()) return submit_error_;
    for (const serving::ModelInfo& m : models_) {
      if (m.id == model) return Status::Ok();
    }
    return NotFoundError("model '" + model + "' is not served");
  }

  std::shared_ptr<serving::RequestHandle> StartLocked(std::shared_ptr<serving::Sink> sink) {
    ++submissions_;
    auto handle = std::make_shared<FakeHandle>();
    last_handle_ = handle;
    threads_.emplace_back([script = script_, sink, handle] {
      for (const serving::Delta& delta : script.deltas) {
        if (handle->cancelled()) break;
        sink->OnDelta(delta);
      }
      if (script.wait_for_cancel) handle->WaitCancelled(10s);
      std::this_thread::sleep_for(script.delay_before_finish);
      if (handle->cancelled()) {
        serving::Finish cancelled;
        cancelled.reason = serving::FinishReason::kCancelled;
        sink->OnFinish(cancelled);
        return;
      }
      sink->OnFinish(script.finish);
    });
    return handle;
  }

  std::vector<serving::ModelInfo> models_;
  std::mutex mu_;
  Script script_;
  Status submit_error_;
  int submissions_ = 0;
  std::optional<serving::ChatRequest> last_chat_;
  std::optional<serving::CompletionRequest> last_completion_;
  std::shared_ptr<FakeHandle> last_handle_;
  std::vector<std::thread> threads_;
};

serving::Delta ContentDelta(std::string text) {
  serving::Delta d;
  d.content = std::move(text);
  return d;
}

serving::Finish StopFinish(int prompt_tokens, int completion_tokens,
                           serving::FinishReason reason = serving::FinishReason::kStop) {
  serving::Finish f;
  f.reason = reason;
  f.usage.prompt_tokens = prompt_tokens;
  f.usage.completion_tokens = completion_tokens;
  return f;
}

GrpcServerOptions LocalOptions(int port) {
  GrpcServerOptions options;
  options.host = "127.0.0.1";
  options.port = port;
  return options;
}

v1::ChatRequest SimpleChat(const std::string& model = "stories") {
  v1::ChatRequest r;
  r.set_model(model);
  v1::ChatMessage* m = r.add_messages();
  m->set_role("user");
  m->set_content("Once upon a time");
  return r;
}

// ---------------------------------------------------------------------------------------

class GrpcFrontEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GrpcServerOptions options;
    options.port = 0;
    server_ = std::make_unique<GrpcServer>(fake_, options);
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_GT(server_->port(), 0);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::Inference::NewStub(channel_);
  }

  struct ChatResult {
    std::vector<v1::ChatResponse> messages;
    grpc::Status status;
  };

  ChatResult RunChat(const v1::ChatRequest& request,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    ChatResult result;
    auto reader = stub_->Chat(&context, request);
    v1::ChatResponse response;
    while (reader->Read(&response)) result.messages.push_back(response);
    result.status = reader->Finish();
    return result;
  }

  FakeInferenceService fake_;  // outlives the server
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Inference::Stub> stub_;
};

TEST_F(GrpcFrontEndTest, StreamsChatDeltasInOrderThenFinishWithUsage) {
  Script script;
  serving::Delta thinking;
  thinking.reasoning = "The user wants a story.";
  script.deltas.push_back(thinking);
  script.deltas.push_back(ContentDelta("Once"));
  script.deltas.push_back(ContentDelta(" there was"));
  serving::Delta call;
  call.tool_calls.push_back({0, "call_1", "get_weather", ""});
  script.deltas.push_back(call);
  serving::Delta args;
  args.tool_calls.push_back({0, "", "", "{\"city\": \"Paris\"}"});
  serving::TokenLogprob lp;
  lp.token = "Paris";
  lp.logprob = -0.25f;
  lp.top.push_back({"Paris", -0.25f});
  lp.top.push_back({"Rome", -1.5f});
  args.logprobs.push_back(lp);
  script.deltas.push_back(args);
  script.deltas.push_back(serving::Delta{});  // empty: not sent
  script.finish = StopFinish(7, 5, serving::FinishReason::kToolCalls);
  script.finish.usage.cached_tokens = 3;
  fake_.set_script(script);

  ChatResult result = RunChat(SimpleChat());
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.messages.size(), 6u);

  const std::string id = result.messages[0].id();
  EXPECT_EQ(id.rfind("chatcmpl-", 0), 0u) << id;
  for (const v1::ChatResponse& m : result.messages) {
    EXPECT_EQ(m.id(), id);
    EXPECT_EQ(m.model(), "stories");
    EXPECT_GT(m.created(), 1600000000);
  }
  EXPECT_EQ(result.messages[0].delta().reasoning_content(), "The user wants a story.");
  EXPECT_EQ(result.messages[0].delta().content(), "");
  EXPECT_EQ(result.messages[1].delta().content(), "Once");
  EXPECT_EQ(result.messages[2].delta().content(), " there was");
  ASSERT_EQ(result.messages[3].delta().tool_calls_size(), 1);
  EXPECT_EQ(result.messages[3].delta().tool_calls(0).id(), "call_1");
  EXPECT_EQ(result.messages[3].delta().tool_calls(0).name(), "get_weather");
  ASSERT_EQ(result.messages[4].delta().tool_calls_size(), 1);
  EXPECT_EQ(result.messages[4].delta().tool_calls(0).index(), 0);
  EXPECT_EQ(result.messages[4].delta().tool_calls(0).arguments_json(), "{\"city\": \"Paris\"}");
  ASSERT_EQ(result.messages[4].delta().logprobs_size(), 1);
  const v1::TokenLogprob& token = result.messages[4].delta().logprobs(0);
  EXPECT_EQ(token.token(), "Paris");
  EXPECT_EQ(token.bytes(), "Paris");
  EXPECT_FLOAT_EQ(token.logprob(), -0.25f);
  ASSERT_EQ(token.top_logprobs_size(), 2);
  EXPECT_EQ(token.top_logprobs(1).token(), "Rome");
  EXPECT_FLOAT_EQ(token.top_logprobs(1).logprob(), -1.5f);

  const v1::ChatResponse& last = result.messages[5];
  ASSERT_TRUE(last.has_finish());
  EXPECT_EQ(last.finish().finish_reason(), v1::FINISH_REASON_TOOL_CALLS);
  EXPECT_EQ(last.finish().usage().prompt_tokens(), 7);
  EXPECT_EQ(last.finish().usage().completion_tokens(), 5);
  EXPECT_EQ(last.finish().usage().total_tokens(), 12);
  EXPECT_EQ(last.finish().usage().cached_tokens(), 3);
}

TEST_F(GrpcFrontEndTest, ConvertsEveryChatFieldForTheCore) {
  Script script;
  script.finish = StopFinish(1, 0);
  fake_.set_script(script);

  v1::ChatRequest r;
  r.set_model("stories");
  v1::ChatMessage* system = r.add_messages();
  system->set_role("developer");
  system->set_content("Be brief.");
  v1::ChatMessage* user = r.add_messages();
  user->set_role("user");
  user->set_content("Weather in Paris?");
  user->set_name("ann");
  v1::ChatMessage* assistant = r.add_messages();
  assistant->set_role("assistant");
  assistant->set_reasoning_content("Call the tool.");
  v1::ToolCall* call = assistant->add_tool_calls();
  call->set_id("call_9");
  call->set_name("get_weather");
  call->set_arguments_json("{\"city\":\"Paris\"}");
  v1::ChatMessage* tool = r.add_messages();
  tool->set_role("tool");
  tool->set_tool_call_id("call_9");
  tool->set_content("sunny");
  v1::Tool* t = r.add_tools();
  t->set_name("get_weather");
  t->set_description("Weather now");
  // Keys deliberately not in alphabetical order: the template must see them as sent.
  t->set_parameters_json(
      R"({"type":"object","required":["city"],"properties":{"city":{"type":"string"}}})");
  r.mutable_tool_choice()->set_function_name("get_weather");
  v1::SamplingParams* s = r.mutable_sampling();
  s->set_temperature(0.5f);
  s->set_top_p(0.9f);
  s->set_top_k(40);
  s->set_min_p(0.05f);
  s->set_presence_penalty(0.5f);
  s->set_frequency_penalty(-0.5f);
  s->set_repetition_penalty(1.1f);
  s->set_seed(1234);
  r.set_max_tokens(64);
  r.add_stop("\n\n");
  r.set_logprobs(true);
  r.set_top_logprobs(3);
  r.set_response_format(v1::RESPONSE_FORMAT_JSON_OBJECT);
  r.set_enable_thinking(false);
  r.set_user("user-42");

  ChatResult result = RunChat(r);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  std::optional<serving::ChatRequest> got = fake_.last_chat();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->model, "stories");
  ASSERT_EQ(got->messages.size(), 4u);
  EXPECT_EQ(got->messages[0].role, "system");  // "developer" is the system role
  EXPECT_EQ(got->messages[0].content, "Be brief.");
  EXPECT_EQ(got->messages[1].name, "ann");
  EXPECT_EQ(got->messages[2].reasoning_content, std::optional<std::string>("Call the tool."));
  ASSERT_EQ(got->messages[2].tool_calls.size(), 1u);
  EXPECT_EQ(got->messages[2].tool_calls[0].id, "call_9");
  EXPECT_EQ(got->messages[2].tool_calls[0].name, "get_weather");
  EXPECT_EQ(got->messages[2].tool_calls[0].arguments, chat::Json("{\"city\":\"Paris\"}"));
  EXPECT_FALSE(got->messages[1].reasoning_content.has_value());
  EXPECT_EQ(got->messages[3].tool_call_id, "call_9");
  ASSERT_EQ(got->tools.size(), 1u);
  EXPECT_EQ(
      got->tools[0].spec.dump(),
      R"({"type":"function","function":{"name":"get_weather","description":"Weather now",)"
      R"("parameters":{"type":"object","required":["city"],"properties":{"city":{"type":"string"}}}}})");
  EXPECT_EQ(got->tool_choice.mode, serving::ToolChoiceMode::kFunction);
  EXPECT_EQ(got->tool_choice.function_name, "get_weather");
  EXPECT_EQ(got->response_format, serving::ResponseFormat::kJsonObject);
  EXPECT_EQ(got->enable_thinking, std::optional<bool>(false));
  const serving::GenerationOptions& o = got->options;
  EXPECT_EQ(o.sampling.temperature, std::optional<float>(0.5f));
  EXPECT_EQ(o.sampling.top_p, std::optional<float>(0.9f));
  EXPECT_EQ(o.sampling.top_k, std::optional<int>(40));
  EXPECT_EQ(o.sampling.min_p, std::optional<float>(0.05f));
  EXPECT_FLOAT_EQ(o.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(o.sampling.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(o.sampling.repetition_penalty, 1.1f);
  EXPECT_EQ(o.sampling.seed, std::optional<uint32_t>(1234));
  EXPECT_EQ(o.max_tokens, std::optional<int>(64));
  EXPECT_EQ(o.stop, std::vector<std::string>{"\n\n"});
  EXPECT_TRUE(o.logprobs);
  EXPECT_EQ(o.top_logprobs, 3);
  EXPECT_EQ(o.user, "user-42");
}

TEST_F(GrpcFrontEndTest, UnsetFieldsKeepTheCoreDefaults) {
  Script script;
  script.finish = StopFinish(1, 0);
  fake_.set_script(script);
  ASSERT_TRUE(RunChat(SimpleChat()).status.ok());
  std::optional<serving::ChatRequest> got = fake_.last_chat();
  ASSERT_TRUE(got.has_value());
  const serving::GenerationOptions& o = got->options;
  EXPECT_FALSE(o.sampling.temperature.has_value());
  EXPECT_FALSE(o.sampling.top_p.has_value());
  EXPECT_FALSE(o.sampling.top_k.has_value());
  EXPECT_FALSE(o.sampling.seed.has_value());
  EXPECT_EQ(o.sampling.presence_penalty, 0.0f);
  EXPECT_EQ(o.sampling.repetition_penalty, 1.0f);
  EXPECT_FALSE(o.max_tokens.has_value());
  EXPECT_FALSE(got->enable_thinking.has_value());
  EXPECT_EQ(got->tool_choice.mode, serving::ToolChoiceMode::kAuto);
  EXPECT_EQ(got->response_format, serving::ResponseFormat::kText);
  EXPECT_TRUE(got->parallel_tool_calls);
}

TEST_F(GrpcFrontEndTest, ParallelToolCallsAndTheStopSequence) {
  Script script;
  script.finish = StopFinish(3, 2);
  script.finish.stop_sequence = "END";
  fake_.set_script(script);
  v1::ChatRequest request = SimpleChat();
  request.set_parallel_tool_calls(false);
  ChatResult result = RunChat(request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  std::optional<serving::ChatRequest> got = fake_.last_chat();
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->parallel_tool_calls);
  ASSERT_FALSE(result.messages.empty());
  ASSERT_TRUE(result.messages.back().has_finish());
  EXPECT_EQ(result.messages.back().finish().finish_reason(), v1::FINISH_REASON_STOP);
  EXPECT_EQ(result.messages.back().finish().stop_sequence(), "END");

  // A finish without a stop string reports none.
  script.finish.stop_sequence.clear();
  fake_.set_script(script);
  request.set_parallel_tool_calls(true);
  result = RunChat(request);
  ASSERT_TRUE(result.status.ok());
  EXPECT_TRUE(fake_.last_chat()->parallel_tool_calls);
  EXPECT_EQ(result.messages.back().finish().stop_sequence(), "");
}

TEST_F(GrpcFrontEndTest, CarriesAJsonSchemaOrAGrammar) {
  Script script;
  script.finish = StopFinish(1, 0);
  fake_.set_script(script);
  v1::ChatRequest r = SimpleChat();
  r.set_response_format(v1::RESPONSE_FORMAT_JSON_SCHEMA);
  r.set_json_schema(R"({"type":"object","properties":{"b":{},"a":{}}})");
  r.set_json_schema_strict(true);
  ASSERT_TRUE(RunChat(r).status.ok());
  std::optional<serving::ChatRequest> got = fake_.last_chat();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->response_format, serving::ResponseFormat::kJsonSchema);
  EXPECT_EQ(got->json_schema, R"({"type":"object","properties":{"b":{},"a":{}}})");
  EXPECT_TRUE(got->json_schema_strict);

  v1::ChatRequest g = SimpleChat();
  g.set_grammar("root ::= [0-9]+");
  ASSERT_TRUE(RunChat(g).status.ok());
  got = fake_.last_chat();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->response_format, serving::ResponseFormat::kGrammar);
  EXPECT_EQ(got->grammar, "root ::= [0-9]+");

  // A schema without its format, or a grammar with one, never reaches the core.
  v1::ChatRequest bad = SimpleChat();
  bad.set_json_schema("{}");
  EXPECT_EQ(RunChat(bad).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  bad = SimpleChat();
  bad.set_response_format(v1::RESPONSE_FORMAT_JSON_OBJECT);
  bad.set_grammar("root ::= \"a\"");
  EXPECT_EQ(RunChat(bad).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(GrpcFrontEndTest, CompleteStreamsTextThenLengthFinish) {
  Script script;
  script.deltas = {ContentDelta("Once upon"), ContentDelta(" a time")};
  script.finish = StopFinish(4, 2, serving::FinishReason::kLength);
  fake_.set_script(script);

  v1::CompleteRequest r;
  r.set_model("stories");
  r.set_prompt("Tell me");
  r.set_max_tokens(2);
  r.add_stop("END");
  r.mutable_sampling()->set_seed(7);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  auto reader = stub_->Complete(&context, r);
  std::vector<v1::CompleteResponse> messages;
  v1::CompleteResponse response;
  while (reader->Read(&response)) messages.push_back(response);
  grpc::Status status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].id().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(messages[0].delta().text() + messages[1].delta().text(), "Once upon a time");
  ASSERT_TRUE(messages[2].has_finish());
  EXPECT_EQ(messages[2].finish().finish_reason(), v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(messages[2].finish().usage().total_tokens(), 6);

  std::optional<serving::CompletionRequest> got = fake_.last_completion();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->prompt, "Tell me");
  EXPECT_EQ(got->options.max_tokens, std::optional<int>(2));
  EXPECT_EQ(got->options.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(got->options.sampling.seed, std::optional<uint32_t>(7));
}

TEST_F(GrpcFrontEndTest, ManyDeltasArriveCompleteAndInOrder) {
  Script script;
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    script.deltas.push_back(ContentDelta(std::to_string(i) + " "));
    expected += std::to_string(i) + " ";
  }
  script.finish = StopFinish(1, 2000);
  fake_.set_script(script);
  ChatResult result = RunChat(SimpleChat());
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.messages.size(), 2001u);
  std::string text;
  for (const v1::ChatResponse& m : result.messages) text += m.delta().content();
  EXPECT_EQ(text, expected);
  EXPECT_TRUE(result.messages.back().has_finish());
}

TEST_F(GrpcFrontEndTest, InvalidValuesAreInvalidArgumentAndNeverReachTheCore) {
  struct Case {
    const char* name;
    std::function<void(v1::ChatRequest&)> edit;
    const char* message_mentions;
  };
  const std::vector<Case> cases = {
      {"temperature above 2", [](v1::ChatRequest& r) { r.mutable_sampling()->set_temperature(5); },
       "temperature"},
      {"negative temperature",
       [](v1::ChatRequest& r) { r.mutable_sampling()->set_temperature(-0.1f); }, "temperature"},
      {"top_p zero", [](v1::ChatRequest& r) { r.mutable_sampling()->set_top_p(0); }, "top_p"},
      {"top_p above 1", [](v1::ChatRequest& r) { r.mutable_sampling()->set_top_p(1.5f); }, "top_p"},
      {"negative top_k", [](v1::ChatRequest& r) { r.mutable_sampling()->set_top_k(-1); }, "top_k"},
      {"presence penalty",
       [](v1::ChatRequest& r) { r.mutable_sampling()->set_presence_penalty(3); },
       "presence_penalty"},
      {"frequency penalty",
       [](v1::ChatRequest& r) { r.mutable_sampling()->set_frequency_penalty(-2.5f); },
       "frequency_penalty"},
      {"repetition penalty zero",
       [](v1::ChatRequest& r) { r.mutable_sampling()->set_repetition_penalty(0); },
       "repetition_penalty"},
      {"max_tokens zero", [](v1::ChatRequest& r) { r.set_max_tokens(0); }, "max_tokens"},
      {"max_tokens negative", [](v1::ChatRequest& r) { r.set_max_tokens(-5); }, "max_tokens"},
      {"five stop strings",
       [](v1::ChatRequest& r) {
         for (int i = 0; i < 5; ++i) r.add_stop(std::to_string(i) + "s");
       },
       "stop"},
      {"top_logprobs above 20",
       [](v1::ChatRequest& r) {
         r.set_logprobs(true);
         r.set_top_logprobs(21);
       },
       "top_logprobs"},
      {"top_logprobs without logprobs", [](v1::ChatRequest& r) { r.set_top_logprobs(2); },
       "top_logprobs"},
      {"n = 2", [](v1::ChatRequest& r) { r.set_n(2); }, "n = 1"},
      {"unknown role", [](v1::ChatRequest& r) { r.mutable_messages(0)->set_role("wizard"); },
       "wizard"},
      {"no messages", [](v1::ChatRequest& r) { r.clear_messages(); }, "messages"},
      {"no model", [](v1::ChatRequest& r) { r.clear_model(); }, "model"},
      {"tool_choice names an unknown function",
       [](v1::ChatRequest& r) {
         r.add_tools()->set_name("get_weather");
         r.mutable_tool_choice()->set_function_name("launch_rocket");
       },
       "launch_rocket"},
      {"tool_choice required without tools",
       [](v1::ChatRequest& r) { r.mutable_tool_choice()->set_mode(v1::ToolChoice::REQUIRED); },
       "tool_choice"},
      {"tool schema not JSON",
       [](v1::ChatRequest& r) {
         v1::Tool* t = r.add_tools();
         t->set_name("f");
         t->set_parameters_json("{not json");
       },
       "parameters"},
      {"tool schema not an object",
       [](v1::ChatRequest& r) {
         v1::Tool* t = r.add_tools();
         t->set_name("f");
         t->set_parameters_json("[1, 2]");
       },
       "parameters"},
      {"tool schema nested past the limit",
       [](v1::ChatRequest& r) {
         v1::Tool* t = r.add_tools();
         t->set_name("f");
         t->set_parameters_json(R"({"type":"object","properties":{"x":)" + std::string(50000, '[') +
                                std::string(50000, ']') + "}}");
       },
       "nested deeper than 128"},
      {"unknown response format",
       [](v1::ChatRequest& r) { r.set_response_format(static_cast<v1::ResponseFormat>(9)); },
       "response_format"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::ChatRequest r = SimpleChat();
    c.edit(r);
    ChatResult result = RunChat(r);
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << result.status.error_message();
    EXPECT_NE(result.status.error_message().find(c.message_mentions), std::string::npos)
        << result.status.error_message();
    EXPECT_TRUE(result.messages.empty());
  }
  EXPECT_EQ(fake_.submissions(), 0);
}

TEST_F(GrpcFrontEndTest, CompleteValidatesToo) {
  v1::CompleteRequest r;
  r.set_model("stories");
  r.set_prompt("x");
  r.mutable_sampling()->set_temperature(5);
  grpc::ClientContext context;
  auto reader = stub_->Complete(&context, r);
  v1::CompleteResponse response;
  EXPECT_FALSE(reader->Read(&response));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(fake_.submissions(), 0);
}

TEST_F(GrpcFrontEndTest, UnknownModelIsNotFound) {
  ChatResult result = RunChat(SimpleChat("no-such-model"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(result.status.error_message().find("no-such-model"), std::string::npos);
  EXPECT_TRUE(result.messages.empty());
}

TEST_F(GrpcFrontEndTest, SubmitErrorsMapToGrpcCodes) {
  const std::vector<std::pair<Status, grpc::StatusCode>> cases = {
      {ResourceExhaustedError("queue full"), grpc::StatusCode::RESOURCE_EXHAUSTED},
      {UnimplementedError("not yet"), grpc::StatusCode::UNIMPLEMENTED},
      {InvalidArgumentError("prompt is longer than the context"),
       grpc::StatusCode::INVALID_ARGUMENT},
      {InternalError("boom"), grpc::StatusCode::INTERNAL},
      {DataLossError("bad file"), grpc::StatusCode::INTERNAL},
  };
  for (const auto& [error, code] : cases) {
    SCOPED_TRACE(error.ToString());
    fake_.set_submit_error(error);
    ChatResult result = RunChat(SimpleChat());
    EXPECT_EQ(result.status.error_code(), code);
    EXPECT_EQ(result.status.error_message(), error.message());
  }
}

TEST_F(GrpcFrontEndTest, EngineErrorMidStreamEndsTheStreamWithItsCode) {
  Script script;
  script.deltas = {ContentDelta("partial")};
  script.finish.reason = serving::FinishReason::kError;
  script.finish.error = InternalError("kernel failed");
  fake_.set_script(script);
  ChatResult result = RunChat(SimpleChat());
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(result.status.error_message(), "kernel failed");
  ASSERT_EQ(result.messages.size(), 1u);
  EXPECT_EQ(result.messages[0].delta().content(), "partial");
}

TEST_F(GrpcFrontEndTest, ClientCancelCancelsTheGeneration) {
  Script script;
  script.deltas = {ContentDelta("Once")};
  script.wait_for_cancel = true;
  fake_.set_script(script);

  grpc::ClientContext context;
  auto reader = stub_->Chat(&context, SimpleChat());
  v1::ChatResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.delta().content(), "Once");
  std::shared_ptr<FakeHandle> handle = fake_.last_handle();
  ASSERT_NE(handle, nullptr);
  EXPECT_FALSE(handle->cancelled());
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(handle->WaitCancelled(5s));
}

TEST_F(GrpcFrontEndTest, DeadlineExceededCancelsTheGeneration) {
  Script script;
  script.wait_for_cancel = true;  // a generation that would run on and on
  fake_.set_script(script);
  ChatResult result = RunChat(SimpleChat(), 300ms);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  std::shared_ptr<FakeHandle> handle = fake_.last_handle();
  ASSERT_NE(handle, nullptr);
  EXPECT_TRUE(handle->WaitCancelled(5s));
}

TEST_F(GrpcFrontEndTest, ListModelsReportsTheCoreModels) {
  grpc::ClientContext context;
  v1::ListModelsResponse response;
  grpc::Status status = stub_->ListModels(&context, v1::ListModelsRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.models_size(), 1);
  EXPECT_EQ(response.models(0).id(), "stories");
  EXPECT_EQ(response.models(0).architecture(), "llama");
  EXPECT_EQ(response.models(0).quantization(), "F32");
  EXPECT_EQ(response.models(0).context_length(), 512);
  EXPECT_EQ(response.models(0).created(), 1700000000);
  EXPECT_TRUE(response.models(0).ready());
}

// ---------------------------------------------------------------------------------------
// Health and reflection, called through the generic stub (their generated C++ client code
// is not installed by Debian).

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// grpc.health.v1.Health/Check: request {string service = 1}, response {enum status = 1}
// with SERVING = 1 and NOT_SERVING = 2, encoded by hand.
grpc::Status HealthCheck(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                         int* serving_status) {
  std::string request;
  if (!service.empty()) {
    request.push_back('\x0a');
    request.push_back(static_cast<char>(service.size()));
    request += service;
  }
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  grpc::ByteBuffer request_buffer = ToByteBuffer(request);
  grpc::ByteBuffer response_buffer;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request_buffer,
                 &response_buffer, [&](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  if (status.ok()) {
    const std::string response = FromByteBuffer(response_buffer);
    *serving_status = response.size() == 2 && response[0] == '\x08' ? response[1] : -1;
  }
  return status;
}

TEST_F(GrpcFrontEndTest, HealthServiceReportsServingPerService) {
  int serving_status = 0;
  ASSERT_TRUE(HealthCheck(channel_, "", &serving_status).ok());
  EXPECT_EQ(serving_status, 1);
  ASSERT_TRUE(HealthCheck(channel_, "llmux.v1.Inference", &serving_status).ok());
  EXPECT_EQ(serving_status, 1);
  EXPECT_EQ(HealthCheck(channel_, "no.such.Service", &serving_status).error_code(),
            grpc::StatusCode::NOT_FOUND);

  server_->SetServing(false);
  ASSERT_TRUE(HealthCheck(channel_, "llmux.v1.Inference", &serving_status).ok());
  EXPECT_EQ(serving_status, 2);
}

// One ServerReflectionInfo exchange: writes `request`, reads one response.
class ReflectionCall final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  ReflectionCall(grpc::GenericStub& stub, const std::string& request)
      : request_(ToByteBuffer(request)) {
    context_.set_deadline(std::chrono::system_clock::now() + 10s);
    stub.PrepareBidiStreamingCall(&context_,
                                  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                  grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override { got_response_ = ok; }
  void OnDone(const grpc::Status& status) override { done_.set_value(status); }

  grpc::Status Wait() { return done_.get_future().get(); }
  std::optional<std::string> response() const {
    if (!got_response_) return std::nullopt;
    return FromByteBuffer(response_);
  }

 private:
  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  bool got_response_ = false;
  std::promise<grpc::Status> done_;
};

TEST_F(GrpcFrontEndTest, ReflectionListsTheInferenceService) {
  // The reflection messages' descriptors come with libgrpc++_reflection; build them
  // dynamically instead of encoding them by hand.
  namespace pb = google::protobuf;
  const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
  const pb::Descriptor* request_type =
      pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionRequest");
  const pb::Descriptor* response_type =
      pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionResponse");
  ASSERT_NE(request_type, nullptr);
  ASSERT_NE(response_type, nullptr);
  pb::MessageFactory* factory = pb::MessageFactory::generated_factory();
  std::unique_ptr<pb::Message> request(factory->GetPrototype(request_type)->New());
  request->GetReflection()->SetString(request.get(), request_type->FindFieldByName("list_services"),
                                      "*");

  grpc::GenericStub stub(channel_);
  ReflectionCall call(stub, request->SerializeAsString());
  grpc::Status status = call.Wait();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(call.response().has_value());
  std::unique_ptr<pb::Message> response(factory->GetPrototype(response_type)->New());
  ASSERT_TRUE(response->ParseFromString(*call.response()));

  const pb::FieldDescriptor* list_field = response_type->FindFieldByName("list_services_response");
  ASSERT_NE(list_field, nullptr);
  ASSERT_TRUE(response->GetReflection()->HasField(*response, list_field))
      << response->DebugString();
  const pb::Message& list = response->GetReflection()->GetMessage(*response, list_field);
  const pb::FieldDescriptor* services = list.GetDescriptor()->FindFieldByName("service");
  std::vector<std::string> names;
  for (int i = 0; i < list.GetReflection()->FieldSize(list, services); ++i) {
    const pb::Message& service = list.GetReflection()->GetRepeatedMessage(list, services, i);
    names.push_back(service.GetReflection()->GetString(
        service, service.GetDescriptor()->FindFieldByName("name")));
  }
  EXPECT_NE(std::find(names.begin(), names.end(), "llmux.v1.Inference"), names.end())
      << ::testing::PrintToString(names);
}

// ---------------------------------------------------------------------------------------
// Server lifecycle

TEST(GrpcServerTest, BusyPortIsAnError) {
  FakeInferenceService fake;
  GrpcServer first(fake, LocalOptions(0));
  ASSERT_TRUE(first.Start().ok());
  GrpcServer second(fake, LocalOptions(first.port()));
  Status status = second.Start();
  EXPECT_EQ(status.code(), StatusCode::kIoError) << status.ToString();
  EXPECT_EQ(second.port(), 0);
}

TEST(GrpcServerTest, BadPortIsInvalidArgument) {
  FakeInferenceService fake;
  GrpcServer server(fake, LocalOptions(70000));
  EXPECT_EQ(server.Start().code(), StatusCode::kInvalidArgument);
}

TEST(GrpcServerTest, ShutdownLetsRunningStreamsFinish) {
  FakeInferenceService fake;
  GrpcServer server(fake, LocalOptions(0));
  ASSERT_TRUE(server.Start().ok());
  Script script;
  script.deltas = {ContentDelta("Once")};
  script.delay_before_finish = 300ms;
  script.finish = StopFinish(1, 1);
  fake.set_script(script);

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::Inference::NewStub(channel);
  grpc::ClientContext context;
  auto reader = stub->Chat(&context, SimpleChat());
  v1::ChatResponse response;
  ASSERT_TRUE(reader->Read(&response));  // the call is running
  std::thread stopper([&] { server.Shutdown(10s); });
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_TRUE(response.has_finish());
  EXPECT_TRUE(reader->Finish().ok());
  stopper.join();
  EXPECT_FALSE(fake.last_handle()->cancelled());
}

TEST(GrpcServerTest, ShutdownDeadlineCancelsStreamsThatRunOn) {
  FakeInferenceService fake;
  GrpcServer server(fake, LocalOptions(0));
  ASSERT_TRUE(server.Start().ok());
  Script script;
  script.deltas = {ContentDelta("Once")};
  script.wait_for_cancel = true;
  fake.set_script(script);

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::Inference::NewStub(channel);
  grpc::ClientContext context;
  auto reader = stub->Chat(&context, SimpleChat());
  v1::ChatResponse response;
  ASSERT_TRUE(reader->Read(&response));
  const auto start = std::chrono::steady_clock::now();
  server.Shutdown(200ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(fake.last_handle()->WaitCancelled(5s));
  while (reader->Read(&response)) {
  }
  EXPECT_FALSE(reader->Finish().ok());
}

}  // namespace
}  // namespace llmux::gateway
