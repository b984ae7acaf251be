// HttpServer over TLS: the same handlers, streams, keep-alive, disconnect detection, limits
// and graceful shutdown as plain HTTP; plain HTTP or a silent client on the TLS port only
// loses its own connection; bad certificate and key files are errors from Listen.
// Certificates come from a throwaway CA made per run (test_pki.h).
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "net/http/async_queue.h"
#include "net/http/http_client.h"
#include "net/http/http_server.h"
#include "net/http/test_client.h"
#include "net/http/test_pki.h"

namespace llmux::http {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace bhttp = boost::beast::http;
using asio::awaitable;
using boost::system::error_code;
using std::chrono::milliseconds;
using testing::MakeRequest;
using testing::TestClient;
using testing::TestPki;
using Clock = std::chrono::steady_clock;

awaitable<void> Sleep(milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(d);
  co_await timer.async_wait(asio::use_awaitable);
}

// Streams "data: i\n\n" for i < count, `gap` apart.
Handler Ticker(int count, milliseconds gap) {
  return [count, gap](Request&, ResponseWriter& w) -> awaitable<void> {
    if (!co_await w.StartStream(200, "text/event-stream")) co_return;
    for (int i = 0; i < count; ++i) {
      if (i > 0) co_await Sleep(gap);
      if (!co_await w.Write("data: " + std::to_string(i) + "\n\n")) co_return;
    }
    co_await w.EndStream();
  };
}

// A TLS client on Asio whose every step has a deadline (a test never hangs): it keeps one
// connection open across requests, which Fetch does not.
class TlsClient {
 public:
  TlsClient(uint16_t port, const std::string& ca_file)
      : tls_(ssl::context::tls_client), stream_(ioc_, tls_) {
    error_code ec;
    tls_.load_verify_file(ca_file, ec);
    if (ec) return;
    tls_.set_verify_mode(ssl::verify_peer);
    stream_.set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    stream_.next_layer().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    if (ec) return;
    bool done = false;
    stream_.async_handshake(ssl::stream_base::client, [&](const error_code& e) {
      ec = e;
      done = true;
    });
    ok_ = Wait(done) && !ec;
  }

  bool ok() const { return ok_; }

  bool Send(const std::string& data) {
    bool done = false;
    error_code ec;
    asio::async_write(stream_, asio::buffer(data), [&](const error_code& e, size_t) {
      ec = e;
      done = true;
    });
    return Wait(done) && !ec;
  }

  // The status of the next response once its header arrived; 0 on error or timeout.
  int ReadHead() {
    parser_.emplace();
    bool done = false;
    error_code ec;
    bhttp::async_read_header(stream_, buffer_, *parser_, [&](const error_code& e, size_t) {
      ec = e;
      done = true;
    });
    if (!Wait(done) || ec) return 0;
    return static_cast<int>(parser_->get().result_int());
  }
  // Reads the body until it holds `text` (or, with text empty, until the reply is complete).
  bool ReadBodyUntil(const std::string& text = "") {
    while (!parser_->is_done()) {
      if (!text.empty() && body().find(text) != std::string::npos) return true;
      bool done = false;
      error_code ec;
      bhttp::async_read_some(stream_, buffer_, *parser_, [&](const error_code& e, size_t) {
        ec = e;
        done = true;
      });
      if (!Wait(done) || ec) return false;
    }
    return text.empty() || body().find(text) != std::string::npos;
  }
  const std::string& body() const { return parser_->get().body(); }
  std::string header(const std::string& name) const { return std::string(parser_->get()[name]); }

  // True if the server ends the connection (close_notify or TCP close) within `timeout`.
  bool WaitClosed(milliseconds timeout) {
    char byte;
    bool done = false;
    error_code ec;
    stream_.async_read_some(asio::buffer(&byte, 1), [&](const error_code& e, size_t) {
      ec = e;
      done = true;
    });
    return Wait(done, timeout) && ec;
  }

  // Drops the TCP connection without close_notify (a client that just goes away).
  void Close() {
    error_code ec;
    stream_.next_layer().close(ec);
  }

 private:
  // Runs the io_context until `done` or the timeout (then cancels and returns false).
  bool Wait(bool& done, milliseconds timeout = milliseconds(5000)) {
    ioc_.restart();
    ioc_.run_for(timeout);
    if (done) return true;
    error_code ec;
    stream_.next_layer().cancel(ec);
    ioc_.restart();
    ioc_.run_for(milliseconds(1000));
    return false;
  }

