#include "net/http/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "net/http/connection.h"
#include "net/http/server_context.h"
#include "net/http/server_tls.h"

namespace llmux::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// After the grace period, aborted connections get this long to unwind before the io
// threads are stopped regardless.
constexpr auto kAbortWait = std::chrono::seconds(1);
constexpr auto kShutdownPoll = std::chrono::milliseconds(10);
}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(HttpServerOptions options)
      : ctx(std::make_shared<ServerContext>(std::move(options))),
        ioc(std::max(1, ctx->options.io_threads)),
        acceptor(asio::make_strand(ioc)) {}

  Status Listen(const std::string& host, uint16_t port);
  void Start();
  void Wait();
  void Shutdown(std::chrono::milliseconds grace);

  std::shared_ptr<ServerContext> ctx;
  asio::io_context ioc;
  tcp::acceptor acceptor;  // its executor is a strand: accept loop and shutdown run there
  uint16_t bound_port = 0;

 private:
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> ShutdownSequence(std::chrono::milliseconds grace);
  asio::awaitable<void> WaitForConnections(Clock::time_point deadline);
  void RunIoThread();

  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::atomic<bool> started_{false};
  std::atomic<bool> shutdown_started_{false};
  std::mutex threads_mu_;
  std::vector<std::thread> threads_;
};

Status HttpServer::Impl::Listen(const std::string& host, uint16_t port) {
  if (acceptor.is_open()) return InvalidArgumentError("the HTTP server is already listening");
  if (started_.load()) return InvalidArgumentError("Listen must come before Start");
  const HttpServerOptions& options = ctx->options;
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return InvalidArgumentError(
        "HTTPS needs both a certificate file and a private key file (only one was given)");
  }
  if (!options.tls_cert_file.empty()) {
    LLMUX_ASSIGN_OR_RETURN(ctx->tls,
                           MakeServerTlsContext(options.tls_cert_file, options.tls_key_file));
  }
  error_code ec;
  tcp::endpoint endpoint;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, port);
  } else {
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return InvalidArgumentError("cannot resolve host '" + host +
                                  "': " + (ec ? ec.message() : "no addresses"));
    }
    endpoint = results.begin()->endpoint();
  }
  const std::string where = host + ":" + std::to_string(port);
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return IoError("cannot open a socket for " + where + ": " + ec.message());
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  acceptor.bind(endpoint, ec);
  if (ec) {
    error_code ignored;
    acceptor.close(ignored);
    return IoError("cannot bind " + where + ": " + ec.message());
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acceptor.close(ignored);
    return IoError("cannot listen on " + where + ": " + ec.message());
  }
  bound_port = acceptor.local_endpoint(ec).port();
  return Status::Ok();
}

void HttpServer::Impl::Start() {
  if (shutdown_started_.load() || started_.exchange(true)) return;
  work_.emplace(asio::make_work_guard(ioc));
  if (acceptor.is_open()) {
    asio::co_spawn(acceptor.get_executor(), AcceptLoop(), asio::detached);
  } else {
    spdlog::warn("http: server started without Listen; it accepts nothing");
  }
  std::lock_guard lock(threads_mu_);
  for (int i = 0; i < std::max(1, ctx->options.io_threads); ++i) {
    threads_.emplace_back([this] { RunIoThread(); });
  }
}

void HttpServer::Impl::RunIoThread() {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("http: exception escaped to the io loop: {}", e.what());
    } catch (...) {
      spdlog::error("http: exception escaped to the io loop");
    }
  }
}

void HttpServer::Impl::Wait() {
  std::lock_guard lock(threads_mu_);
  for (auto& t : threads_) {
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  }
}

void HttpServer::Impl::Shutdown(std::chrono::milliseconds grace) {
  if (shutdown_started_.exchange(true)) return;
  ctx->shutting_down.store(true);
  if (!started_.load()) {
    error_code ec;
    acceptor.close(ec);
    return;
  }
  asio::co_spawn(acceptor.get_executor(), ShutdownSequence(grace), asio::detached);
}

