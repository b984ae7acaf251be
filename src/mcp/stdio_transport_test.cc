#include "mcp/stdio_transport.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <thread>

namespace llmux::mcp {
namespace {

using namespace std::chrono_literals;

// What the fake tools saw.
struct ToolLog {
  std::mutex mu;
  std::condition_variable cv;
  int slow_started = 0;
  int slow_cancelled = 0;
  int blocking_started = 0;
  int blocking_cancelled = 0;

  template <typename Pred>
  bool WaitFor(Pred pred) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 5s, pred);
  }
  void Bump(int& counter) {
    std::lock_guard lock(mu);
    ++counter;
    cv.notify_all();
  }
};

Json Descriptor(const std::string& name) {
  return Json{{"name", name}, {"inputSchema", {{"type", "object"}}}};
}

// progress: three progress steps, then the text (with a newline and a byte that is not UTF-8).
// slow: runs on its own thread, reporting progress, until cancelled (then answers nothing).
// blocking: blocks inside run() itself until cancelled.
std::shared_ptr<Catalog> FakeCatalog(std::shared_ptr<ToolLog> log) {
  auto catalog = std::make_shared<Catalog>();
  catalog->AddTool(
      {Descriptor("progress"), "", [](std::shared_ptr<ToolCall> call) {
         std::thread([call] {
           for (int i = 1; i <= 3; ++i) call->Progress(i, 3, "step");
           call->Finish({{"content", Json::array({TextContent("line one\nline two \xff")})}});
         }).detach();
       }});
  catalog->AddTool({Descriptor("slow"), "", [log](std::shared_ptr<ToolCall> call) {
                      auto stop = std::make_shared<std::atomic<bool>>(false);
                      call->OnCancel([log, stop] {
                        stop->store(true);
                        log->Bump(log->slow_cancelled);
                      });
                      log->Bump(log->slow_started);
                      std::thread([call, stop] {
                        for (int i = 0; !stop->load() && i < 1000; ++i) {
                          call->Progress(i, std::nullopt);
                          std::this_thread::sleep_for(5ms);
                        }
                        // Never cancelled within 5 s: answer, so that the test sees it.
                        call->Finish({{"content", Json::array({TextContent("slow finished")})}});
                      }).detach();
                    }});
  catalog->AddTool({Descriptor("blocking"), "", [log](std::shared_ptr<ToolCall> call) {
                      log->Bump(log->blocking_started);
                      for (int i = 0; i < 1000 && !call->cancelled(); ++i) {
                        std::this_thread::sleep_for(5ms);
                      }
                      if (call->cancelled()) {
                        log->Bump(log->blocking_cancelled);
                        return;
                      }
                      call->Finish({{"content", Json::array({TextContent("blocking finished")})}});
                    }});
  return catalog;
}

class StdioTransportTest : public ::testing::Test {
 protected:
  void Start(StdioTransportOptions options = {}) {
    int in[2];
    int out[2];
    ASSERT_EQ(pipe(in), 0);
    ASSERT_EQ(pipe(out), 0);
    client_write_ = in[1];
    client_read_ = out[0];
    server_read_ = in[0];
    server_write_ = out[1];
    server_ = std::make_unique<McpServer>(McpServerOptions{}, FakeCatalog(log_));
    transport_ = std::make_unique<StdioTransport>(
        *server_, std::make_shared<TrustedCaller>("tester"), server_read_, server_write_, options);
    run_ = std::async(std::launch::async, [this] { return transport_->Run(); });
  }

  void TearDown() override {
    CloseInput();
    if (run_.valid()) {
      EXPECT_TRUE(run_.get().ok());
    }
    transport_.reset();
    for (int fd : {client_read_, server_read_, server_write_}) {
      if (fd >= 0) close(fd);
    }
  }

  void CloseInput() {
    if (client_write_ >= 0) close(client_write_);
    client_write_ = -1;
  }