  asio::io_context ioc_;
  ssl::context tls_;
  ssl::stream<asio::ip::tcp::socket> stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
  bool ok_ = false;
};

class HttpsServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new TestPki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(pki_->ok()) << pki_->error(); }

  static HttpServerOptions TlsOptions() {
    HttpServerOptions options;
    options.io_threads = 1;
    options.tls_cert_file = pki_->server_cert;
    options.tls_key_file = pki_->server_key;
    return options;
  }

  // A started HTTPS server on 127.0.0.1 with /hello, /sse and whatever `routes` adds.
  void StartServer(HttpServerOptions options,
                   const std::function<void(HttpServer&)>& routes = nullptr) {
    server_ = std::make_unique<HttpServer>(options);
    server_->Route("GET", "/hello", [](Request& req, ResponseWriter& w) -> awaitable<void> {
      co_await w.Send(200, "text/plain", std::string("hello tls=") + (req.tls ? "yes" : "no"));
    });
    server_->Route("POST", "/echo", [](Request& req, ResponseWriter& w) -> awaitable<void> {
      co_await w.Send(200, "text/plain", req.body);
    });
    server_->Route("GET", "/sse", Ticker(3, milliseconds(20)));
    if (routes) routes(*server_);
    const Status listen = server_->Listen("127.0.0.1", 0);
    ASSERT_TRUE(listen.ok()) << listen.ToString();
    server_->Start();
  }

  std::string Url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(server_->port()) + path;
  }
  Result<ClientResponse> Get(const std::string& path) const {
    ClientRequest r;
    r.url = Url(path);
    r.ca_file = pki_->ca_cert;
    r.timeout = milliseconds(5000);
    return Fetch(r);
  }

  static TestPki* pki_;
  std::unique_ptr<HttpServer> server_;
};

TestPki* HttpsServerTest::pki_ = nullptr;

TEST_F(HttpsServerTest, GetOverTlsReachesTheHandlerMarkedAsTls) {
  StartServer(TlsOptions());
  EXPECT_TRUE(server_->tls());
  auto r = Get("/hello");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello tls=yes");

  // The certificate also names localhost.
  ClientRequest by_name;
  by_name.url = "https://localhost:" + std::to_string(server_->port()) + "/hello";
  by_name.ca_file = pki_->ca_cert;
  auto named = Fetch(by_name);
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ(named->body, "hello tls=yes");
}

TEST_F(HttpsServerTest, PlainServerMarksRequestsAsNotTls) {
  HttpServerOptions options;
  options.io_threads = 1;
  server_ = std::make_unique<HttpServer>(options);
  server_->Route("GET", "/hello", [](Request& req, ResponseWriter& w) -> awaitable<void> {
    co_await w.Send(200, "text/plain", std::string("hello tls=") + (req.tls ? "yes" : "no"));
  });
  ASSERT_TRUE(server_->Listen("127.0.0.1", 0).ok());
  server_->Start();
  EXPECT_FALSE(server_->tls());
  ClientRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/hello";
  auto res = Fetch(r);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->body, "hello tls=no");
}

TEST_F(HttpsServerTest, StreamedSseReplyArrivesWhole) {
  StartServer(TlsOptions());
  auto r = Get("/sse");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.Get("content-type").value_or(""), "text/event-stream");
  EXPECT_EQ(r->headers.Get("transfer-encoding").value_or(""), "chunked");
  EXPECT_EQ(r->body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
}