asio::awaitable<void> HttpServer::Impl::AcceptLoop() {
  asio::steady_timer backoff(acceptor.get_executor());
  for (;;) {
    asio::any_io_executor strand = asio::make_strand(ioc);
    auto [ec, socket] = co_await acceptor.async_accept(strand, kUseTuple);
    if (ctx->shutting_down.load() || !acceptor.is_open()) co_return;  // drops `socket`
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      // E.g. out of file descriptors: wait a little instead of spinning.
      spdlog::warn("http: accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kUseTuple);
      continue;
    }
    error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    std::string address = peer_ec ? std::string() : peer.address().to_string();
    const size_t per_address = ctx->options.max_connections_per_address;
    if (ctx->open_connections() >= ctx->options.max_connections) {
      RejectConnection(std::move(socket), ctx, "the server has too many open connections");
    } else if (per_address > 0 && ctx->connections_from(address) >= per_address) {
      RejectConnection(std::move(socket), ctx,
                       "this address has too many open connections (its share is " +
                           std::to_string(per_address) + ")");
    } else {
      StartConnection(std::move(socket), ctx, std::move(address));
    }
  }
}

asio::awaitable<void> HttpServer::Impl::WaitForConnections(Clock::time_point deadline) {
  asio::steady_timer timer(acceptor.get_executor());
  while (ctx->open_connections() > 0 && Clock::now() < deadline) {
    timer.expires_after(std::min<Clock::duration>(kShutdownPoll, deadline - Clock::now()));
    co_await timer.async_wait(kUseTuple);
  }
}

asio::awaitable<void> HttpServer::Impl::ShutdownSequence(std::chrono::milliseconds grace) {
  error_code ec;
  acceptor.close(ec);
  for (const auto& connection : ctx->Snapshot()) connection->CloseIfIdle();
  co_await WaitForConnections(Clock::now() + grace);
  if (const size_t open = ctx->open_connections(); open > 0) {
    if (grace.count() > 0) {
      spdlog::info("http: aborting {} connection(s) still busy after the grace period", open);
    }
    for (const auto& connection : ctx->Snapshot()) connection->Abort();
    co_await WaitForConnections(Clock::now() + kAbortWait);
  }
  work_.reset();
  ioc.stop();
}

// ---- HttpServer ----

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_shared<Impl>(std::move(options))) {}

HttpServer::~HttpServer() {
  impl_->Shutdown(std::chrono::milliseconds(0));
  impl_->Wait();
}

void HttpServer::Route(std::string method, std::string path, Handler handler) {
  auto& methods = impl_->ctx->routes[std::move(path)];
  for (auto& [m, h] : methods) {
    if (m == method) {
      h = std::move(handler);
      return;
    }
  }
  methods.emplace_back(std::move(method), std::move(handler));
}

void HttpServer::RoutePrefix(std::string method, std::string path_prefix, Handler handler) {
  impl_->ctx->prefix_routes.emplace_back(std::move(path_prefix), std::move(method),
                                         std::move(handler));
}

void HttpServer::SetErrorFormatter(ErrorFormatter formatter) {
  impl_->ctx->error_formatter = std::move(formatter);
}

void HttpServer::SetErrorFormatter(std::string path_prefix, ErrorFormatter formatter) {
  impl_->ctx->prefix_error_formatters.emplace_back(std::move(path_prefix), std::move(formatter));
}

Status HttpServer::Listen(const std::string& host, uint16_t port) {
  return impl_->Listen(host, port);
}

uint16_t HttpServer::port() const { return impl_->bound_port; }
bool HttpServer::tls() const { return impl_->ctx->tls != nullptr; }

void HttpServer::Start() { impl_->Start(); }
void HttpServer::Wait() { impl_->Wait(); }
void HttpServer::Run() {
  impl_->Start();
  impl_->Wait();
}

void HttpServer::Shutdown(std::chrono::milliseconds grace) { impl_->Shutdown(grace); }

size_t HttpServer::open_connections() const { return impl_->ctx->open_connections(); }

Response DefaultErrorResponse(int status, std::string message) {
  Response response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.body = std::to_string(status) + " " + std::string(StatusReason(status)) + ": " +
                  std::move(message) + "\n";
  return response;
}

}  // namespace llmux::http
