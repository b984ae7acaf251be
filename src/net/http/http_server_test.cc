// Routing, keep-alive, error replies and request parsing of HttpServer over real sockets.
#include "net/http/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "net/http/test_client.h"

namespace llmux::http {
namespace {

using boost::asio::awaitable;
using testing::MakeRequest;
using testing::TestClient;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Route("GET", "/hello", [](Request& req, ResponseWriter& w) -> awaitable<void> {
      co_await w.Send(200, "text/plain", "hello path=" + req.path + " query=" + req.query);
    });
    server_.Route("POST", "/echo", [](Request& req, ResponseWriter& w) -> awaitable<void> {
      Headers extra;  // (GCC 12 miscompiles braced initializer lists inside co_await)
      extra.Add("X-Got-Type", std::string(req.headers.Get("content-type").value_or("none")));
      co_await w.Send(201, "application/octet-stream", req.body, std::move(extra));
    });
    server_.Route("PUT", "/echo", [](Request&, ResponseWriter& w) -> awaitable<void> {
      co_await w.Send(200, "text/plain", "put");
    });
    server_.Route("GET", "/peer", [](Request& req, ResponseWriter& w) -> awaitable<void> {
      co_await w.Send(200, "text/plain", req.peer);
    });
    server_.Route("GET", "/throw", [](Request&, ResponseWriter&) -> awaitable<void> {
      throw std::runtime_error("boom");
      co_return;
    });
    server_.Route("GET", "/silent",
                  [](Request&, ResponseWriter&) -> awaitable<void> { co_return; });
    ASSERT_TRUE(server_.Listen("127.0.0.1", 0).ok());
    ASSERT_NE(server_.port(), 0);
    server_.Start();
  }

  std::optional<testing::TestResponse> Roundtrip(const std::string& request) {
    TestClient client(server_.port());
    EXPECT_TRUE(client.connected());
    EXPECT_TRUE(client.Send(request));
    return client.ReadResponse();
  }

  HttpServer server_{HttpServerOptions{.io_threads = 2}};
};

TEST_F(HttpServerTest, RoutesExactPathAndSplitsQuery) {
  auto r = Roundtrip(MakeRequest("GET", "/hello?name=x&y=2"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello path=/hello query=name=x&y=2");
  EXPECT_EQ(r->headers.Get("content-type").value_or(""), "text/plain");
  EXPECT_EQ(r->headers.Get("server").value_or(""), "llmux");

  auto sub = Roundtrip(MakeRequest("GET", "/hello/more"));
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->status, 404);
}

TEST_F(HttpServerTest, PostBodyAndHeadersReachTheHandler) {
  const std::string body = std::string(100000, 'a') + "end";
  auto r = Roundtrip(MakeRequest("POST", "/echo", body, "CONTENT-TYPE: application/json\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, body);
  EXPECT_EQ(r->headers.Get("x-got-type").value_or(""), "application/json");
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  auto missing = Roundtrip(MakeRequest("GET", "/nope"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("/nope"), std::string::npos);

  auto wrong = Roundtrip(MakeRequest("DELETE", "/echo"));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->headers.Get("allow").value_or(""), "POST, PUT");

  auto odd_method = Roundtrip(MakeRequest("BREW", "/hello"));
  ASSERT_TRUE(odd_method);
  EXPECT_EQ(odd_method->status, 405);
}

TEST(HttpServerPrefix, PrefixRoutesServeSubpathsLongestFirstBehindExactRoutes) {
  HttpServer server(HttpServerOptions{.io_threads = 1});
  server.Route("GET", "/app/exact", [](Request&, ResponseWriter& w) -> awaitable<void> {
    co_await w.Send(200, "text/plain", "exact");
  });
  server.RoutePrefix("GET", "/app/", [](Request& req, ResponseWriter& w) -> awaitable<void> {
    co_await w.Send(200, "text/plain", "app " + req.path);
  });
  server.RoutePrefix("GET", "/app/deep/", [](Request& req, ResponseWriter& w) -> awaitable<void> {
    co_await w.Send(200, "text/plain", "deep " + req.path);
  });
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  server.Start();
  auto get = [&](const std::string& method, const std::string& target) {
    TestClient client(server.port());
    EXPECT_TRUE(client.Send(MakeRequest(method, target)));
    return client.ReadResponse();
  };
  auto sub = get("GET", "/app/a/b.js?v=1");
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->body, "app /app/a/b.js");
  auto deep = get("GET", "/app/deep/x");
  ASSERT_TRUE(deep);
  EXPECT_EQ(deep->body, "deep /app/deep/x");
  auto exact = get("GET", "/app/exact");
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->body, "exact");
  auto outside = get("GET", "/apple");
  ASSERT_TRUE(outside);
  EXPECT_EQ(outside->status, 404);
  auto wrong = get("POST", "/app/a");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->headers.Get("allow").value_or(""), "GET");
  server.Shutdown(std::chrono::milliseconds(0));
  server.Wait();
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  TestClient client(server_.port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/peer")));
  auto first = client.ReadResponse();
  ASSERT_TRUE(first);
  ASSERT_TRUE(client.Send(MakeRequest("POST", "/echo", "x")));
  auto second = client.ReadResponse();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 201);
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/peer")));
  auto third = client.ReadResponse();
  ASSERT_TRUE(third);
  EXPECT_EQ(first->body, third->body);  // same peer address and port: one connection
  EXPECT_NE(first->body.find("127.0.0.1:"), std::string::npos);
  EXPECT_EQ(server_.open_connections(), 1u);
}