  void SendLine(const std::string& line) {
    std::string data = line + "\n";
    ASSERT_EQ(write(client_write_, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  void Send(const Json& message) { SendLine(message.dump()); }
  void Request(Json id, const std::string& method, Json params = Json::object()) {
    Send({{"jsonrpc", "2.0"}, {"id", std::move(id)}, {"method", method}, {"params", params}});
  }
  void CallTool(Json id, const std::string& tool, Json token = nullptr) {
    Json params{{"name", tool}, {"arguments", Json::object()}};
    if (!token.is_null()) params["_meta"] = {{"progressToken", token}};
    Request(std::move(id), "tools/call", std::move(params));
  }
  void Cancel(Json id) {
    Send({{"jsonrpc", "2.0"},
          {"method", "notifications/cancelled"},
          {"params", {{"requestId", std::move(id)}, {"reason", "test"}}}});
  }

  // The next raw line the transport wrote, or nullopt after `timeout` (or at its end).
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto nl = pending_.find('\n'); nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{client_read_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char buf[4096];
      const ssize_t n = read(client_read_, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      pending_.append(buf, static_cast<size_t>(n));
    }
  }
  Json Read(std::chrono::milliseconds timeout = 5000ms) {
    auto line = ReadLine(timeout);
    if (!line) return nullptr;
    Json value = Json::parse(*line, nullptr, false);
    EXPECT_FALSE(value.is_discarded()) << *line;
    return value;
  }
  // Reads until the response to `id`, skipping (and returning in `others`) what comes first.
  Json ReadResponse(const Json& id, std::vector<Json>* others = nullptr) {
    for (;;) {
      Json m = Read();
      if (m.is_null()) return nullptr;
      if (m.contains("id") && m["id"] == id && !m.contains("method")) return m;
      if (others) others->push_back(m);
    }
  }

  std::shared_ptr<ToolLog> log_ = std::make_shared<ToolLog>();
  std::unique_ptr<McpServer> server_;
  std::unique_ptr<StdioTransport> transport_;
  std::future<Status> run_;
  int client_write_ = -1, client_read_ = -1, server_read_ = -1, server_write_ = -1;
  std::string pending_;
};

TEST(StdioLinesTest, EncodesOneLineEvenForNewlinesAndBadUtf8) {
  Json m{{"text", "a\nb\r\n\xff"}};
  std::string line = EncodeLine(m);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  Json back = Json::parse(line);
  EXPECT_EQ(back["text"], "a\nb\r\n\xEF\xBF\xBD");  // U+FFFD for the stray byte
}

TEST(StdioLinesTest, DecodeRefusesWhatIsNotAMessage) {
  DecodedLine parse_error = DecodeLine("{nope");
  ASSERT_TRUE(parse_error.error_reply);
  EXPECT_EQ((*parse_error.error_reply)["error"]["code"], -32700);
  EXPECT_FALSE(parse_error.error_reply->contains("id"));  // MCP: no id rather than null

  DecodedLine invalid = DecodeLine(R"({"jsonrpc":"2.0","id":9,"method":42})");
  ASSERT_TRUE(invalid.error_reply);
  EXPECT_EQ((*invalid.error_reply)["error"]["code"], -32600);
  EXPECT_EQ((*invalid.error_reply)["id"], 9);

  DecodedLine batch = DecodeLine(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])");
  ASSERT_TRUE(batch.error_reply);
  EXPECT_EQ((*batch.error_reply)["error"]["code"], -32600);

  // Nested past the limit of 128 levels: a parse error naming it, not a stack overflow.
  DecodedLine deep = DecodeLine(R"({"jsonrpc":"2.0","id":2,"method":"ping","params":{"a":)" +
                                std::string(200000, '{') + "}");
  ASSERT_TRUE(deep.error_reply);
  EXPECT_EQ((*deep.error_reply)["error"]["code"], -32700);
  EXPECT_NE((*deep.error_reply)["error"]["message"].get<std::string>().find("nested deeper than 128"),
            std::string::npos);

  DecodedLine ok = DecodeLine(R"({"jsonrpc":"2.0","id":"x","method":"ping"})");
  EXPECT_FALSE(ok.error_reply);
  EXPECT_EQ(ok.message.kind, Message::Kind::kRequest);
  EXPECT_EQ(ok.message.method, "ping");
}

TEST(StdioLinesTest, ReaderSplitsLinesSkipsBlanksAndRefusesLongOnes) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string input = "one\r\n\n   \ntwo\n" + std::string(40, 'x') + "\nthree";
  ASSERT_EQ(write(fds[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
  close(fds[1]);
  LineReader reader(fds[0], 16);
  auto a = reader.Next();
  ASSERT_TRUE(a && a->ok());
  EXPECT_EQ(**a, "one");
  auto b = reader.Next();
  ASSERT_TRUE(b && b->ok());
  EXPECT_EQ(**b, "two");
  auto c = reader.Next();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status().code(), StatusCode::kResourceExhausted);
  auto d = reader.Next();
  ASSERT_TRUE(d && d->ok());
  EXPECT_EQ(**d, "three");  // the last line needs no newline
  EXPECT_FALSE(reader.Next());
  close(fds[0]);
}

TEST_F(StdioTransportTest, InitializeNegotiatesOnTheConnectionsSession) {
  Start();
  Request(1, "initialize",
          {{"protocolVersion", "2025-06-18"},
           {"capabilities", {{"sampling", Json::object()}}},
           {"clientInfo", {{"name", "test"}, {"version", "1"}}}});
  Json r = ReadResponse(1);
  ASSERT_TRUE(r.contains("result")) << r.dump();
  EXPECT_EQ(r["result"]["protocolVersion"], "2025-06-18");
  EXPECT_EQ(r["result"]["serverInfo"]["name"], "llmux");
  EXPECT_EQ(transport_->session()->protocol_version(), "2025-06-18");
  EXPECT_TRUE(transport_->session()->ClientSupports("sampling"));
  Send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  Request("p", "ping");
  Json pong = ReadResponse("p");
  EXPECT_EQ(pong["result"], Json::object());
  Request(2, "tools/list");
  Json tools = ReadResponse(2);
  ASSERT_EQ(tools["result"]["tools"].size(), 3u);
}

TEST_F(StdioTransportTest, ProgressComesBeforeTheResultOneMessagePerLine) {
  Start();
  CallTool(7, "progress", "tok");
  std::vector<std::string> lines;
  Json result;
  for (;;) {
    auto line = ReadLine();
    ASSERT_TRUE(line);
    lines.push_back(*line);
    Json m = Json::parse(*line);
    if (m.contains("id")) {
      result = m;
      break;
    }
  }
  ASSERT_EQ(lines.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    Json n = Json::parse(lines[i]);
    EXPECT_EQ(n["method"], "notifications/progress");
    EXPECT_EQ(n["params"]["progressToken"], "tok");
    EXPECT_EQ(n["params"]["progress"], i + 1);
    EXPECT_EQ(n["params"]["total"], 3);
  }
  EXPECT_EQ(result["id"], 7);
  EXPECT_EQ(result["result"]["content"][0]["text"], "line one\nline two \xEF\xBF\xBD");
}

TEST_F(StdioTransportTest, ASlowCallBlocksNeitherPingNorItsCancellation) {
  Start();
  CallTool("slow-1", "slow", 1);
  ASSERT_TRUE(log_->WaitFor([&] { return log_->slow_started == 1; }));
  Request("ping-1", "ping");
  std::vector<Json> before;
  Json pong = ReadResponse("ping-1", &before);
  EXPECT_TRUE(pong.contains("result"));
  Cancel("slow-1");
  ASSERT_TRUE(log_->WaitFor([&] { return log_->slow_cancelled == 1; }));
  // No response for the cancelled call: the next response is the next request's.
  Request("ping-2", "ping");
  std::vector<Json> after;
  Json pong2 = ReadResponse("ping-2", &after);
  EXPECT_TRUE(pong2.contains("result"));
  for (const Json& m : after) {
    EXPECT_EQ(m.value("method", ""), "notifications/progress") << m.dump();
  }
  // The id is free again.
  CallTool("slow-1", "progress");
  EXPECT_TRUE(ReadResponse("slow-1").contains("result"));
}

TEST_F(StdioTransportTest, AToolBlockingInsideRunIsCancelledToo) {
  Start();
  CallTool(11, "blocking");
  ASSERT_TRUE(log_->WaitFor([&] { return log_->blocking_started == 1; }));
  Request(12, "ping");
  EXPECT_TRUE(ReadResponse(12).contains("result"));
  Cancel(11);
  ASSERT_TRUE(log_->WaitFor([&] { return log_->blocking_cancelled == 1; }));
}

TEST_F(StdioTransportTest, AnIdAlreadyInFlightIsRefused) {
  Start();
  CallTool(5, "slow");
  ASSERT_TRUE(log_->WaitFor([&] { return log_->slow_started == 1; }));
  Request(5, "ping");
  Json r = ReadResponse(5);
  ASSERT_TRUE(r.contains("error")) << r.dump();
  EXPECT_EQ(r["error"]["code"], -32600);
}

TEST_F(StdioTransportTest, MalformedLinesGetErrorsAndTheConnectionGoesOn) {
  StdioTransportOptions options;
  options.max_message_bytes = 256;
  Start(options);
  SendLine("this is not json");
  Json parse_error = Read();
  EXPECT_EQ(parse_error["jsonrpc"], "2.0");
  EXPECT_FALSE(parse_error.contains("id"));
  EXPECT_EQ(parse_error["error"]["code"], -32700);

  SendLine(R"({"jsonrpc":"2.0","id":3,"method":{}})");
  Json invalid = Read();
  EXPECT_EQ(invalid["id"], 3);
  EXPECT_EQ(invalid["error"]["code"], -32600);

  SendLine(R"({"id":4,"method":"ping"})");  // no jsonrpc member
  Json no_version = Read();
  EXPECT_EQ(no_version["id"], 4);
  EXPECT_EQ(no_version["error"]["code"], -32600);

  SendLine(R"({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":")" + std::string(400, 'x') +
           "\"}}");
  Json too_long = Read();
  EXPECT_EQ(too_long["error"]["code"], -32600);

  Request(8, "no/such/method");
  EXPECT_EQ(ReadResponse(8)["error"]["code"], -32601);
  Request(9, "ping");
  EXPECT_TRUE(ReadResponse(9).contains("result"));
}

TEST_F(StdioTransportTest, ASessionInARegistryGetsServerWideNotificationsAndEndsWithTheInput) {
  int in[2];
  int out[2];
  ASSERT_EQ(pipe(in), 0);
  ASSERT_EQ(pipe(out), 0);
  client_write_ = in[1];
  client_read_ = out[0];
  server_read_ = in[0];
  server_write_ = out[1];
  server_ = std::make_unique<McpServer>(McpServerOptions{}, FakeCatalog(log_));
  SessionRegistry sessions;
  StdioTransportOptions options;
  options.sessions = &sessions;
  auto created = StdioTransport::Create(*server_, std::make_shared<TrustedCaller>("tester"),
                                        server_read_, server_write_, options);
  ASSERT_TRUE(created.ok());
  transport_ = std::move(*created);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions.All()[0], transport_->session());
  EXPECT_EQ(transport_->session()->owner(), "tester");
  run_ = std::async(std::launch::async, [this] { return transport_->Run(); });

  server_->NotifyListChanged(sessions, "tools");
  Json note = Read();
  EXPECT_EQ(note["method"], "notifications/tools/list_changed");
  Request(1, "resources/subscribe", {{"uri", "llmux://x"}});
  EXPECT_TRUE(ReadResponse(1).contains("result"));
  server_->NotifyResourceUpdated(sessions, "llmux://x");
  Json updated = Read();
  EXPECT_EQ(updated["method"], "notifications/resources/updated");
  EXPECT_EQ(updated["params"]["uri"], "llmux://x");

  CloseInput();
  ASSERT_EQ(run_.wait_for(3s), std::future_status::ready);
  EXPECT_TRUE(run_.get().ok());
  EXPECT_EQ(sessions.size(), 0u);
  EXPECT_TRUE(transport_->session()->closed());
}

TEST_F(StdioTransportTest, EndOfInputCancelsEverythingInFlightAndReturns) {
  Start();
  CallTool("a", "slow", "ta");
  CallTool("b", "blocking");
  ASSERT_TRUE(
      log_->WaitFor([&] { return log_->slow_started == 1 && log_->blocking_started == 1; }));
  CloseInput();
  ASSERT_EQ(run_.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(run_.get().ok());
  // Both tools were cancelled, not waited for: left alone they finish after 5 s without
  // counting a cancellation. (Causality rather than a time bound a busy machine could miss.)
  EXPECT_TRUE(
      log_->WaitFor([&] { return log_->slow_cancelled == 1 && log_->blocking_cancelled == 1; }));
  EXPECT_TRUE(transport_->session()->closed());
  // Nothing answers the cancelled calls.
  while (auto line = ReadLine(100ms)) {
    Json m = Json::parse(*line);
    EXPECT_FALSE(m.contains("id")) << *line;
  }
}

}  // namespace
}  // namespace llmux::mcp
