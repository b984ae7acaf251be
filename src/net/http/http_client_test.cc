// The outbound HTTP client against real servers: llmux's own HttpServer over plain HTTP,
// a socket that never answers (deadline), and `openssl s_server` over TLS with a
// certificate made by the test (trusted through ca_file, refused otherwise).
#include "net/http/http_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "net/http/http_server.h"
#include "tests/support/free_port.h"

namespace llmux::http {
namespace {

using boost::asio::awaitable;
namespace fs = std::filesystem;

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Route("GET", "/hello", [](Request& req, ResponseWriter& w) -> awaitable<void> {
      Headers extra;
      extra.Add("X-Seen-Agent", std::string(req.headers.Get("user-agent").value_or("")));
      co_await w.Send(200, "text/plain", "hello " + req.query, std::move(extra));
    });
    server_.Route("POST", "/echo", [](Request& req, ResponseWriter& w) -> awaitable<void> {
      co_await w.Send(201, "application/json", req.body);
    });
    server_.Route("GET", "/big", [](Request&, ResponseWriter& w) -> awaitable<void> {
      co_await w.Send(200, "text/plain", std::string(100000, 'x'));
    });
    // Writes "one", then "two" only once the client has seen "one" (or after 5 s).
    server_.Route("GET", "/lines", [this](Request&, ResponseWriter& w) -> awaitable<void> {
      if (!co_await w.StartStream(200, "application/x-ndjson", {})) co_return;
      std::string line = "one\n";
      co_await w.Write(line);
      boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (!client_saw_one_.load() && std::chrono::steady_clock::now() < give_up) {
        timer.expires_after(std::chrono::milliseconds(10));
        co_await timer.async_wait(boost::asio::use_awaitable);
      }
      server_waited_out_ = !client_saw_one_.load();
      line = "two\n";
      co_await w.Write(line);
      co_await w.EndStream();
    });
    ASSERT_TRUE(server_.Listen("127.0.0.1", 0).ok());
    server_.Start();
    base_ = "http://127.0.0.1:" + std::to_string(server_.port());
  }

  HttpServer server_{HttpServerOptions{.io_threads = 1}};
  std::string base_;
  std::atomic<bool> client_saw_one_{false};
  std::atomic<bool> server_waited_out_{false};
};

TEST_F(HttpClientTest, GetAndPostAgainstARealServer) {
  ClientRequest get;
  get.url = base_ + "/hello?x=1#fragment";
  auto r = Fetch(get);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello x=1");
  EXPECT_EQ(r->headers.Get("x-seen-agent").value_or(""), "llmux");

  ClientRequest post;
  post.method = "POST";
  post.url = base_ + "/echo";
  post.headers.Add("Content-Type", "application/json");
  post.body = R"({"a":1})";
  auto p = Fetch(post);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->status, 201);
  EXPECT_EQ(p->body, post.body);

  // A 404 is an answer, not a transport error.
  ClientRequest missing;
  missing.url = base_ + "/nope";
  auto m = Fetch(missing);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->status, 404);
}

TEST_F(HttpClientTest, ResponseOverTheCapIsRefused) {
  ClientRequest big;
  big.url = base_ + "/big";
  big.max_response_bytes = 1000;
  auto r = Fetch(big);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
  big.max_response_bytes = 200000;
  EXPECT_TRUE(Fetch(big).ok());
}

TEST_F(HttpClientTest, StreamedBodyArrivesPieceByPiece) {
  ClientRequest r;
  r.url = base_ + "/lines";
  std::string seen;
  r.on_body = [&](std::string_view piece) {
    seen += piece;
    if (seen.find("one\n") != std::string::npos) client_saw_one_ = true;
    return true;
  };
  auto got = Fetch(r);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(seen, "one\ntwo\n");
  EXPECT_TRUE(got->body.empty());
  // "two" was only written after the client had "one": it came while the response went on.
  EXPECT_FALSE(server_waited_out_.load());

  // Not 2xx: the body is the response's, as without on_body.
  ClientRequest missing;
  missing.url = base_ + "/nope";
  missing.on_body = [](std::string_view) {
    ADD_FAILURE() << "a 404's body is not streamed";
    return true;
  };
  auto m = Fetch(missing);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->status, 404);
  EXPECT_FALSE(m->body.empty());
}

TEST(HttpClientUrlTest, ParsesAndRefusesUrls) {
  auto u = ParseUrl("https://issuer.example:8443/realms/x?y=1");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "issuer.example");
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->target, "/realms/x?y=1");
  auto plain = ParseUrl("http://[::1]");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->host, "::1");
  EXPECT_EQ(plain->port, "80");
  EXPECT_EQ(plain->target, "/");
  for (const char* bad : {"ftp://x/", "http://", "http://:80/", "http://h:0/", "http://h:99999/",
                          "http://h:8x/", "http://user:pw@h/", "localhost:80"}) {
    EXPECT_EQ(ParseUrl(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

// A listening socket that accepts nothing: connect succeeds, the answer never comes.
TEST(HttpClientDeadlineTest, SilentServerHitsTheDeadline) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ClientRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
  r.timeout = std::chrono::milliseconds(300);
  const auto t0 = std::chrono::steady_clock::now();
  auto res = Fetch(r);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(res.status().code(), StatusCode::kDeadlineExceeded) << res.status().ToString();
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  ::close(fd);

  // Nothing listening at all: refused at once.
  ClientRequest refused;
  refused.url = r.url;
  EXPECT_EQ(Fetch(refused).status().code(), StatusCode::kUnavailable);
}

// `openssl s_server -www` with a certificate for 127.0.0.1 that the test makes itself.
class TlsServer {
 public:
  TlsServer() {
    dir_ = fs::temp_directory_path() / ("llmux_tls_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    cert_ = (dir_ / "cert.pem").string();
    key_ = (dir_ / "key.pem").string();
    const std::string make_cert =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
        "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " + key_ +
        " -out " + cert_ + " >/dev/null 2>&1";
    ok_ = std::system(make_cert.c_str()) == 0;
    port_ = llmux::testing::FreeLoopbackPort();
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string accept = std::to_string(port_);
      ::execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", accept.c_str(),
               "-cert", cert_.c_str(), "-key", key_.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Wait until it accepts connections.
    for (int i = 0; i < 100 && ok_; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(port_));
      const bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
      ::close(fd);
      if (up) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ok_ = false;
  }
  ~TlsServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    fs::remove_all(dir_);
  }
  bool ok() const { return ok_; }
  int port() const { return port_; }
  const std::string& cert() const { return cert_; }

 private:
  fs::path dir_;
  std::string cert_, key_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool ok_ = false;
};

TEST(HttpClientTlsTest, TrustedCertificateWorksUntrustedIsRefused) {
  TlsServer server;
  ASSERT_TRUE(server.ok()) << "could not start openssl s_server";
  ClientRequest r;
  r.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/";
  r.ca_file = server.cert();
  auto ok = Fetch(r);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->status, 200);
  EXPECT_NE(ok->body.find("s_server"), std::string::npos) << ok->body.substr(0, 200);

  // The system store does not know the test's certificate.
  ClientRequest untrusted;
  untrusted.url = r.url;
  auto refused = Fetch(untrusted);
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("TLS handshake"), std::string::npos)
      << refused.status().ToString();
}

}  // namespace
}  // namespace llmux::http
