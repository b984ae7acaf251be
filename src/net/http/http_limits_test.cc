// Limits and timeouts: body and header size, slow clients, idle connections, connection cap.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "net/http/http_server.h"
#include "net/http/test_client.h"

namespace llmux::http {
namespace {

using boost::asio::awaitable;
using std::chrono::milliseconds;
using testing::MakeRequest;
using testing::TestClient;
using Clock = std::chrono::steady_clock;

void AddRoutes(HttpServer& server) {
  server.Route("GET", "/ping", [](Request&, ResponseWriter& w) -> awaitable<void> {
    co_await w.Send(200, "text/plain", "pong");
  });
  server.Route("POST", "/size", [](Request& req, ResponseWriter& w) -> awaitable<void> {
    co_await w.Send(200, "text/plain", std::to_string(req.body.size()));
  });
}

std::unique_ptr<HttpServer> StartServer(HttpServerOptions options) {
  auto server = std::make_unique<HttpServer>(options);
  AddRoutes(*server);
  EXPECT_TRUE(server->Listen("127.0.0.1", 0).ok());
  server->Start();
  return server;
}

int Ping(uint16_t port) {
  TestClient client(port);
  if (!client.Send(MakeRequest("GET", "/ping"))) return -1;
  auto r = client.ReadResponse(milliseconds(10000));  // long only for a busy machine
  return r ? r->status : -1;
}

bool WaitFor(const std::function<bool()>& condition, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return condition();
}

TEST(HttpLimits, BodyOverTheLimitGets413AndServerKeepsServing) {
  auto server = StartServer({.max_body_bytes = 1024});
  {  // exactly at the limit is fine
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(MakeRequest("POST", "/size", std::string(1024, 'a'))));
    auto r = client.ReadResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "1024");
  }
  {  // declared too large: refused before the body is read
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(MakeRequest("POST", "/size", std::string(20 * 1024 * 1024, 'a'))));
    auto r = client.ReadResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_NE(r->headers.Get("Connection").value_or(""), "keep-alive");
    EXPECT_TRUE(client.WaitClosed(milliseconds(3000)));
  }
  {  // chunked body that grows past the limit
    TestClient client(server->port());
    std::string request = "POST /size HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 4; ++i) request += "200\r\n" + std::string(512, 'b') + "\r\n";
    request += "0\r\n\r\n";
    ASSERT_TRUE(client.Send(request));
    auto r = client.ReadResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
  }
  EXPECT_EQ(Ping(server->port()), 200);
}

TEST(HttpLimits, ExpectContinueGetsInterimReplyThenTheAnswer) {
  auto server = StartServer({.max_body_bytes = 1024});
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(
      "POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  ASSERT_FALSE(client.WaitClosed(milliseconds(200)));
  EXPECT_EQ(client.received(), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(client.Send("hello"));
  auto r = client.ReadResponse();  // skips the interim 100
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "5");

  TestClient big(server->port());
  ASSERT_TRUE(big.Send(
      "POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n"));
  auto refused = big.ReadResponse();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 413);
}

TEST(HttpLimits, HeaderOverTheLimitGets431) {
  auto server = StartServer({.max_header_bytes = 1024});
  {
    TestClient client(server->port());
    ASSERT_TRUE(
        client.Send(MakeRequest("GET", "/ping", "", "X-Big: " + std::string(4096, 'h') + "\r\n")));
    auto r = client.ReadResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    EXPECT_TRUE(client.WaitClosed(milliseconds(3000)));
  }
  {  // a huge request line counts too
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(MakeRequest("GET", "/ping?" + std::string(8192, 'q'))));
    auto r = client.ReadResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
  }
  {  // many small fields
    std::string fields;
    for (int i = 0; i < 200; ++i) fields += "X-F" + std::to_string(i) + ": v\r\n";
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(MakeRequest("GET", "/ping", "", fields)));
    auto r = client.ReadResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
  }
  EXPECT_EQ(Ping(server->port()), 200);
}

TEST(HttpLimits, HeaderDrippedSlowlyIsCutOffAtTheHeaderTimeout) {
  auto server = StartServer({.header_timeout = milliseconds(1000)});
  TestClient client(server->port());
  const auto start = Clock::now();
  const std::string request = MakeRequest("GET", "/ping");
  bool closed = false;
  // One byte every 250 ms: each byte arrives well within any per-read timeout, but the
  // whole header (about 10 s of dripping) never would.
  size_t sent = 0;
  for (; sent < request.size() && !closed; ++sent) {
    client.Send(request.substr(sent, 1));
    closed = client.WaitClosed(milliseconds(250));
  }
  const auto elapsed = Clock::now() - start;
  ASSERT_TRUE(closed);
  // Cut off while the header was still coming (a per-read timeout would have let it all in),
  // not before the timeout; a busy machine only makes the cut later, so the upper bound is
  // the dripping itself.
  EXPECT_LT(sent, request.size());
  EXPECT_GE(elapsed, milliseconds(900));
  EXPECT_EQ(client.received().rfind("HTTP/1.1 408 ", 0), 0u) << client.received();
  EXPECT_EQ(Ping(server->port()), 200);
}

