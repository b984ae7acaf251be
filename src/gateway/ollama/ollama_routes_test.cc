// The Ollama routes over a scripted InferenceService, through a real HTTP server: what the
// serving core streams (reasoning, content, tool-call pieces, a failure) becomes Ollama's lines.
#include "gateway/ollama/ollama_routes.h"

#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gateway/access/http_guard.h"
#include "net/http/http_client.h"
#include "net/http/http_server.h"
#include "serving/inference_service.h"

namespace llmux::gateway {
namespace {

using Json = nlohmann::json;

class NoHandle : public serving::RequestHandle {
 public:
  void Cancel() override {}
};

// Plays `script` to every request (synchronously, as an in-process service may) and keeps the
// last request.
class ScriptedService : public serving::InferenceService {
 public:
  std::vector<serving::Delta> deltas;
  serving::Finish finish;
  Status refuse;  // not OK: refuse every request with it

  std::vector<serving::ModelInfo> ListModels() const override {
    serving::ModelInfo m;
    m.id = "m";
    m.architecture = "qwen3";
    m.ready = true;
    return {m};
  }
  bool Ready() const override { return true; }
  Result<std::shared_ptr<serving::RequestHandle>> Chat(
      serving::ChatRequest request, std::shared_ptr<serving::Sink> sink) override {
    {
      std::lock_guard lock(mu_);
      last_chat_ = std::move(request);
    }
    return Play(*sink);
  }
  Result<std::shared_ptr<serving::RequestHandle>> Complete(
      serving::CompletionRequest request, std::shared_ptr<serving::Sink> sink) override {
    {
      std::lock_guard lock(mu_);
      last_completion_ = std::move(request);
    }
    return Play(*sink);
  }
  serving::ChatRequest last_chat() {
    std::lock_guard lock(mu_);
    return last_chat_;
  }
  serving::CompletionRequest last_completion() {
    std::lock_guard lock(mu_);
    return last_completion_;
  }

 private:
  Result<std::shared_ptr<serving::RequestHandle>> Play(serving::Sink& sink) {
    if (!refuse.ok()) return refuse;
    for (const auto& d : deltas) sink.OnDelta(d);
    sink.OnFinish(finish);
    return std::shared_ptr<serving::RequestHandle>(std::make_shared<NoHandle>());
  }
  std::mutex mu_;
  serving::ChatRequest last_chat_;
  serving::CompletionRequest last_completion_;
};

class OllamaRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_ = std::make_unique<GuardedRouter>(server_, gate_, OllamaErrorResponse);
    RegisterOllamaRoutes(*router_, service_);
    ASSERT_TRUE(server_.Listen("127.0.0.1", 0).ok());
    server_.Start();
  }
  void TearDown() override {
    server_.Shutdown(std::chrono::milliseconds(0));
    server_.Wait();
  }

  http::ClientResponse Post(const std::string& path, const std::string& body) {
    http::ClientRequest r;
    r.method = "POST";
    r.url = "http://127.0.0.1:" + std::to_string(server_.port()) + path;
    r.headers.Set("Content-Type", "application/json");
    r.body = body;
    auto response = http::Fetch(r);
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    return response.ok() ? *response : http::ClientResponse{};
  }

  static std::vector<Json> Lines(const std::string& body) {
    std::vector<Json> lines;
    std::istringstream in(body);
    for (std::string line; std::getline(in, line);) lines.push_back(Json::parse(line));
    return lines;
  }

  // Thinking, two pieces of text, one tool call in two pieces, then the end.
  void ScriptToolCall() {
    serving::Delta think, hel, lo, call_a, call_b;
    think.reasoning = "hmm";
    hel.content = "Hel";
    lo.content = "lo";
    call_a.tool_calls.push_back({0, "call_1", "get_weather", "{\"city\": \"Pa"});
    call_b.tool_calls.push_back({0, "", "", "ris\"}"});
    service_.deltas = {think, hel, lo, call_a, call_b};
    service_.finish.reason = serving::FinishReason::kToolCalls;
    service_.finish.usage.prompt_tokens = 7;
    service_.finish.usage.completion_tokens = 5;
  }

  ScriptedService service_;
  http::HttpServer server_;
  AccessGate gate_{nullptr, nullptr};  // authentication off
  std::unique_ptr<GuardedRouter> router_;
};

constexpr const char* kChat =
    R"({"model": "m:latest", "think": true, "messages": [{"role": "user", "content": "weather?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather"}}],
        "options": {"num_predict": 9, "temperature": 0})";

