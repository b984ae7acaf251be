// llmux.v1.Mcp end to end over localhost: a real GrpcServer and the gRPC C++ client, with the
// MCP server's real catalog on a fake serving core plus test tools (one that reports progress
// in steps, one that runs until it is cancelled, one that asks the client for a sampling).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth/limit_counters.h"
#include "auth/local_auth_service.h"
#include "auth/rate_limiter.h"
#include "gateway/access/access_gate.h"
#include "gateway/grpc/grpc_server.h"
#include "llmux/v1/mcp.grpc.pb.h"
#include "mcp/mcp_server.h"
#include "mcp/serving_catalog.h"
#include "mcp/session.h"
#include "serving/inference_service.h"
#include "store/sqlite_store.h"

namespace llmux::gateway {
namespace {

using namespace std::chrono_literals;
using mcp::Json;

// A signal one thread raises and another waits for.
class Flag {
 public:
  void Raise() {
    std::lock_guard lock(mu_);
    raised_ = true;
    cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return raised_; });
  }
  bool raised() {
    std::lock_guard lock(mu_);
    return raised_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool raised_ = false;
};

// ---------------------------------------------------------------------------------------
// A fake serving core: "Once", " upon", " a", " time" then stop, or (hold) one delta and then
// nothing until the request is cancelled.

class FakeHandle final : public serving::RequestHandle {
 public:
  void Cancel() override { cancelled.Raise(); }
  Flag cancelled;
};

class FakeCore final : public serving::InferenceService {
 public:
  ~FakeCore() override {
    for (std::thread& t : threads_) t.join();
  }
  void set_hold(bool hold) { hold_ = hold; }
  std::shared_ptr<FakeHandle> last_handle() {
    std::lock_guard lock(mu_);
    return last_handle_;
  }

  std::vector<serving::ModelInfo> ListModels() const override {
    serving::ModelInfo m;
    m.id = "stories";
    m.architecture = "llama";
    m.ready = true;
    return {m};
  }
  bool Ready() const override { return true; }
  Result<std::shared_ptr<serving::RequestHandle>> Chat(
      serving::ChatRequest request, std::shared_ptr<serving::Sink> sink) override {
    return Start(request.model, std::move(sink));
  }
  Result<std::shared_ptr<serving::RequestHandle>> Complete(
      serving::CompletionRequest request, std::shared_ptr<serving::Sink> sink) override {
    return Start(request.model, std::move(sink));
  }

 private:
  Result<std::shared_ptr<serving::RequestHandle>> Start(const std::string& model,
                                                        std::shared_ptr<serving::Sink> sink) {
    if (model != "stories") return NotFoundError("model '" + model + "' is not served");
    std::lock_guard lock(mu_);
    auto handle = std::make_shared<FakeHandle>();
    last_handle_ = handle;
    threads_.emplace_back([hold = hold_.load(), sink, handle] {
      serving::Finish finish;
      finish.usage.prompt_tokens = 5;
      if (hold) {
        serving::Delta d;
        d.content = "Once";
        sink->OnDelta(d);
        handle->cancelled.Wait(20s);
        finish.reason = serving::FinishReason::kCancelled;
        sink->OnFinish(finish);
        return;
      }
      for (const char* piece : {"Once", " upon", " a", " time"}) {
        serving::Delta d;
        d.content = piece;
        sink->OnDelta(d);
      }
      finish.reason = serving::FinishReason::kStop;
      finish.usage.completion_tokens = 4;
      sink->OnFinish(finish);
    });
    return std::shared_ptr<serving::RequestHandle>(handle);
  }

  std::atomic<bool> hold_{false};
  std::mutex mu_;
  std::shared_ptr<FakeHandle> last_handle_;
  std::vector<std::thread> threads_;
};

// ---------------------------------------------------------------------------------------
// Test tools, on threads of their own as engine callbacks would be.

class TestTools {
 public:
  ~TestTools() {
    std::lock_guard lock(mu_);
    for (std::thread& t : threads_) t.join();
  }