TEST(HttpLimits, SilentConnectionIsClosedAtTheHeaderTimeout) {
  auto server = StartServer({.header_timeout = milliseconds(500)});
  TestClient client(server->port());
  const auto start = Clock::now();
  // Closed at all, well before the default header timeout (10 s) would close it.
  ASSERT_TRUE(client.WaitClosed(milliseconds(7000)));
  EXPECT_GE(Clock::now() - start, milliseconds(400));
  EXPECT_TRUE(client.received().empty());  // nothing was asked, nothing is answered
}

TEST(HttpLimits, SlowBodyGets408AtTheBodyTimeout) {
  auto server = StartServer({.body_timeout = milliseconds(500)});
  TestClient client(server->port());
  ASSERT_TRUE(client.Send("POST /size HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"));
  auto r = client.ReadResponse(milliseconds(3000));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
}

TEST(HttpLimits, KeepAliveConnectionIsClosedAfterIdleTimeout) {
  auto server = StartServer({.idle_timeout = milliseconds(300)});
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/ping")));
  ASSERT_TRUE(client.ReadResponse());
  const auto start = Clock::now();
  ASSERT_TRUE(client.WaitClosed(milliseconds(3000)));
  EXPECT_GE(Clock::now() - start, milliseconds(200));
  EXPECT_TRUE(WaitFor([&] { return server->open_connections() == 0; }, milliseconds(1000)));
}

TEST(HttpLimits, FiveHundredIdleConnectionsDoNotBlockOthers) {
  // Both ends of 500 connections live in this process.
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur < 4096 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 4096);
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  auto server = StartServer(
      {.header_timeout = milliseconds(20000), .max_connections_per_address = 0, .io_threads = 2});
  std::vector<std::unique_ptr<TestClient>> idle;
  for (int i = 0; i < 500; ++i) {
    idle.push_back(std::make_unique<TestClient>(server->port()));
    ASSERT_TRUE(idle.back()->connected()) << i;
  }
  ASSERT_TRUE(WaitFor([&] { return server->open_connections() >= 500; }, milliseconds(5000)))
      << server->open_connections();
  // Answered while all 500 still wait for their headers (for up to 20 s): a server that
  // served connections one after another would not answer before those time out.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Ping(server->port()), 200);
  // Half of the idle ones send a request late; they are answered too.
  for (int i = 0; i < 500; i += 2) ASSERT_TRUE(idle[i]->Send(MakeRequest("GET", "/ping")));
  for (int i = 0; i < 500; i += 2) {
    auto r = idle[i]->ReadResponse();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200);
  }
}

TEST(HttpLimits, ConnectionsBeyondTheCapGet503) {
  auto server = StartServer({.max_connections = 4});
  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < 4; ++i) held.push_back(std::make_unique<TestClient>(server->port()));
  ASSERT_TRUE(WaitFor([&] { return server->open_connections() == 4; }, milliseconds(3000)));
  {
    TestClient extra(server->port());
    ASSERT_TRUE(extra.Send(MakeRequest("GET", "/ping")));
    auto r = extra.ReadResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_TRUE(extra.WaitClosed(milliseconds(3000)));
  }
  held[0]->Close();
  ASSERT_TRUE(WaitFor([&] { return server->open_connections() == 3; }, milliseconds(3000)));
  EXPECT_EQ(Ping(server->port()), 200);
  // The held connections still work.
  ASSERT_TRUE(held[1]->Send(MakeRequest("GET", "/ping")));
  auto r = held[1]->ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpLimits, OneAddressHoldsAtMostItsShareOfConnections) {
  auto server = StartServer({.max_connections = 16, .max_connections_per_address = 3});
  std::vector<std::unique_ptr<TestClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<TestClient>(server->port(), "127.0.0.1"));
    ASSERT_TRUE(held.back()->connected());
  }
  ASSERT_TRUE(WaitFor([&] { return server->open_connections() == 3; }, milliseconds(3000)));
  {
    TestClient extra(server->port(), "127.0.0.1");
    ASSERT_TRUE(extra.Send(MakeRequest("GET", "/ping")));
    auto r = extra.ReadResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_NE(r->body.find("this address has too many open connections"), std::string::npos)
        << r->body;
    EXPECT_TRUE(extra.WaitClosed(milliseconds(3000)));
  }
  // Another client address still gets in, up to its own share.
  for (int i = 0; i < 3; ++i) {
    TestClient other(server->port(), "127.0.0.2");
    ASSERT_TRUE(other.connected());
    ASSERT_TRUE(other.Send(MakeRequest("GET", "/ping")));
    auto r = other.ReadResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << i;
  }
  // A connection given back makes room for the same address again (as soon as the server has
  // seen the close: until then the address is still at its share).
  held[0]->Close();
  int status = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        TestClient again(server->port(), "127.0.0.1");
        if (!again.Send(MakeRequest("GET", "/ping"))) return false;
        auto r = again.ReadResponse();
        status = r ? r->status : 0;
        return status == 200;
      },
      milliseconds(5000)))
      << "last status " << status << ", " << server->open_connections() << " open";
}

}  // namespace
}  // namespace llmux::http