TEST_F(OllamaRoutesTest, StreamedChatSendsThinkingTextAndWholeToolCallsThenTheEnd) {
  ScriptToolCall();
  http::ClientResponse r = Post("/api/chat", std::string(kChat) + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.Get("Content-Type").value_or(""), "application/x-ndjson");
  std::vector<Json> lines = Lines(r.body);
  ASSERT_EQ(lines.size(), 5u) << r.body;
  EXPECT_EQ(lines[0]["message"]["thinking"], "hmm");
  EXPECT_EQ(lines[0]["message"]["content"], "");
  EXPECT_EQ(lines[1]["message"]["content"], "Hel");
  EXPECT_EQ(lines[2]["message"]["content"], "lo");
  const Json& calls = lines[3]["message"]["tool_calls"];
  ASSERT_EQ(calls.size(), 1u) << lines[3];
  EXPECT_EQ(calls[0]["function"]["name"], "get_weather");
  EXPECT_EQ(calls[0]["function"]["arguments"], Json({{"city", "Paris"}}));
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(lines[i]["done"], false);
    EXPECT_EQ(lines[i]["model"], "m");
    EXPECT_EQ(lines[i]["message"]["role"], "assistant");
  }
  const Json& done = lines[4];
  EXPECT_EQ(done["done"], true);
  EXPECT_EQ(done["done_reason"], "stop");
  EXPECT_EQ(done["prompt_eval_count"], 7);
  EXPECT_EQ(done["eval_count"], 5);
  EXPECT_GE(done["total_duration"].get<int64_t>(), done["eval_duration"].get<int64_t>());
  EXPECT_GE(done["prompt_eval_duration"].get<int64_t>(), 0);

  const serving::ChatRequest sent = service_.last_chat();
  EXPECT_EQ(sent.model, "m");
  EXPECT_EQ(sent.options.max_tokens, 9);
  EXPECT_EQ(sent.enable_thinking, true);
  ASSERT_EQ(sent.tools.size(), 1u);
  EXPECT_EQ(sent.tools[0].name(), "get_weather");
}

TEST_F(OllamaRoutesTest, WholeChatIsOneObject) {
  ScriptToolCall();
  http::ClientResponse r = Post("/api/chat", std::string(kChat) + R"(, "stream": false})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.Get("Content-Type").value_or("").rfind("application/json", 0), 0u);
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["message"]["content"], "Hello");
  EXPECT_EQ(j["message"]["thinking"], "hmm");
  EXPECT_EQ(j["message"]["tool_calls"][0]["function"]["arguments"]["city"], "Paris");
  EXPECT_EQ(j["done"], true);
  EXPECT_EQ(j["eval_count"], 5);
}

TEST_F(OllamaRoutesTest, AFailureMidStreamEndsWithAnErrorLine) {
  serving::Delta a;
  a.content = "a";
  service_.deltas = {a};
  service_.finish.reason = serving::FinishReason::kError;
  service_.finish.error = InternalError("the engine failed");
  http::ClientResponse streamed =
      Post("/api/generate", R"({"model": "m", "prompt": "x", "raw": true})");
  ASSERT_EQ(streamed.status, 200);
  std::vector<Json> lines = Lines(streamed.body);
  ASSERT_EQ(lines.size(), 2u) << streamed.body;
  EXPECT_EQ(lines[0]["response"], "a");
  EXPECT_EQ(lines[1], Json({{"error", "the engine failed"}}));

  http::ClientResponse whole =
      Post("/api/generate", R"({"model": "m", "prompt": "x", "raw": true, "stream": false})");
  EXPECT_EQ(whole.status, 500);
  EXPECT_EQ(Json::parse(whole.body), Json({{"error", "the engine failed"}}));
}

TEST_F(OllamaRoutesTest, GenerateIsACompletionWhenRawElseAChatTurn) {
  serving::Delta d;
  d.content = "ok";
  service_.deltas = {d};
  Json raw = Json::parse(
      Post("/api/generate", R"({"model": "m", "prompt": "[INST] x", "raw": true, "stream": false})")
          .body);
  EXPECT_EQ(raw["response"], "ok");
  EXPECT_EQ(service_.last_completion().prompt, "[INST] x");

  Json templated =
      Json::parse(Post("/api/generate",
                       R"({"model": "m", "prompt": "hi", "system": "be kind", "stream": false})")
                      .body);
  EXPECT_EQ(templated["response"], "ok");
  const serving::ChatRequest chat = service_.last_chat();
  ASSERT_EQ(chat.messages.size(), 2u);
  EXPECT_EQ(chat.messages[0].role, "system");
  EXPECT_EQ(chat.messages[1].content, "hi");
}

TEST_F(OllamaRoutesTest, RefusalsOfTheServiceKeepTheirStatus) {
  service_.refuse = ResourceExhaustedError("the queue of model 'm' is full");
  http::ClientResponse r = Post("/api/chat", std::string(kChat) + "}");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(Json::parse(r.body), Json({{"error", "the queue of model 'm' is full"}}));
  service_.refuse = NotFoundError("the model 'z' does not exist");
  r = Post("/api/generate", R"({"model": "z", "prompt": "x"})");
  EXPECT_EQ(r.status, 404);
  // The load call checks the model itself.
  r = Post("/api/generate", R"({"model": "z"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(Json::parse(r.body)["error"].get<std::string>().find("z"), std::string::npos);
}

}  // namespace
}  // namespace llmux::gateway
