// Streamed replies: incremental chunks, disconnect detection while the handler waits, and
// graceful shutdown with streams in flight.
#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "net/http/async_queue.h"
#include "net/http/http_server.h"
#include "net/http/test_client.h"

namespace llmux::http {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using std::chrono::milliseconds;
using testing::MakeRequest;
using testing::TestClient;
using Clock = std::chrono::steady_clock;

awaitable<void> Sleep(milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(d);
  co_await timer.async_wait(asio::use_awaitable);
}

// Streams "data: i\n\n" for i < count, `gap` apart.
Handler Ticker(int count, milliseconds gap) {
  return [count, gap](Request&, ResponseWriter& w) -> awaitable<void> {
    Headers extra;  // (GCC 12 miscompiles braced initializer lists inside co_await)
    extra.Add("Cache-Control", "no-cache");
    if (!co_await w.StartStream(200, "text/event-stream", std::move(extra))) {
      co_return;
    }
    for (int i = 0; i < count; ++i) {
      if (i > 0) co_await Sleep(gap);
      if (!co_await w.Write("data: " + std::to_string(i) + "\n\n")) co_return;
    }
    co_await w.EndStream();
  };
}

// What a waiting handler saw, reported to the test thread.
struct Probe {
  std::promise<void> handler_started;
  std::promise<Clock::time_point> disconnect_seen;
  std::promise<bool> handler_done;  // value: writer.disconnected() at the end
};

// Waits on a queue that only the disconnect callback closes (like a handler waiting for
// the engine's first token); optionally starts the stream first.
Handler Waiter(std::shared_ptr<Probe> probe, bool start_stream) {
  return [probe, start_stream](Request&, ResponseWriter& w) -> awaitable<void> {
    auto queue = std::make_shared<AsyncQueue<std::string>>();
    w.OnDisconnect([probe, queue] {
      probe->disconnect_seen.set_value(Clock::now());
      queue->Close();
    });
    if (start_stream) co_await w.StartStream(200, "text/event-stream");
    probe->handler_started.set_value();
    while (auto item = co_await queue->Pop()) co_await w.Write(*item);
    probe->handler_done.set_value(w.disconnected());
  };
}

std::unique_ptr<HttpServer> StartServer(HttpServerOptions options,
                                        const std::function<void(HttpServer&)>& routes) {
  auto server = std::make_unique<HttpServer>(options);
  routes(*server);
  server->Route("GET", "/ping", [](Request&, ResponseWriter& w) -> awaitable<void> {
    co_await w.Send(200, "text/plain", "pong");
  });
  EXPECT_TRUE(server->Listen("127.0.0.1", 0).ok());
  server->Start();
  return server;
}

// Streams "data: i\n\n" for i < count, writing event i + 1 only after the test pushed to
// `acks` (once it has read event i).
Handler Lockstep(int count, std::shared_ptr<AsyncQueue<int>> acks) {
  return [count, acks](Request&, ResponseWriter& w) -> awaitable<void> {
    Headers extra;  // (GCC 12 miscompiles braced initializer lists inside co_await)
    extra.Add("Cache-Control", "no-cache");
    if (!co_await w.StartStream(200, "text/event-stream", std::move(extra))) co_return;
    for (int i = 0; i < count; ++i) {
      if (i > 0 && !co_await acks->Pop()) co_return;
      if (!co_await w.Write("data: " + std::to_string(i) + "\n\n")) co_return;
    }
    co_await w.EndStream();
  };
}

// A kept-alive connection lets the finished request's disconnect callback go at once, not
// when its next request comes: what the callback holds (at the gateway, through the request
// handle, the caller's call slot) would otherwise stay held while the connection idles.
TEST(HttpStream, AFinishedRequestLetsItsDisconnectCallbackGo) {
  std::mutex mu;
  std::weak_ptr<int> held;
  auto server = StartServer({}, [&](HttpServer& s) {
    s.Route("GET", "/hold", [&](Request&, ResponseWriter& w) -> awaitable<void> {
      auto resource = std::make_shared<int>(1);
      {
        std::lock_guard lock(mu);
        held = resource;
      }
      w.OnDisconnect([resource] {});
      co_await w.Send(200, "text/plain", "ok");
    });
  });
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/hold")));
  auto r = client.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  bool released = false;
  for (int i = 0; i < 500 && !released; ++i) {
    {
      std::lock_guard lock(mu);
      released = held.expired();
    }
    if (!released) std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(released) << "the idle connection still holds the finished request's callback";
  // The connection was kept alive and serves the next request.
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/ping")));
  auto again = client.ReadResponse();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, "pong");
}

TEST(HttpStream, ChunksArriveAsTheyAreWritten) {
  // Each event is flushed when written, not buffered until the end of the stream: the
  // handler writes event i + 1 only after the client has received event i, so a server that
  // held events back would leave the client waiting (ReadChunk times out). Causality, not
  // timing, so a busy machine cannot fail it.
  auto acks = std::make_shared<AsyncQueue<int>>();
  auto server = StartServer({}, [&](HttpServer& s) { s.Route("GET", "/sse", Lockstep(3, acks)); });
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/sse")));
  auto head = client.ReadHead();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers.Get("transfer-encoding").value_or(""), "chunked");
  EXPECT_EQ(head->headers.Get("content-type").value_or(""), "text/event-stream");
  EXPECT_EQ(head->headers.Get("cache-control").value_or(""), "no-cache");
  for (int i = 0; i < 3; ++i) {
    auto chunk = client.ReadChunk(milliseconds(10000));
    ASSERT_TRUE(chunk) << "event " << i << " was not sent before the next one was produced";
    EXPECT_EQ(*chunk, "data: " + std::to_string(i) + "\n\n");
    acks->Push(i);
  }
  auto last = client.ReadChunk();
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, "");
  // The connection is reusable after the stream.
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/ping")));
  auto r = client.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "pong");
}