TEST(HttpServerHead, HeadRepliesCarryNoBody) {
  HttpServer server;
  server.Route("HEAD", "/doc", [](Request&, ResponseWriter& w) -> awaitable<void> {
    co_await w.Send(200, "text/plain", "twelve bytes");
  });
  server.Route("GET", "/doc", [](Request&, ResponseWriter& w) -> awaitable<void> {
    co_await w.Send(200, "text/plain", "body");
  });
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  server.Start();
  TestClient client(server.port());
  ASSERT_TRUE(client.Send(MakeRequest("HEAD", "/doc")));
  auto head = client.ReadHead();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers.Get("content-length").value_or(""), "12");
  ASSERT_TRUE(client.Send(MakeRequest("HEAD", "/missing")));
  auto missing = client.ReadHead();
  ASSERT_TRUE(missing) << client.received();
  EXPECT_EQ(missing->status, 404);
  // Had a body followed either header, this reply would not parse.
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/doc")));
  auto get = client.ReadResponse();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "body");
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  TestClient client(server_.port());
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/hello?a") + MakeRequest("POST", "/echo", "two") +
                          MakeRequest("GET", "/hello?c")));
  auto a = client.ReadResponse();
  auto b = client.ReadResponse();
  auto c = client.ReadResponse();
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->body, "hello path=/hello query=a");
  EXPECT_EQ(b->body, "two");
  EXPECT_EQ(c->body, "hello path=/hello query=c");
}