  void AddTo(mcp::Catalog& catalog) {
    auto schema = Json{{"type", "object"}};
    // Three progress notifications, then "done after 3 steps".
    catalog.AddTool(
        {{{"name", "steps"}, {"description", "reports progress"}, {"inputSchema", schema}},
         "",
         [this](std::shared_ptr<mcp::ToolCall> call) {
           Spawn([call] {
             for (int i = 1; i <= 3; ++i) {
               call->Progress(i, 3, "step " + std::to_string(i));
               std::this_thread::sleep_for(5ms);
             }
             call->Finish(Json{{"content", {mcp::TextContent("done after 3 steps")}}});
           });
         }});
    // Runs until cancelled; raises `wait_started` and then `wait_cancelled`.
    catalog.AddTool({{{"name", "wait"}, {"description", "never ends"}, {"inputSchema", schema}},
                     "",
                     [this](std::shared_ptr<mcp::ToolCall> call) {
                       call->OnCancel([this] { wait_cancelled.Raise(); });
                       wait_started.Raise();
                     }});
    // Asks the client for a sampling; the result is its answer (or the error) as text.
    catalog.AddTool(
        {{{"name", "ask"}, {"description", "asks the client"}, {"inputSchema", schema}},
         "",
         [](std::shared_ptr<mcp::ToolCall> call) {
           call->Request(
               "sampling/createMessage", Json{{"messages", Json::array()}, {"maxTokens", 5}},
               [call](Result<Json> reply) {
                 if (!reply.ok()) {
                   call->FinishWithError("no answer: " + reply.status().message());
                   return;
                 }
                 call->Finish(Json{
                     {"content", {mcp::TextContent("client said: " + reply->value("text", ""))}}});
               });
         }});
  }

  Flag wait_started;
  Flag wait_cancelled;

 private:
  void Spawn(std::function<void()> fn) {
    std::lock_guard lock(mu_);
    threads_.emplace_back(std::move(fn));
  }
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

std::string Request(const Json& id, const std::string& method, Json params = Json::object()) {
  return mcp::RequestMessage(id, method, std::move(params)).dump();
}

std::string Initialize(const Json& id = 1, Json capabilities = Json::object()) {
  return Request(id, "initialize",
                 {{"protocolVersion", "2025-11-25"},
                  {"capabilities", std::move(capabilities)},
                  {"clientInfo", {{"name", "grpc-test"}, {"version", "1"}}}});
}

std::vector<Json> Messages(const v1::McpCallResponse& response) {
  std::vector<Json> out;
  for (const auto& m : response.messages()) out.push_back(Json::parse(m.json()));
  return out;
}

// ---------------------------------------------------------------------------------------

class McpGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(nullptr); }

  void StartServer(AccessGate* gate) {
    auto catalog = std::make_shared<mcp::Catalog>();
    mcp::AddServingCatalog(*catalog, core_, {});
    tools_.AddTo(*catalog);
    mcp_ = std::make_unique<mcp::McpServer>(mcp::McpServerOptions{}, catalog);
    GrpcServerOptions options;
    options.port = 0;
    options.access_gate = gate;
    options.mcp_server = mcp_.get();
    options.mcp_sessions = &sessions_;
    server_ = std::make_unique<GrpcServer>(core_, options);
    ASSERT_TRUE(server_->Start().ok());
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::Mcp::NewStub(channel_);
  }

  struct CallResult {
    grpc::Status status;
    v1::McpCallResponse response;
    std::vector<Json> messages;
  };

  CallResult Call(const std::string& json, const std::string& session_id = "",
                  std::chrono::milliseconds timeout = 10s, const std::string& bearer = "") {
    v1::McpCallRequest request;
    request.mutable_message()->set_json(json);
    request.set_session_id(session_id);
    return Call(request, timeout, bearer);
  }

  CallResult Call(const v1::McpCallRequest& request, std::chrono::milliseconds timeout = 10s,
                  const std::string& bearer = "") {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    if (!bearer.empty()) context.AddMetadata("authorization", "Bearer " + bearer);
    CallResult result;
    result.status = stub_->Call(&context, request, &result.response);
    if (result.status.ok()) result.messages = Messages(result.response);
    return result;
  }