TEST_F(HttpsServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer(TlsOptions());
  TlsClient client(server_->port(), pki_->ca_cert);
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.Send(MakeRequest("POST", "/echo", "body " + std::to_string(i))));
    ASSERT_EQ(client.ReadHead(), 200);
    ASSERT_TRUE(client.ReadBodyUntil());
    EXPECT_EQ(client.body(), "body " + std::to_string(i));
  }
  // A stream, then another request on the same connection.
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/sse")));
  ASSERT_EQ(client.ReadHead(), 200);
  ASSERT_TRUE(client.ReadBodyUntil());
  EXPECT_EQ(client.body(), "data: 0\n\ndata: 1\n\ndata: 2\n\n");
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/hello")));
  ASSERT_EQ(client.ReadHead(), 200);
  ASSERT_TRUE(client.ReadBodyUntil());
  EXPECT_EQ(client.body(), "hello tls=yes");
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(HttpsServerTest, ClientGoneMidStreamIsSeenWhileTheHandlerWaits) {
  std::promise<void> started;
  std::promise<void> disconnect_seen;
  std::promise<bool> handler_done;
  StartServer(TlsOptions(), [&](HttpServer& s) {
    s.Route("GET", "/wait", [&](Request&, ResponseWriter& w) -> awaitable<void> {
      auto queue = std::make_shared<AsyncQueue<std::string>>();
      w.OnDisconnect([&disconnect_seen, queue] {
        disconnect_seen.set_value();
        queue->Close();
      });
      co_await w.StartStream(200, "text/event-stream");
      co_await w.Write("data: first\n\n");
      started.set_value();
      while (auto item = co_await queue->Pop()) co_await w.Write(*item);
      handler_done.set_value(w.disconnected());
    });
  });
  TlsClient client(server_->port(), pki_->ca_cert);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/wait")));
  ASSERT_EQ(client.ReadHead(), 200);
  ASSERT_TRUE(client.ReadBodyUntil("data: first\n\n"));
  started.get_future().wait();
  auto seen = disconnect_seen.get_future();
  EXPECT_EQ(seen.wait_for(milliseconds(50)), std::future_status::timeout);
  client.Close();
  ASSERT_EQ(seen.wait_for(milliseconds(3000)), std::future_status::ready);
  auto done = handler_done.get_future();
  ASSERT_EQ(done.wait_for(milliseconds(3000)), std::future_status::ready);
  EXPECT_TRUE(done.get());
}

TEST_F(HttpsServerTest, PlainHttpOnTheTlsPortIsClosedAndTheServerKeepsServing) {
  StartServer(TlsOptions());
  {
    TestClient plain(server_->port());
    ASSERT_TRUE(plain.connected());
    ASSERT_TRUE(plain.Send(MakeRequest("GET", "/hello")));
    EXPECT_TRUE(plain.WaitClosed(milliseconds(3000)));
    EXPECT_EQ(plain.received().find("HTTP/1."), std::string::npos) << plain.received();
    EXPECT_EQ(plain.received().find("hello"), std::string::npos);
  }
  {  // Garbage that is neither HTTP nor TLS.
    TestClient junk(server_->port());
    ASSERT_TRUE(junk.Send(std::string(300, '\x16')));
    EXPECT_TRUE(junk.WaitClosed(milliseconds(3000)));
  }
  // A client that does not trust the certificate (system store only) fails on its side.
  ClientRequest untrusted;
  untrusted.url = Url("/hello");
  EXPECT_EQ(Fetch(untrusted).status().code(), StatusCode::kUnavailable);

  auto r = Get("/hello");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "hello tls=yes");
}