TEST(HttpStream, Http10StreamIsDelimitedByClose) {
  auto server =
      StartServer({}, [](HttpServer& s) { s.Route("GET", "/sse", Ticker(3, milliseconds(10))); });
  TestClient client(server->port());
  ASSERT_TRUE(client.Send("GET /sse HTTP/1.0\r\n\r\n"));
  auto r = client.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->headers.Has("transfer-encoding"));
  EXPECT_EQ(r->body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
}

TEST(HttpStream, ClientCloseMidStreamIsSeenWhileTheHandlerOnlyWaits) {
  auto probe = std::make_shared<Probe>();
  auto server =
      StartServer({}, [&](HttpServer& s) { s.Route("GET", "/wait", Waiter(probe, true)); });
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/wait")));
  auto head = client.ReadHead();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  probe->handler_started.get_future().wait();
  std::this_thread::sleep_for(milliseconds(50));  // the handler sits in Pop
  auto seen = probe->disconnect_seen.get_future();
  EXPECT_EQ(seen.wait_for(milliseconds(0)), std::future_status::timeout);
  client.Close();
  // The handler never writes, so only the server watching the socket while the handler
  // waits can see the close (a server that noticed it on the next write would never call
  // the callback). The bound is for a busy machine, not a latency target.
  ASSERT_EQ(seen.wait_for(milliseconds(10000)), std::future_status::ready);
  auto done = probe->handler_done.get_future();
  ASSERT_EQ(done.wait_for(milliseconds(10000)), std::future_status::ready);
  EXPECT_TRUE(done.get());
  const auto deadline = Clock::now() + milliseconds(10000);
  while (server->open_connections() != 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(server->open_connections(), 0u);
}

TEST(HttpStream, ClientCloseBeforeAnyReplyIsSeen) {
  auto probe = std::make_shared<Probe>();
  auto server =
      StartServer({}, [&](HttpServer& s) { s.Route("POST", "/wait", Waiter(probe, false)); });
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(MakeRequest("POST", "/wait", "{}")));
  probe->handler_started.get_future().wait();
  client.Close();
  // As above: nothing but the disconnect watch ends this handler, which never writes.
  auto seen = probe->disconnect_seen.get_future();
  ASSERT_EQ(seen.wait_for(milliseconds(10000)), std::future_status::ready);
  auto done = probe->handler_done.get_future();
  ASSERT_EQ(done.wait_for(milliseconds(10000)), std::future_status::ready);
  EXPECT_TRUE(done.get());
}

TEST(HttpStream, WriteReportsFalseOnceTheClientIsGone) {
  std::promise<int> writes_after_close;
  auto server = StartServer({}, [&](HttpServer& s) {
    s.Route("GET", "/flood", [&writes_after_close](Request&, ResponseWriter& w) -> awaitable<void> {
      co_await w.StartStream(200, "text/plain");
      int n = 0;
      while (co_await w.Write("tick\n")) {
        ++n;
        co_await Sleep(milliseconds(5));
      }
      EXPECT_TRUE(w.disconnected());
      EXPECT_FALSE(co_await w.Write("more"));
      EXPECT_FALSE(co_await w.Send(200, "text/plain", "late"));
      writes_after_close.set_value(n);
    });
  });
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/flood")));
  ASSERT_TRUE(client.ReadHead());
  ASSERT_TRUE(client.ReadChunk());
  client.Close();
  auto f = writes_after_close.get_future();
  ASSERT_EQ(f.wait_for(milliseconds(10000)), std::future_status::ready);
  EXPECT_GE(f.get(), 1);
}