TEST_F(HttpServerTest, ConnectionCloseAndHttp10CloseAfterTheReply) {
  TestClient closing(server_.port());
  ASSERT_TRUE(closing.Send(MakeRequest("GET", "/hello", "", "Connection: close\r\n")));
  auto r = closing.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(closing.WaitClosed(std::chrono::milliseconds(2000)));

  TestClient old(server_.port());
  ASSERT_TRUE(old.Send("GET /hello HTTP/1.0\r\n\r\n"));
  auto r10 = old.ReadResponse();
  ASSERT_TRUE(r10);
  EXPECT_EQ(r10->status, 200);
  EXPECT_TRUE(old.WaitClosed(std::chrono::milliseconds(2000)));

  TestClient old_keep(server_.port());
  ASSERT_TRUE(old_keep.Send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  ASSERT_TRUE(old_keep.ReadResponse());
  ASSERT_TRUE(old_keep.Send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto again = old_keep.ReadResponse();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST_F(HttpServerTest, ThrowingOrSilentHandlerGives500AndServerKeepsServing) {
  auto thrown = Roundtrip(MakeRequest("GET", "/throw"));
  ASSERT_TRUE(thrown);
  EXPECT_EQ(thrown->status, 500);
  EXPECT_EQ(thrown->body.find("boom"), std::string::npos);  // internals are not leaked

  auto silent = Roundtrip(MakeRequest("GET", "/silent"));
  ASSERT_TRUE(silent);
  EXPECT_EQ(silent->status, 500);

  auto ok = Roundtrip(MakeRequest("GET", "/hello"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpServerTest, MalformedRequestsGet400AndAreClosed) {
  const std::string bad[] = {
      "GARBAGE\r\n\r\n",
      "GET /hello HTTP/9.9\r\n\r\n",
      "GET /hello\r\n\r\n",
      std::string("\x00\x01\x02\xff\r\n\r\n", 8),
      "GET /hello HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
      "POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  };
  for (const auto& request : bad) {
    TestClient client(server_.port());
    ASSERT_TRUE(client.Send(request));
    auto r = client.ReadResponse();
    ASSERT_TRUE(r) << request;
    EXPECT_EQ(r->status, 400) << request;
    EXPECT_TRUE(client.WaitClosed(std::chrono::milliseconds(3000))) << request;
  }
  auto ok = Roundtrip(MakeRequest("GET", "/hello"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpServerTest, ClientClosingEarlyDoesNotDisturbTheServer) {
  for (int i = 0; i < 20; ++i) {
    TestClient client(server_.port());
    client.Send("GET /hel");  // half a request line, then gone
  }
  for (int i = 0; i < 20; ++i) {
    TestClient client(server_.port());
    client.Send(MakeRequest("POST", "/echo", std::string(5000, 'x')).substr(0, 100));
  }
  auto ok = Roundtrip(MakeRequest("GET", "/hello"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST(HttpServerErrors, ErrorFormatterShapesServerErrors) {
  HttpServer server;
  server.SetErrorFormatter([](int status, std::string message) {
    Response r;
    r.status = status;
    r.content_type = "application/json";
    r.body =
        "{\"error\":{\"code\":" + std::to_string(status) + ",\"message\":\"" + message + "\"}}";
    return r;
  });
  server.Route("GET", "/only", [](Request&, ResponseWriter& w) -> awaitable<void> {
    co_await w.Send(200, "text/plain", "ok");
  });
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  server.Start();
  TestClient client(server.port());
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/other")));
  auto r = client.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->headers.Get("Content-Type").value_or(""), "application/json");
  EXPECT_EQ(r->body.rfind("{\"error\":{\"code\":404,\"message\":\"no route for GET /other", 0), 0u)
      << r->body;
  // A 404 does not end the connection.
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/only")));
  auto ok = client.ReadResponse();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

// A front end with its own error shape under a path prefix (the Ollama API under /api/):
// its formatter answers there, the longest prefix wins, and other paths keep the default.
TEST(HttpServerErrors, PrefixFormattersShapeErrorsUnderTheirPath) {
  HttpServerOptions options;
  options.max_body_bytes = 64;
  HttpServer server(options);
  auto shaped = [](std::string tag) {
    return [tag](int status, std::string message) {
      return Response{status, "application/json", "{\"" + tag + "\":\"" + message + "\"}", {}};
    };
  };
  server.SetErrorFormatter(shaped("default"));
  server.SetErrorFormatter("/api/", shaped("api"));
  server.SetErrorFormatter("/api/v2/", shaped("v2"));
  server.Route("POST", "/api/chat", [](Request&, ResponseWriter& w) -> awaitable<void> {
    co_await w.Send(200, "text/plain", "ok");
  });
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  server.Start();
  auto body_of = [&](const std::string& request) -> std::string {
    TestClient client(server.port());
    if (!client.Send(request)) return "not sent";
    auto r = client.ReadResponse();
    return r ? std::to_string(r->status) + " " + r->body : "no reply";
  };
  EXPECT_EQ(body_of(MakeRequest("GET", "/api/pull")).rfind("404 {\"api\":\"no route", 0), 0u);
  EXPECT_EQ(body_of(MakeRequest("GET", "/api/v2/x")).rfind("404 {\"v2\":", 0), 0u);
  EXPECT_EQ(body_of(MakeRequest("GET", "/apix")).rfind("404 {\"default\":", 0), 0u);
  EXPECT_EQ(body_of(MakeRequest("GET", "/api/chat")).rfind("405 {\"api\":", 0), 0u);
  const std::string big = body_of(MakeRequest("POST", "/api/chat?q=1", std::string(100, 'x')));
  EXPECT_EQ(big.rfind("413 {\"api\":", 0), 0u) << big;
  EXPECT_EQ(
      body_of(MakeRequest("POST", "/v1/chat", std::string(100, 'x'))).rfind("413 {\"default\":", 0),
      0u);
}

TEST(HttpServerListen, BadAddressesAreErrorsNotCrashes) {
  HttpServer server;
  EXPECT_FALSE(server.Listen("no-such-host.invalid", 0).ok());
  HttpServer first;
  ASSERT_TRUE(first.Listen("127.0.0.1", 0).ok());
  HttpServer second;
  const Status taken = second.Listen("127.0.0.1", first.port());
  EXPECT_FALSE(taken.ok());
  EXPECT_NE(taken.message().find("bind"), std::string::npos) << taken.ToString();
  EXPECT_FALSE(first.Listen("127.0.0.1", 0).ok());  // already listening
}

TEST(HttpServerListen, LocalhostNameResolves) {
  HttpServer server;
  ASSERT_TRUE(server.Listen("localhost", 0).ok());
  EXPECT_NE(server.port(), 0);
}

}  // namespace
}  // namespace llmux::http