  // One Session stream: write messages, read them back as JSON.
  struct Stream {
    explicit Stream(v1::Mcp::Stub& stub, const std::string& bearer = "") {
      context.set_deadline(std::chrono::system_clock::now() + 20s);
      if (!bearer.empty()) context.AddMetadata("authorization", "Bearer " + bearer);
      rw = stub.Session(&context);
    }
    bool Send(const std::string& json) {
      v1::JsonRpcMessage m;
      m.set_json(json);
      return rw->Write(m);
    }
    std::optional<Json> Next() {
      v1::JsonRpcMessage m;
      if (!rw->Read(&m)) return std::nullopt;
      return Json::parse(m.json());
    }
    // The response to `id`, collecting every message before it into `before`.
    std::optional<Json> ResponseTo(const Json& id, std::vector<Json>* before = nullptr) {
      while (auto m = Next()) {
        if (m->contains("id") && (*m)["id"] == id && !m->contains("method")) return m;
        if (before) before->push_back(*m);
      }
      return std::nullopt;
    }
    grpc::Status Finish() {
      while (Next()) {
      }
      return rw->Finish();
    }
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::JsonRpcMessage, v1::JsonRpcMessage>> rw;
  };

  // Polls until the registry holds `n` sessions (they are closed asynchronously).
  bool WaitForSessions(size_t n) {
    for (int i = 0; i < 500; ++i) {
      if (sessions_.size() == n) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  // Destroyed in reverse: the gRPC server first, then what its calls used.
  FakeCore core_;
  TestTools tools_;
  mcp::SessionRegistry sessions_;
  std::unique_ptr<mcp::McpServer> mcp_;
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Mcp::Stub> stub_;
};

TEST_F(McpGrpcTest, InitializeThroughCallOpensASessionThatLaterCallsUse) {
  CallResult init = Call(Initialize());
  ASSERT_TRUE(init.status.ok()) << init.status.error_message();
  ASSERT_EQ(init.messages.size(), 1u);
  EXPECT_EQ(init.messages[0]["id"], 1);
  EXPECT_EQ(init.messages[0]["result"]["protocolVersion"], "2025-11-25");
  EXPECT_EQ(init.messages[0]["result"]["serverInfo"]["name"], "llmux");
  const std::string session_id = init.response.session_id();
  EXPECT_EQ(session_id.size(), 64u) << "32 random bytes in hex";
  EXPECT_EQ(sessions_.size(), 1u);

  CallResult initialized = Call(
      mcp::NotificationMessage("notifications/initialized", Json::object()).dump(), session_id);
  ASSERT_TRUE(initialized.status.ok());
  EXPECT_TRUE(initialized.messages.empty()) << "a notification is not answered";

  CallResult list = Call(Request(2, "tools/list"), session_id);
  ASSERT_TRUE(list.status.ok()) << list.status.error_message();
  EXPECT_EQ(list.response.session_id(), session_id);
  ASSERT_EQ(list.messages.size(), 1u);
  std::vector<std::string> names;
  for (const Json& tool : list.messages[0]["result"]["tools"]) names.push_back(tool["name"]);
  for (const char* expected : {"chat", "complete", "list_models", "steps", "wait"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }

  // Session state lives on between calls: a subscription made in one is kept.
  CallResult sub =
      Call(Request(3, "resources/subscribe", {{"uri", "llmux://models/stories"}}), session_id);
  ASSERT_TRUE(sub.status.ok());
  ASSERT_EQ(sub.messages.size(), 1u);
  EXPECT_TRUE(sub.messages[0].contains("result")) << sub.messages[0].dump();
  EXPECT_TRUE(sessions_.Find(session_id)->Subscribed("llmux://models/stories"));

  // end_session closes it; afterwards the id is unknown.
  v1::McpCallRequest end;
  end.set_session_id(session_id);
  end.set_end_session(true);
  CallResult ended = Call(end);
  ASSERT_TRUE(ended.status.ok()) << ended.status.error_message();
  EXPECT_EQ(sessions_.size(), 0u);
  EXPECT_EQ(Call(Request(4, "ping"), session_id).status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(McpGrpcTest, CallWithoutSessionIsStateless) {
  CallResult ping = Call(Request(7, "ping"));
  ASSERT_TRUE(ping.status.ok()) << ping.status.error_message();
  ASSERT_EQ(ping.messages.size(), 1u);
  EXPECT_EQ(ping.messages[0], Json::parse(R"({"jsonrpc":"2.0","id":7,"result":{}})"));
  EXPECT_TRUE(ping.response.session_id().empty());
  EXPECT_EQ(sessions_.size(), 0u);

  // Notifications before the response, in the order they were sent.
  CallResult steps = Call(Request(
      "s", "tools/call",
      {{"name", "steps"}, {"arguments", Json::object()}, {"_meta", {{"progressToken", "tok"}}}}));
  ASSERT_TRUE(steps.status.ok()) << steps.status.error_message();
  ASSERT_EQ(steps.messages.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(steps.messages[i]["method"], "notifications/progress");
    EXPECT_EQ(steps.messages[i]["params"]["progressToken"], "tok");
    EXPECT_EQ(steps.messages[i]["params"]["progress"], i + 1);
  }
  EXPECT_EQ(steps.messages[3]["id"], "s");
  EXPECT_EQ(steps.messages[3]["result"]["content"][0]["text"], "done after 3 steps");

  // The serving tools on the fake core: the text is the deltas joined.
  CallResult complete = Call(Request(
      8, "tools/call",
      {{"name", "complete"}, {"arguments", {{"model", "stories"}, {"prompt", "Once upon"}}}}));
  ASSERT_TRUE(complete.status.ok());
  ASSERT_EQ(complete.messages.size(), 1u) << "no progress without a progressToken";
  EXPECT_EQ(complete.messages[0]["result"]["structuredContent"]["text"], "Once upon a time");
}

TEST_F(McpGrpcTest, MalformedMessagesGetJsonRpcErrorsAndBadCallsGrpcErrors) {
  struct Case {
    std::string json;
    int code;
    Json id;
  };
  for (const Case& c : std::vector<Case>{
           {"{not json", -32700, nullptr},
           {"", -32700, nullptr},
           {R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", -32600, nullptr},
           {R"({"jsonrpc":"1.0","id":3,"method":"ping"})", -32600, 3},
           {R"({"jsonrpc":"2.0","id":4,"method":"ping","params":[1]})", -32600, 4},
           {R"("just a string")", -32600, nullptr},
           {R"({"jsonrpc":"2.0","id":5,"method":"no/such/method"})", -32601, 5},
           // Nested past the limit (128): refused before parsing, so no id is read.
           {R"({"jsonrpc":"2.0","id":6,"method":"ping","params":{"a":)" + std::string(100000, '[') +
                std::string(100000, ']') + "}}",
            -32700, nullptr},
       }) {
    CallResult r = Call(c.json);
    ASSERT_TRUE(r.status.ok()) << c.json << ": " << r.status.error_message();
    ASSERT_EQ(r.messages.size(), 1u) << c.json;
    EXPECT_EQ(r.messages[0]["error"]["code"], c.code) << c.json;
    if (c.id.is_null()) {
      EXPECT_FALSE(r.messages[0].contains("id")) << c.json << ": no id could be read";
    } else {
      EXPECT_EQ(r.messages[0].value("id", Json()), c.id) << c.json;
    }
  }
  EXPECT_EQ(Call(Request(1, "ping"), "no-such-session").status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  CallResult init = Call(Initialize());
  ASSERT_TRUE(init.status.ok());
  EXPECT_EQ(Call(Initialize(2), init.response.session_id()).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT)
      << "initialize opens a new session, it does not take one";
  v1::McpCallRequest end;
  end.set_end_session(true);
  EXPECT_EQ(Call(end).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(sessions_.size(), 1u);
}

TEST_F(McpGrpcTest, CallDeadlineCancelsTheTool) {
  CallResult r = Call(Request(1, "tools/call", {{"name", "wait"}}), "", 300ms);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(tools_.wait_started.raised());
  EXPECT_TRUE(tools_.wait_cancelled.Wait());
}

TEST_F(McpGrpcTest, CancelledThroughAnotherCallEndsWithoutResponse) {
  CallResult init = Call(Initialize());
  ASSERT_TRUE(init.status.ok());
  const std::string sid = init.response.session_id();
  auto waiting = std::async(std::launch::async, [&] {
    return Call(Request(9, "tools/call", {{"name", "wait"}}), sid);
  });
  ASSERT_TRUE(tools_.wait_started.Wait());
  CallResult cancel =
      Call(mcp::NotificationMessage("notifications/cancelled", {{"requestId", 9}}).dump(), sid);
  ASSERT_TRUE(cancel.status.ok());
  EXPECT_TRUE(tools_.wait_cancelled.Wait());
  CallResult r = waiting.get();
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_TRUE(r.messages.empty()) << "a cancelled request is not answered";
}

TEST_F(McpGrpcTest, ClientRequestsCannotBeAnsweredWithinOneCall) {
  CallResult init = Call(Initialize(1, {{"sampling", Json::object()}}));
  ASSERT_TRUE(init.status.ok());
  CallResult r = Call(Request(2, "tools/call", {{"name", "ask"}}), init.response.session_id(), 5s);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_EQ(r.messages.size(), 1u) << "the sampling request is not passed on";
  EXPECT_EQ(r.messages[0]["result"]["isError"], true);
  EXPECT_NE(r.messages[0]["result"]["content"][0]["text"].get<std::string>().find("Session stream"),
            std::string::npos);
}

TEST_F(McpGrpcTest, StatelessMetaIsCheckedForItsVersion) {
  Json meta{{"io.modelcontextprotocol/protocolVersion", "1999-01-01"},
            {"io.modelcontextprotocol/clientCapabilities", Json::object()}};
  CallResult r = Call(Request(1, "tools/list", {{"_meta", meta}}));
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0]["error"]["code"], mcp::rpc_error::kUnsupportedProtocolVersion);

  meta["io.modelcontextprotocol/protocolVersion"] = mcp::kStatelessProtocolVersion;
  r = Call(Request(2, "tools/list", {{"_meta", meta}}));
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0]["result"]["resultType"], "complete") << r.messages[0].dump();
}

// ---------------------------------------------------------------------------------------
// The Session stream.

TEST_F(McpGrpcTest, SessionStreamCarriesProgressThenTheResult) {
  Stream s(*stub_);
  ASSERT_TRUE(s.Send(Initialize()));
  auto init = s.ResponseTo(1);
  ASSERT_TRUE(init);
  EXPECT_EQ((*init)["result"]["protocolVersion"], "2025-11-25");
  EXPECT_EQ(sessions_.size(), 1u) << "the stream's session is registered";
  ASSERT_TRUE(s.Send(mcp::NotificationMessage("notifications/initialized", Json::object()).dump()));

  ASSERT_TRUE(
      s.Send(Request(2, "tools/call", {{"name", "steps"}, {"_meta", {{"progressToken", 42}}}})));
  std::vector<Json> before;
  auto result = s.ResponseTo(2, &before);
  ASSERT_TRUE(result);
  EXPECT_EQ((*result)["result"]["content"][0]["text"], "done after 3 steps");
  ASSERT_EQ(before.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(before[i]["method"], "notifications/progress");
    EXPECT_EQ(before[i]["params"]["progressToken"], 42);
    EXPECT_EQ(before[i]["params"]["progress"], i + 1);
  }

  // Server-wide notifications reach the stream too.
  mcp_->NotifyListChanged(sessions_, "tools");
  auto note = s.Next();
  ASSERT_TRUE(note);
  EXPECT_EQ((*note)["method"], "notifications/tools/list_changed");

  // Half-closing ends the stream cleanly, and the session with it.
  s.rw->WritesDone();
  EXPECT_TRUE(s.Finish().ok());
  EXPECT_TRUE(WaitForSessions(0));
}

TEST_F(McpGrpcTest, SessionStreamAnswersBadMessagesAndGoesOn) {
  Stream s(*stub_);
  ASSERT_TRUE(s.Send("{oops"));
  auto parse_error = s.Next();
  ASSERT_TRUE(parse_error);
  EXPECT_EQ((*parse_error)["error"]["code"], -32700);
  EXPECT_FALSE(parse_error->contains("id"));

  ASSERT_TRUE(s.Send(Request(1, "tools/list")));
  auto early = s.ResponseTo(1);
  ASSERT_TRUE(early);
  EXPECT_EQ((*early)["error"]["code"], -32600) << "initialize comes first";
  ASSERT_TRUE(s.Send(Request(2, "ping")));
  auto ping = s.ResponseTo(2);
  ASSERT_TRUE(ping);
  EXPECT_TRUE((*ping).contains("result")) << "ping is allowed before initialize";

  ASSERT_TRUE(s.Send(Initialize(3)));
  ASSERT_TRUE(s.ResponseTo(3));
  ASSERT_TRUE(s.Send(Initialize(4)));
  auto again = s.ResponseTo(4);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)["error"]["code"], -32600) << "one initialize per session";

  ASSERT_TRUE(s.Send(R"({"jsonrpc":"2.0","id":5})"));
  auto invalid = s.Next();
  ASSERT_TRUE(invalid);
  EXPECT_EQ((*invalid)["error"]["code"], -32600);
  EXPECT_EQ(invalid->value("id", Json()), 5);

  ASSERT_TRUE(s.Send(Request(6, "tools/list")));
  auto list = s.ResponseTo(6);
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->contains("result"));
  s.rw->WritesDone();
  EXPECT_TRUE(s.Finish().ok());
}

TEST_F(McpGrpcTest, NotificationsCancelledStopsTheRequestOnTheStream) {
  Stream s(*stub_);
  ASSERT_TRUE(s.Send(Initialize()));
  ASSERT_TRUE(s.ResponseTo(1));
  ASSERT_TRUE(s.Send(Request(5, "tools/call", {{"name", "wait"}})));
  ASSERT_TRUE(tools_.wait_started.Wait());
  ASSERT_TRUE(s.Send(mcp::NotificationMessage("notifications/cancelled",
                                              {{"requestId", 5}, {"reason", "changed my mind"}})
                         .dump()));
  EXPECT_TRUE(tools_.wait_cancelled.Wait());
  // The next message is the answer to the ping: request 5 got none.
  ASSERT_TRUE(s.Send(Request(6, "ping")));
  auto next = s.Next();
  ASSERT_TRUE(next);
  EXPECT_EQ((*next)["id"], 6);
  s.rw->WritesDone();
  EXPECT_TRUE(s.Finish().ok());
}

TEST_F(McpGrpcTest, CancellingTheStreamStopsTheGeneration) {
  core_.set_hold(true);
  Stream s(*stub_);
  ASSERT_TRUE(s.Send(Initialize()));
  ASSERT_TRUE(s.ResponseTo(1));
  ASSERT_TRUE(s.Send(Request(2, "tools/call",
                             {{"name", "complete"},
                              {"arguments", {{"model", "stories"}, {"prompt", "Once"}}},
                              {"_meta", {{"progressToken", "p"}}}})));
  auto progress = s.Next();
  ASSERT_TRUE(progress);
  EXPECT_EQ((*progress)["method"], "notifications/progress");
  EXPECT_EQ((*progress)["params"]["message"], "Once");
  std::shared_ptr<FakeHandle> handle = core_.last_handle();
  ASSERT_NE(handle, nullptr);
  EXPECT_FALSE(handle->cancelled.raised());
  s.context.TryCancel();
  EXPECT_EQ(s.Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(handle->cancelled.Wait()) << "the generation was not cancelled";
  EXPECT_TRUE(WaitForSessions(0));
}

TEST_F(McpGrpcTest, HalfCloseLetsRequestsInFlightFinish) {
  Stream s(*stub_);
  ASSERT_TRUE(s.Send(Initialize()));
  ASSERT_TRUE(s.ResponseTo(1));
  ASSERT_TRUE(s.Send(
      Request(2, "tools/call",
              {{"name", "complete"}, {"arguments", {{"model", "stories"}, {"prompt", "Once"}}}})));
  s.rw->WritesDone();
  auto result = s.ResponseTo(2);
  ASSERT_TRUE(result);
  EXPECT_EQ((*result)["result"]["structuredContent"]["text"], "Once upon a time");
  EXPECT_TRUE(s.Finish().ok());
  EXPECT_TRUE(WaitForSessions(0));
}

TEST_F(McpGrpcTest, ServerShutdownEndsIdleStreamsWhileTheClientStillListens) {
  Stream s(*stub_);
  ASSERT_TRUE(s.Send(Initialize()));
  ASSERT_TRUE(s.ResponseTo(1));
  sessions_.EndStreams();  // what `llmux serve` does on SIGTERM
  EXPECT_FALSE(s.Next()) << "the server ended the stream";
  EXPECT_TRUE(s.Finish().ok());
  EXPECT_TRUE(WaitForSessions(0));
}

TEST_F(McpGrpcTest, ServerRequestsTravelTheStreamAndTheirAnswersComeBack) {
  Stream s(*stub_);
  ASSERT_TRUE(s.Send(Initialize(1, {{"sampling", Json::object()}})));
  ASSERT_TRUE(s.ResponseTo(1));
  ASSERT_TRUE(s.Send(Request(2, "tools/call", {{"name", "ask"}})));
  auto ask = s.Next();
  ASSERT_TRUE(ask);
  ASSERT_EQ((*ask)["method"], "sampling/createMessage");
  ASSERT_TRUE(ask->contains("id"));
  ASSERT_TRUE(
      s.Send(mcp::ResultMessage((*ask)["id"], {{"role", "assistant"}, {"text", "hello"}}).dump()));
  auto result = s.ResponseTo(2);
  ASSERT_TRUE(result);
  EXPECT_EQ((*result)["result"]["content"][0]["text"], "client said: hello");

  // A request still open when the client half-closes can never be answered: the tool hears so.
  ASSERT_TRUE(s.Send(Request(3, "tools/call", {{"name", "ask"}})));
  auto ask2 = s.Next();
  ASSERT_TRUE(ask2);
  ASSERT_EQ((*ask2)["method"], "sampling/createMessage");
  s.rw->WritesDone();
  auto unanswered = s.ResponseTo(3);
  ASSERT_TRUE(unanswered);
  EXPECT_EQ((*unanswered)["result"]["isError"], true);
  EXPECT_TRUE(s.Finish().ok());
}

// ---------------------------------------------------------------------------------------
// With authentication: credentials, session ownership and rate limits per request.

class McpGrpcAuthTest : public McpGrpcTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/llmux-mcp-grpc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = store::OpenSqliteStore(dir_ + "/store.db");
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    auth_ = std::make_unique<auth::LocalAuthService>(*store_, *store_);
    ASSERT_TRUE(auth_->Init().ok());
    limiter_ = std::make_unique<auth::RateLimiter>(counters_, store_.get());
    gate_ = std::make_unique<AccessGate>(auth_.get(), limiter_.get());
    alice_ = NewKey("alice", {});
    bob_ = NewKey("bob", {});
    store::Limits slow;
    slow.requests_per_minute = 3;
    slow_ = NewKey("carol", slow);
    StartServer(gate_.get());
  }
  void TearDown() override {
    server_.reset();  // before the gate it uses
    std::filesystem::remove_all(dir_);
  }