TEST(HttpStream, ProducerOnAnotherThreadFeedsTheStream) {
  auto server = StartServer({}, [](HttpServer& s) {
    s.Route("GET", "/produce", [](Request&, ResponseWriter& w) -> awaitable<void> {
      auto queue = std::make_shared<AsyncQueue<std::string>>();
      std::thread producer([queue] {
        for (int i = 0; i < 200; ++i) {
          queue->Push(std::to_string(i) + "\n");
          if (i % 50 == 0) std::this_thread::sleep_for(milliseconds(2));
        }
        queue->Close();
      });
      producer.detach();
      co_await w.StartStream(200, "text/plain");
      while (auto item = co_await queue->Pop()) co_await w.Write(*item);
    });  // the stream is ended for the handler
  });
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/produce")));
  auto r = client.ReadResponse();
  ASSERT_TRUE(r);
  std::string expected;
  for (int i = 0; i < 200; ++i) expected += std::to_string(i) + "\n";
  EXPECT_EQ(r->body, expected);
}

TEST(HttpStream, GracefulShutdownLetsOpenStreamsFinishAndRefusesNewConnections) {
  auto server =
      StartServer({}, [](HttpServer& s) { s.Route("GET", "/sse", Ticker(5, milliseconds(100))); });
  TestClient idle(server->port());  // a keep-alive connection between requests
  ASSERT_TRUE(idle.Send(MakeRequest("GET", "/ping")));
  ASSERT_TRUE(idle.ReadResponse());

  TestClient streaming(server->port());
  ASSERT_TRUE(streaming.Send(MakeRequest("GET", "/sse")));
  ASSERT_TRUE(streaming.ReadHead());
  ASSERT_EQ(streaming.ReadChunk().value_or("?"), "data: 0\n\n");

  // A grace far longer than the stream needs (4 events 100 ms apart), so that "did not wait
  // for the grace" holds with room to spare on a busy machine.
  const auto grace = milliseconds(60000);
  const auto start = Clock::now();
  server->Shutdown(grace);
  EXPECT_TRUE(idle.WaitClosed(grace / 4));  // idle connections go at once, not at the grace
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    TestClient late(server->port());
    refused = !late.connected() || (late.Send(MakeRequest("GET", "/ping")) &&
                                    late.WaitClosed(milliseconds(500)) && late.received().empty());
    if (!refused) std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(refused);

  for (int i = 1; i < 5; ++i) {
    EXPECT_EQ(streaming.ReadChunk().value_or("?"), "data: " + std::to_string(i) + "\n\n");
  }
  EXPECT_EQ(streaming.ReadChunk().value_or("?"), "");
  EXPECT_TRUE(streaming.WaitClosed(grace / 4));
  server->Wait();
  EXPECT_LT(Clock::now() - start, grace / 2);  // did not sit out the whole grace
}

TEST(HttpStream, ShutdownCancelsHandlersStillRunningAfterTheGrace) {
  auto probe = std::make_shared<Probe>();
  auto queue = std::make_shared<AsyncQueue<std::string>>();  // never closed by anyone
  auto server = StartServer({}, [&](HttpServer& s) {
    s.Route("GET", "/stuck", [probe, queue](Request&, ResponseWriter& w) -> awaitable<void> {
      co_await w.StartStream(200, "text/event-stream");
      probe->handler_started.set_value();
      auto item = co_await queue->Pop();  // returns nullopt when cancelled
      probe->handler_done.set_value(!item.has_value());
    });
  });
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/stuck")));
  probe->handler_started.get_future().wait();
  const auto start = Clock::now();
  server->Shutdown(milliseconds(300));
  server->Wait();
  const auto took = Clock::now() - start;
  // Not cancelled before the grace (a busy machine only makes this longer); cancelled at
  // all (the handler waits on a queue nobody closes, so without the cancellation Wait
  // would never return; the upper bound only keeps a regression from hanging quietly).
  EXPECT_GE(took, milliseconds(250));
  EXPECT_LT(took, milliseconds(30000));
  auto done = probe->handler_done.get_future();
  ASSERT_EQ(done.wait_for(milliseconds(0)), std::future_status::ready);
  EXPECT_TRUE(done.get());
  EXPECT_TRUE(client.WaitClosed(milliseconds(1000)));
}

}  // namespace
}  // namespace llmux::http
