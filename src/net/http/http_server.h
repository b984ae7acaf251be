// HttpServer: an HTTP/1.1 (and 1.0) server on Boost.Beast + Asio with C++20 coroutines.
// Pure transport: exact-path routing to coroutine handlers, keep-alive, limits on header
// size, body size and read times, a connection cap, streaming replies with disconnect
// detection, and graceful shutdown. It knows nothing about JSON or what it serves.
// With a certificate and key in the options it speaks HTTPS instead (TLS 1.2+), the same
// in every other respect.
//
//   HttpServer server({.io_threads = 4});
//   server.Route("GET", "/health", [](Request& req, ResponseWriter& w) -> awaitable<void> {
//     co_await w.Send(200, "text/plain", "ok\n");
//   });
//   LLMUX_RETURN_IF_ERROR(server.Listen("127.0.0.1", 8080));
//   server.Start();
//   SignalWatcher signals([&](int) { server.Shutdown(std::chrono::seconds(10)); });
//   server.Wait();
//
// Handlers run on the connection's strand (one of the io threads) and must not block: hand
// long work to another thread and co_await its result (AsyncQueue). An exception leaving a
// handler becomes a 500 (or closes the connection if the reply had started). The Handler
// object lives as long as the server, so a coroutine lambda may use its captures.
//
// GCC 12 coroutine pitfalls met while writing this (each crashed or failed to compile):
// inside a co_await expression do not use a conditional operator (`co_await (c ? a() : b())`),
// a braced list argument (`co_await w.Send(200, t, b, {{"K", "v"}})`: build the Headers
// first), or a lambda with non-trivial captures passed by value to asio::async_initiate.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "net/http/http_types.h"
#include "net/http/response_writer.h"

namespace llmux::http {

struct HttpServerOptions {
  size_t max_header_bytes = 16 * 1024;      // request line + header fields; beyond: 431
  size_t max_body_bytes = 8 * 1024 * 1024;  // beyond: 413, then the connection is closed
  // Whole header of one request must arrive within this (a client dripping bytes is cut off
  // with 408).
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{60'000};   // whole body of one request
  std::chrono::milliseconds idle_timeout{30'000};   // keep-alive wait for the next request
  std::chrono::milliseconds write_timeout{60'000};  // one write to a client that stopped reading
  size_t max_connections = 1024;  // open connections beyond this get 503 and are closed
  // One client address's share of max_connections (beyond: 503), so that one client cannot
  // hold every connection. 0: no share.
  size_t max_connections_per_address = 256;
  int io_threads = 2;
  std::string server_name = "llmux";  // the Server header; empty: none
  // HTTPS: PEM files of the certificate (chain, the server's first) and its unencrypted
  // private key. Both empty: plain HTTP; one without the other is an error from Listen.
  // Every connection then starts with a TLS handshake that must end within header_timeout;
  // a failed one (e.g. a plain-HTTP client) just closes that connection.
  std::string tls_cert_file = "";
  std::string tls_key_file = "";
};

using Handler = std::function<boost::asio::awaitable<void>(Request&, ResponseWriter&)>;

// Builds the reply for errors the server produces itself: 400 (malformed request), 404,
// 405, 408, 413, 431, 500, 503. `message` is a short English sentence.
using ErrorFormatter = std::function<Response(int status, std::string message)>;

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options = {});
  // Shuts down (no grace) and joins the io threads if still running.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers `handler` for `method` (e.g. "POST") on exactly `path` ("/v1/models"; the query
  // string is not part of it). A known path with another method gets 405 with Allow. Call
  // before Start.
  void Route(std::string method, std::string path, Handler handler);
  // Registers `handler` for `method` on every path that starts with `path_prefix` ("/console/")
  // and has no exact route; the longest matching prefix wins. The handler must treat the rest
  // of the path as untrusted input. Call before Start.
  void RoutePrefix(std::string method, std::string path_prefix, Handler handler);
  // Replaces the default plain-text error replies. Call before Start.
  void SetErrorFormatter(ErrorFormatter formatter);
  // The same for requests whose path starts with `path_prefix` (a front end with an error
  // shape of its own under one prefix, e.g. "/api/"): the longest matching prefix wins over
  // the formatter above. Errors before a request's path is read use the formatter above.
  void SetErrorFormatter(std::string path_prefix, ErrorFormatter formatter);

  // Binds and listens. `host` is an IP address or a name to resolve ("localhost"); port 0
  // picks a free port (see port()). With TLS options, first loads the certificate and key:
  // an unreadable file, one without a certificate or key, or a key that does not match the
  // certificate is an error naming the file.
  Status Listen(const std::string& host, uint16_t port);
  uint16_t port() const;
  // Whether the server speaks HTTPS (the TLS options were set and Listen succeeded).
  bool tls() const;

  // Starts accepting on options.io_threads threads and returns.
  void Start();
  // Blocks until the server has stopped (after Shutdown) and its threads have ended.
  void Wait();
  // Start() + Wait().
  void Run();

  // Thread-safe, returns at once, idempotent. Stops accepting (new connections are refused),
  // closes idle keep-alive connections, lets requests in flight (streams included) finish for
  // up to `grace`, then cancels handlers and closes every connection; Wait() returns after.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10));

  // Connections currently open (accepted and not yet closed), for tests and metrics.
  size_t open_connections() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

// The default ErrorFormatter: text/plain "<status> <reason>: <message>\n".
Response DefaultErrorResponse(int status, std::string message);

}  // namespace llmux::http