TEST_F(HttpsServerTest, SilentClientIsCutOffAtTheHeaderTimeout) {
  HttpServerOptions options = TlsOptions();
  options.header_timeout = milliseconds(300);
  StartServer(options);
  TestClient silent(server_->port());
  ASSERT_TRUE(silent.connected());
  const auto t0 = Clock::now();
  // Closed at all, well before the default header timeout (10 s) would close it.
  EXPECT_TRUE(silent.WaitClosed(milliseconds(7000)));
  EXPECT_GE(Clock::now() - t0, milliseconds(200));
  auto r = Get("/hello");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

TEST_F(HttpsServerTest, LimitsApplyOverTls) {
  HttpServerOptions options = TlsOptions();
  options.max_body_bytes = 1000;
  options.max_connections = 1;
  StartServer(options);

  ClientRequest big;
  big.method = "POST";
  big.url = Url("/echo");
  big.ca_file = pki_->ca_cert;
  big.body = std::string(5000, 'x');
  auto r = Fetch(big);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 413);

  // The /echo connection must be gone before the holder connects: while it is still counted,
  // the holder would be the one over the limit and be turned away (a CI run saw that).
  auto deadline = Clock::now() + milliseconds(20000);
  while (server_->open_connections() != 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(server_->open_connections(), 0);
  // One connection held open: the next gets 503 (over TLS, so the client can read it).
  TlsClient holder(server_->port(), pki_->ca_cert);
  ASSERT_TRUE(holder.ok());
  // Generous: a loaded machine may take a while to count it; the test is about the 503 once
  // it is counted.
  deadline = Clock::now() + milliseconds(20000);
  while (server_->open_connections() != 1 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(server_->open_connections(), 1);
  auto busy = Get("/hello");
  ASSERT_TRUE(busy.ok()) << busy.status().ToString();
  EXPECT_EQ(busy->status, 503);
}

TEST_F(HttpsServerTest, GracefulShutdownLetsATlsStreamFinish) {
  StartServer(TlsOptions(),
              [](HttpServer& s) { s.Route("GET", "/slow", Ticker(5, milliseconds(60))); });
  TlsClient client(server_->port(), pki_->ca_cert);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(client.Send(MakeRequest("GET", "/slow")));
  ASSERT_EQ(client.ReadHead(), 200);
  ASSERT_TRUE(client.ReadBodyUntil("data: 0\n\n"));
  server_->Shutdown(milliseconds(5000));
  ASSERT_TRUE(client.ReadBodyUntil());
  EXPECT_EQ(client.body(), "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n");
  EXPECT_TRUE(client.WaitClosed(milliseconds(3000)));
  server_->Wait();
  EXPECT_EQ(server_->open_connections(), 0u);
}

TEST_F(HttpsServerTest, Http10StreamOverTlsEndsWithTheClose) {
  StartServer(TlsOptions());
  TlsClient client(server_->port(), pki_->ca_cert);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(client.Send("GET /sse HTTP/1.0\r\n\r\n"));
  ASSERT_EQ(client.ReadHead(), 200);
  // The body ends at the close; the server's close_notify marks it as complete.
  ASSERT_TRUE(client.ReadBodyUntil());
  EXPECT_EQ(client.body(), "data: 0\n\ndata: 1\n\ndata: 2\n\n");
}

// ---- Listen refuses bad TLS files with a message naming the problem ----

class HttpsListenErrorTest : public HttpsServerTest {
 protected:
  Status ListenWith(const std::string& cert, const std::string& key) {
    HttpServerOptions options;
    options.io_threads = 1;
    options.tls_cert_file = cert;
    options.tls_key_file = key;
    HttpServer server(options);
    Status status = server.Listen("127.0.0.1", 0);
    EXPECT_FALSE(server.tls());
    return status;
  }
};

TEST_F(HttpsListenErrorTest, MissingFilesAreNamed) {
  const std::string missing = pki_->dir() + "/does-not-exist.pem";
  Status s = ListenWith(missing, pki_->server_key);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(missing), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("certificate"), std::string::npos) << s.ToString();

  s = ListenWith(pki_->server_cert, missing);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(missing), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("key"), std::string::npos) << s.ToString();

  s = ListenWith(pki_->dir(), pki_->server_key);  // a directory
  EXPECT_FALSE(s.ok());
}

TEST_F(HttpsListenErrorTest, OnlyOneOfCertAndKeyIsRefused) {
  Status s = ListenWith(pki_->server_cert, "");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  s = ListenWith("", pki_->server_key);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
}

TEST_F(HttpsListenErrorTest, FilesWithTheWrongContentAreRefused) {
  const std::string junk = pki_->Write("junk.pem", "this is not PEM\n");
  Status s = ListenWith(junk, pki_->server_key);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("no PEM certificate"), std::string::npos) << s.ToString();

  // Certificate and key swapped.
  s = ListenWith(pki_->server_key, pki_->server_cert);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();

  s = ListenWith(pki_->server_cert, junk);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("private key"), std::string::npos) << s.ToString();

  const std::string empty = pki_->Write("empty.pem", "");
  s = ListenWith(empty, pki_->server_key);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("empty"), std::string::npos) << s.ToString();
}

TEST_F(HttpsListenErrorTest, KeyOfAnotherCertificateIsRefused) {
  Status s = ListenWith(pki_->server_cert, pki_->client_key);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("does not match"), std::string::npos) << s.ToString();
}

TEST_F(HttpsListenErrorTest, EncryptedKeyIsRefusedWithoutPrompting) {
  const std::string encrypted = pki_->dir() + "/encrypted.key";
  const std::string command = "openssl pkey -in " + pki_->server_key +
                              " -aes256 -passout pass:x -out " + encrypted + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0);
  Status s = ListenWith(pki_->server_cert, encrypted);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("encrypted"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace llmux::http