  std::string NewKey(const std::string& user_name, store::Limits limits) {
    auth::Principal admin = auth::AnonymousAdmin();
    auth::NewUser new_user;
    new_user.name = user_name;
    auto user = auth_->CreateUser(auth::Actor{admin, "test"}, new_user);
    EXPECT_TRUE(user.ok()) << user.status().ToString();
    auth::NewKey spec;
    spec.owner_user_id = user->id;
    spec.limits = limits;
    auto key = auth_->CreateKey(auth::Actor{admin, "test"}, spec);
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    return key->full_key;
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<auth::LocalAuthService> auth_;
  auth::InMemoryLimitCounters counters_;
  std::unique_ptr<auth::RateLimiter> limiter_;
  std::unique_ptr<AccessGate> gate_;
  std::string alice_, bob_, slow_;
};

TEST_F(McpGrpcAuthTest, CredentialsAreRequired) {
  EXPECT_EQ(Call(Request(1, "ping")).status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Call(Request(1, "ping"), "", 10s, "llmux_bogus").status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  Stream s(*stub_);
  s.rw->WritesDone();
  EXPECT_EQ(s.Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(sessions_.size(), 0u);
  EXPECT_TRUE(Call(Request(1, "ping"), "", 10s, alice_).status.ok());
}

TEST_F(McpGrpcAuthTest, ASessionBelongsToItsOwner) {
  CallResult init = Call(Initialize(), "", 10s, alice_);
  ASSERT_TRUE(init.status.ok()) << init.status.error_message();
  const std::string sid = init.response.session_id();
  ASSERT_FALSE(sid.empty());
  EXPECT_TRUE(Call(Request(2, "ping"), sid, 10s, alice_).status.ok());
  EXPECT_EQ(Call(Request(2, "ping"), sid, 10s, bob_).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::McpCallRequest end;
  end.set_session_id(sid);
  end.set_end_session(true);
  EXPECT_EQ(Call(end, 10s, bob_).status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(sessions_.size(), 1u) << "bob cannot end alice's session";
  auto alice = auth_->Authenticate(alice_);
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(sessions_.Find(sid)->owner(), alice->subject);
}

TEST_F(McpGrpcAuthTest, EveryRequestOnTheStreamCountsAgainstTheRateLimit) {
  // Three requests a minute: opening the stream and two requests; the third is refused, with
  // a hint when to retry, and the stream goes on.
  Stream s(*stub_, slow_);
  ASSERT_TRUE(s.Send(Initialize()));
  auto init = s.ResponseTo(1);
  ASSERT_TRUE(init);
  ASSERT_TRUE(init->contains("result")) << init->dump();
  ASSERT_TRUE(s.Send(Request(2, "ping")));
  auto ping = s.ResponseTo(2);
  ASSERT_TRUE(ping);
  EXPECT_TRUE(ping->contains("result")) << ping->dump();
  ASSERT_TRUE(s.Send(Request(3, "ping")));
  auto refused = s.ResponseTo(3);
  ASSERT_TRUE(refused);
  ASSERT_TRUE(refused->contains("error")) << refused->dump();
  EXPECT_GE((*refused)["error"]["data"]["retryAfterSeconds"].get<int>(), 1);
  // Notifications are not requests: they still flow.
  EXPECT_TRUE(s.Send(mcp::NotificationMessage("notifications/initialized", Json::object()).dump()));
  s.rw->WritesDone();
  EXPECT_TRUE(s.Finish().ok());
}

TEST_F(McpGrpcAuthTest, ACallerOverItsShareOfSessionsEndsItsOwnOldestIdleOne) {
  auto alice = auth_->Authenticate(alice_);
  ASSERT_TRUE(alice.ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 101; ++i) {  // the default share is 100
    CallResult init = Call(Initialize(), "", 10s, alice_);
    ASSERT_TRUE(init.status.ok()) << i << ": " << init.status.error_message();
    ids.push_back(init.response.session_id());
  }
  EXPECT_EQ(sessions_.SizeOf("user:" + std::to_string(alice->user_id)), 100u);
  EXPECT_EQ(Call(Request(2, "ping"), ids.front(), 10s, alice_).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Call(Request(2, "ping"), ids.back(), 10s, alice_).status.ok());
  // Bob's own share is untouched.
  CallResult bob = Call(Initialize(), "", 10s, bob_);
  ASSERT_TRUE(bob.status.ok()) << bob.status.error_message();
  EXPECT_TRUE(Call(Request(2, "ping"), bob.response.session_id(), 10s, bob_).status.ok());
}

}  // namespace
}  // namespace llmux::gateway
