// One HTTP connection, over TCP or TLS (server_stream.h): a TLS handshake first when the
// server has a certificate, then read a request (with size and time limits), run its
// handler, write the reply, repeat while keep-alive. While a handler runs, a second
// coroutine reads the socket so that a client closing the connection is noticed at once
// (OnDisconnect), even when the handler is only waiting.
#include "net/http/connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <limits>
#include <tuple>

#include "net/http/server_stream.h"

namespace llmux::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;
using WriteOp = asio::awaitable<std::tuple<error_code, size_t>>;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 8192;
// Bytes a client may send ahead (pipelining) while its request is handled; past this the
// disconnect watcher stops reading.
constexpr size_t kMaxReadAhead = 64 * 1024;
// After an error reply the rest of the request is read and dropped for a moment, so that
// closing does not reset the connection before the client has read the reply.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr size_t kLingerMaxBytes = 64 * 1024 * 1024;
constexpr auto kErrorWriteTimeout = std::chrono::seconds(2);
constexpr size_t kMaxRejecting = 256;  // 503 replies in flight; beyond, just close
// How long a closing TLS connection waits for the client's close_notify.
constexpr auto kCloseNotifyTimeout = std::chrono::milliseconds(500);

std::string FormatEndpoint(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  const std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return host + ":" + std::to_string(ep.port());
}

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Extra header fields from handlers: skip what would break framing or inject lines.
bool IsAcceptableField(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsTokenChar(c)) return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return !EqualsIgnoreCase(name, "Content-Length") &&
         !EqualsIgnoreCase(name, "Transfer-Encoding") && !EqualsIgnoreCase(name, "Connection");
}

std::string Truncate(std::string_view s, size_t n) {
  return s.size() <= n ? std::string(s) : std::string(s.substr(0, n)) + "...";
}

enum class TimeoutAction { kCancel, kClose };
enum class Phase { kIdle, kReading, kHandling, kClosed };

class ConnectionImpl final : public Connection,
                             public ResponseWriter,
                             public std::enable_shared_from_this<ConnectionImpl> {
 public:
  using ResponseWriter::Send;

  ConnectionImpl(tcp::socket socket, std::shared_ptr<ServerContext> ctx)
      : stream_(std::move(socket), ctx->tls.get()),
        ctx_(std::move(ctx)),
        timer_(stream_.get_executor()),
        watcher_done_(stream_.get_executor()),
        accepted_at_(Clock::now()) {
    error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = FormatEndpoint(ep);
    // Streamed tokens should not wait for Nagle.
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }
  asio::cancellation_slot cancel_slot() { return cancel_.slot(); }
  // Called on the strand when Run has completed; Abort no longer emits into it.
  void MarkFinished() { finished_ = true; }

  asio::awaitable<void> Run();
  asio::awaitable<void> Reject(std::string why);

  // Connection
  void CloseIfIdle() override {
    asio::post(executor(), [self = shared_from_this()] {
      if (self->phase_ == Phase::kIdle) self->CancelSocket();
    });
  }
  void Abort() override {
    asio::post(executor(), [self = shared_from_this()] {
      self->aborted_ = true;
      self->MarkDisconnected();
      if (!self->finished_) self->cancel_.emit(asio::cancellation_type::terminal);
      self->CloseSocket();
    });
  }

  // ResponseWriter
  asio::awaitable<bool> Send(Response response) override;
  asio::awaitable<bool> StartStream(int status, std::string content_type, Headers extra) override;
  asio::awaitable<bool> Write(std::string_view data) override;
  asio::awaitable<bool> EndStream() override;
  bool disconnected() const override { return disconnected_.load(); }
  void OnDisconnect(std::function<void()> callback) override {
    if (disconnected_.load()) {
      if (callback) callback();
      return;
    }
    on_disconnect_ = std::move(callback);
  }
  bool started() const override { return started_; }

 private:
  // TLS only: the handshake (within the header timeout); false closes the connection.
  asio::awaitable<bool> Handshake();
  // TLS only: sends close_notify and waits briefly for the client's, so that a reply whose
  // end is the close (HTTP/1.0 streams) cannot be cut short unnoticed.
  asio::awaitable<void> SendCloseNotify();
  asio::awaitable<void> Handle(Request& request);
  asio::awaitable<void> OnReadError(const error_code& ec, bool header_done);
  asio::awaitable<void> ReplyErrorAndClose(int status, std::string message, bool linger);
  asio::awaitable<void> LingeringClose();
  asio::awaitable<bool> TimedWrite(WriteOp op);

  template <typename Body>
  void FillHead(bhttp::response<Body>& res, int status, std::string_view content_type,
                const Headers& extra);
  Request MakeRequest(bhttp::request<bhttp::string_body>&& msg) const;

  // The disconnect watcher, running while a handler does.
  void StartWatcher();
  asio::awaitable<void> Watch();
  asio::awaitable<void> StopWatcher();
  void MarkDisconnected();

  void ArmTimer(Clock::time_point deadline, TimeoutAction action);
  void DisarmTimer() {
    ++timer_gen_;
    timer_.cancel();
  }
  void CancelSocket() {
    error_code ec;
    stream_.socket().cancel(ec);
  }
  // A deadline passed while reading: cancelling alone is not enough, because a composed read
  // (Beast's async_read_header) between two of its reads has nothing pending to cancel and
  // would then wait on. Shutting the receive side makes every later read end at once, and the
  // reply can still be written.
  void StopReading() {
    CancelSocket();
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_receive, ec);
  }
  void CloseSocket() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  ServerStream stream_;  // plain TCP or TLS; declared first (the constructor reads ctx)
  std::shared_ptr<ServerContext> ctx_;
  boost::beast::flat_buffer buffer_;
  std::string peer_;
  asio::steady_timer timer_;  // the one read/write deadline in force
  uint64_t timer_gen_ = 0;
  bool timed_out_ = false;
  asio::steady_timer watcher_done_;  // woken when the watcher ends
  bool watcher_running_ = false;
  bool watcher_stopping_ = false;
  asio::cancellation_signal cancel_;  // bound to Run(); emitted by Abort
  const Clock::time_point accepted_at_;
  Phase phase_ = Phase::kIdle;
  bool aborted_ = false;
  bool finished_ = false;

  // Per-request reply state.
  int version_ = 11;
  bool keep_alive_ = false;
  std::string path_;  // of the request being read or handled, once its header is in; for errors
  bool close_after_reply_ = false;
  bool started_ = false;
  bool streaming_ = false;
  bool chunked_ = false;
  bool stream_ended_ = false;
  bool head_request_ = false;  // HEAD: replies carry the header only
  std::atomic<bool> disconnected_{false};
  std::function<void()> on_disconnect_;
};

void ConnectionImpl::ArmTimer(Clock::time_point deadline, TimeoutAction action) {
  timed_out_ = false;
  const uint64_t gen = ++timer_gen_;
  timer_.expires_at(deadline);
  timer_.async_wait([self = shared_from_this(), gen, action](const error_code& ec) {
    if (ec || gen != self->timer_gen_) return;
    self->timed_out_ = true;
    if (action == TimeoutAction::kClose) {
      self->CloseSocket();
    } else {
      self->StopReading();
    }
  });
}

asio::awaitable<bool> ConnectionImpl::Handshake() {
  phase_ = Phase::kIdle;  // a shutdown may cut it short
  ArmTimer(accepted_at_ + ctx_->options.header_timeout, TimeoutAction::kClose);
  auto [ec] = co_await stream_.tls().async_handshake(asio::ssl::stream_base::server, kUseTuple);
  DisarmTimer();
  if (ec) {
    // Plain HTTP on the TLS port, a scanner, a client that distrusts the certificate: routine.
    spdlog::debug("http: TLS handshake with {} failed: {}", peer_,
                  timed_out_ ? "timed out" : ec.message());
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> ConnectionImpl::SendCloseNotify() {
  ArmTimer(Clock::now() + kCloseNotifyTimeout, TimeoutAction::kClose);
  co_await stream_.tls().async_shutdown(kUseTuple);
  DisarmTimer();
}

asio::awaitable<void> ConnectionImpl::Run() {
  const HttpServerOptions& opts = ctx_->options;
  if (stream_.is_tls()) {
    const bool secured = co_await Handshake();  // (no co_await inside && for GCC 12)
    if (!secured) {
      phase_ = Phase::kClosed;
      CloseSocket();
      co_return;
    }
  }
  bool first = true;
  bool close_notify = false;  // the last step was a reply to a client still there
  while (!ctx_->shutting_down.load()) {
    // Wait for the first byte of the next request (bounded by the header timeout for the
    // first request, the keep-alive idle timeout later).
    phase_ = Phase::kIdle;
    close_notify = false;
    if (buffer_.size() == 0) {
      ArmTimer(first ? accepted_at_ + opts.header_timeout : Clock::now() + opts.idle_timeout,
               TimeoutAction::kCancel);
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kReadChunk), kUseTuple);
      DisarmTimer();
      buffer_.commit(n);
      if (ec) break;  // closed, timed out or shutting down; nothing to answer
    }
    const Clock::time_point header_deadline =
        first ? accepted_at_ + opts.header_timeout : Clock::now() + opts.header_timeout;
    first = false;
    phase_ = Phase::kReading;
    version_ = 11;
    keep_alive_ = false;
    path_.clear();
    close_after_reply_ = false;
    started_ = streaming_ = chunked_ = stream_ended_ = head_request_ = false;
    on_disconnect_ = nullptr;

    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(
        std::min<size_t>(opts.max_header_bytes, std::numeric_limits<uint32_t>::max())));
    parser.body_limit(opts.max_body_bytes);

    ArmTimer(header_deadline, TimeoutAction::kCancel);
    auto [hec, hn] = co_await bhttp::async_read_header(stream_, buffer_, parser, kUseTuple);
    DisarmTimer();
    {
      // Set once the request line is parsed, even when the header then failed (a body announced
      // over the limit, a header too large): empty before.
      const std::string_view target = parser.get().target();
      path_ = std::string(target.substr(0, target.find('?')));
    }
    if (hec) {
      co_await OnReadError(hec, parser.is_header_done());
      break;
    }
    const auto& head = parser.get();
    version_ = head.version() == 10 ? 10 : 11;
    keep_alive_ = head.keep_alive();
    head_request_ = head.method() == bhttp::verb::head;

    if (auto length = parser.content_length(); length && *length > opts.max_body_bytes) {
      co_await ReplyErrorAndClose(413,
                                  "request body of " + std::to_string(*length) +
                                      " bytes exceeds the limit of " +
                                      std::to_string(opts.max_body_bytes) + " bytes",
                                  /*linger=*/true);
      break;
    }
    if (!parser.is_done()) {
      if (version_ == 11 && EqualsIgnoreCase(head[bhttp::field::expect], "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        if (!co_await TimedWrite(asio::async_write(
                stream_, asio::buffer(kContinue.data(), kContinue.size()), kUseTuple))) {
          break;
        }
      }
      ArmTimer(Clock::now() + opts.body_timeout, TimeoutAction::kCancel);
      auto [bec, bn] = co_await bhttp::async_read(stream_, buffer_, parser, kUseTuple);
      DisarmTimer();
      if (bec) {
        co_await OnReadError(bec, /*header_done=*/true);
        break;
      }
    }

    Request request = MakeRequest(parser.release());
    phase_ = Phase::kHandling;
    co_await Handle(request);
    close_notify = !aborted_ && !disconnected_.load();
    if (aborted_ || !keep_alive_ || close_after_reply_ || disconnected_.load()) break;
  }
  phase_ = Phase::kClosed;
  if (close_notify && stream_.is_tls()) {
    co_await SendCloseNotify();
  }
  CloseSocket();
}

asio::awaitable<void> ConnectionImpl::OnReadError(const error_code& ec, bool header_done) {
  if (!header_done) version_ = 11;
  if (timed_out_) {
    co_await ReplyErrorAndClose(408,
                                header_done ? "the request body did not arrive in time"
                                            : "the request header did not arrive in time",
                                /*linger=*/false);
  } else if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    co_await ReplyErrorAndClose(431,
                                "request header exceeds the limit of " +
                                    std::to_string(ctx_->options.max_header_bytes) + " bytes",
                                /*linger=*/true);
  } else if (ec == bhttp::error::body_limit) {
    co_await ReplyErrorAndClose(413,
                                "request body exceeds the limit of " +
                                    std::to_string(ctx_->options.max_body_bytes) + " bytes",
                                /*linger=*/true);
  } else if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
    // The client closed the connection; nobody to answer.
  } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
    co_await ReplyErrorAndClose(400, "malformed HTTP request: " + ec.message(),
                                /*linger=*/true);
  } else {
    spdlog::debug("http: read from {} failed: {}", peer_, ec.message());
  }
}

asio::awaitable<void> ConnectionImpl::ReplyErrorAndClose(int status, std::string message,
                                                         bool linger) {
  keep_alive_ = false;
  close_after_reply_ = true;
  Response response = ctx_->MakeError(status, std::move(message), path_);
  bhttp::response<bhttp::string_body> res;
  FillHead(res, response.status, response.content_type, response.headers);
  res.body() = std::move(response.body);
  res.content_length(res.body().size());
  if (!disconnected_.load()) {
    ArmTimer(Clock::now() + kErrorWriteTimeout, TimeoutAction::kClose);
    bhttp::response_serializer<bhttp::string_body> serializer(res);
    // No conditional operator inside co_await: GCC 12 destroys such temporaries twice.
    error_code ec;
    if (head_request_) {
      std::tie(ec, std::ignore) =
          co_await bhttp::async_write_header(stream_, serializer, kUseTuple);
    } else {
      std::tie(ec, std::ignore) = co_await bhttp::async_write(stream_, serializer, kUseTuple);
    }
    DisarmTimer();
    if (!ec && linger) co_await LingeringClose();
  }
  CloseSocket();
}

asio::awaitable<void> ConnectionImpl::LingeringClose() {
  error_code ec;
  // On the TCP socket even under TLS: what is left to read is dropped undecrypted.
  tcp::socket& socket = stream_.socket();
  socket.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  ArmTimer(Clock::now() + kLingerTime, TimeoutAction::kCancel);
  std::array<char, 16384> scratch;
  size_t drained = 0;
  while (drained < kLingerMaxBytes) {
    auto [rec, n] = co_await socket.async_read_some(asio::buffer(scratch), kUseTuple);
    if (rec) break;
    drained += n;
  }
  DisarmTimer();
}

Request ConnectionImpl::MakeRequest(bhttp::request<bhttp::string_body>&& msg) const {
  Request r;
  r.method = std::string(msg.method_string());
  r.target = std::string(msg.target());
  const size_t q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = r.target.substr(q + 1);
  for (const auto& field : msg) {
    r.headers.Add(std::string(field.name_string()), std::string(field.value()));
  }
  r.body = std::move(msg.body());
  r.peer = peer_;
  r.version = version_;
  r.keep_alive = msg.keep_alive();
  r.tls = stream_.is_tls();
  return r;
}

asio::awaitable<void> ConnectionImpl::Handle(Request& request) {
  const RouteMatch match = ctx_->Find(request.method, request.path);
  if (!match.handler) {
    if (match.path_known) {
      Response response =
          ctx_->MakeError(405,
                          "method " + Truncate(request.method, 32) + " is not allowed on " +
                              Truncate(request.path, 200) + " (allowed: " + match.allow + ")",
                          request.path);
      response.headers.Set("Allow", match.allow);
      co_await Send(std::move(response));
    } else {
      co_await Send(ctx_->MakeError(
          404, "no route for " + Truncate(request.method, 32) + " " + Truncate(request.path, 200),
          request.path));
    }
    co_return;
  }

  StartWatcher();
  std::string failure;
  try {
    co_await (*match.handler)(request, *this);
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (aborted_) co_return;  // shutdown cancelled the handler; the socket is closed
  if (!failure.empty()) {
    spdlog::warn("http: handler for {} {} threw: {}", request.method, Truncate(request.path, 200),
                 failure);
  }
  if (!started_) {
    if (!disconnected_.load()) {
      co_await Send(ctx_->MakeError(
          500, failure.empty() ? "the handler sent no reply" : "internal server error",
          request.path));
    }
  } else if (streaming_ && !stream_ended_) {
    if (failure.empty()) {
      co_await EndStream();
    } else {
      close_after_reply_ = true;  // cut the stream: the client sees it did not end cleanly
    }
  }
  co_await StopWatcher();
  // The callback belongs to this request: what it holds (at the gateway, the caller's call
  // slot) must not stay held while the connection waits idle for its next request.
  on_disconnect_ = nullptr;
}

template <typename Body>
void ConnectionImpl::FillHead(bhttp::response<Body>& res, int status, std::string_view content_type,
                              const Headers& extra) {
  if (status < 100 || status > 999) status = 500;
  res.version(version_);
  res.result(static_cast<unsigned>(status));
  res.reason(StatusReason(status));
  if (!ctx_->options.server_name.empty()) res.set(bhttp::field::server, ctx_->options.server_name);
  if (!content_type.empty() && IsAcceptableField("Content-Type", content_type)) {
    res.set(bhttp::field::content_type, content_type);
  }
  for (const auto& [name, value] : extra) {
    if (IsAcceptableField(name, value)) res.insert(name, value);
  }
  if (ctx_->shutting_down.load()) keep_alive_ = false;
  res.keep_alive(keep_alive_ && !close_after_reply_);
}

asio::awaitable<bool> ConnectionImpl::TimedWrite(WriteOp op) {
  if (disconnected_.load()) co_return false;
  ArmTimer(Clock::now() + ctx_->options.write_timeout, TimeoutAction::kClose);
  auto [ec, n] = co_await std::move(op);
  DisarmTimer();
  if (ec) {
    close_after_reply_ = true;
    MarkDisconnected();
    co_return false;
  }
  co_return true;
}

asio::awaitable<bool> ConnectionImpl::Send(Response response) {
  if (started_) {
    spdlog::error("http: a reply was already sent for this request");
    co_return false;
  }
  started_ = true;
  bhttp::response<bhttp::string_body> res;
  FillHead(res, response.status, response.content_type, response.headers);
  const bool no_body = response.status < 200 || response.status == 204 || response.status == 304;
  if (!no_body) {
    res.body() = std::move(response.body);
    res.content_length(res.body().size());
  }
  if (head_request_) {
    bhttp::response_serializer<bhttp::string_body> serializer(res);
    co_return co_await TimedWrite(bhttp::async_write_header(stream_, serializer, kUseTuple));
  }
  co_return co_await TimedWrite(bhttp::async_write(stream_, res, kUseTuple));
}

asio::awaitable<bool> ConnectionImpl::StartStream(int status, std::string content_type,
                                                  Headers extra) {
  if (started_) {
    spdlog::error("http: a reply was already sent for this request");
    co_return false;
  }
  started_ = true;
  streaming_ = true;
  bhttp::response<bhttp::empty_body> res;
  if (version_ < 11) keep_alive_ = false;  // HTTP/1.0: the end of the stream is the close
  FillHead(res, status, content_type, extra);
  if (version_ >= 11) {
    chunked_ = true;
    res.chunked(true);
  } else {
    close_after_reply_ = true;
  }
  bhttp::response_serializer<bhttp::empty_body> serializer(res);
  co_return co_await TimedWrite(bhttp::async_write_header(stream_, serializer, kUseTuple));
}

asio::awaitable<bool> ConnectionImpl::Write(std::string_view data) {
  if (!streaming_ || stream_ended_ || disconnected_.load()) co_return false;
  if (data.empty() || head_request_) co_return true;
  const asio::const_buffer buffer(data.data(), data.size());
  if (chunked_) {
    co_return co_await TimedWrite(asio::async_write(stream_, bhttp::make_chunk(buffer), kUseTuple));
  }
  co_return co_await TimedWrite(asio::async_write(stream_, buffer, kUseTuple));
}

asio::awaitable<bool> ConnectionImpl::EndStream() {
  if (!streaming_ || stream_ended_) co_return false;
  stream_ended_ = true;
  if (disconnected_.load()) co_return false;
  if (head_request_) co_return true;
  if (chunked_) {
    co_return co_await TimedWrite(asio::async_write(stream_, bhttp::make_chunk_last(), kUseTuple));
  }
  close_after_reply_ = true;
  co_return true;
}

void ConnectionImpl::StartWatcher() {
  watcher_running_ = true;
  watcher_stopping_ = false;
  asio::co_spawn(executor(), Watch(), [self = shared_from_this()](std::exception_ptr) {
    self->watcher_running_ = false;
    self->watcher_done_.cancel();
  });
}

asio::awaitable<void> ConnectionImpl::Watch() {
  auto self = shared_from_this();
  while (buffer_.size() < kMaxReadAhead) {
    auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kReadChunk), kUseTuple);
    buffer_.commit(n);  // a pipelined next request: kept for the main loop
    if (watcher_stopping_) co_return;
    if (ec) {
      MarkDisconnected();
      co_return;
    }
  }
}

asio::awaitable<void> ConnectionImpl::StopWatcher() {
  if (!watcher_running_) co_return;
  watcher_stopping_ = true;
  CancelSocket();
  while (watcher_running_) {
    watcher_done_.expires_at(Clock::time_point::max());
    co_await watcher_done_.async_wait(kUseTuple);
  }
}

void ConnectionImpl::MarkDisconnected() {
  if (disconnected_.exchange(true)) return;
  close_after_reply_ = true;
  auto callback = std::move(on_disconnect_);
  on_disconnect_ = nullptr;
  if (!callback) return;
  try {
    callback();
  } catch (const std::exception& e) {
    spdlog::warn("http: OnDisconnect callback threw: {}", e.what());
  } catch (...) {
    spdlog::warn("http: OnDisconnect callback threw");
  }
}

asio::awaitable<void> ConnectionImpl::Reject(std::string why) {
  version_ = 11;
  if (stream_.is_tls()) {
    const bool secured = co_await Handshake();
    if (!secured) {
      CloseSocket();
      co_return;
    }
  }
  co_await ReplyErrorAndClose(503, std::move(why), /*linger=*/true);
}

}  // namespace

void StartConnection(tcp::socket socket, std::shared_ptr<ServerContext> ctx, std::string address) {
  auto connection = std::make_shared<ConnectionImpl>(std::move(socket), ctx);
  ctx->Register(connection, std::move(address));
  asio::co_spawn(connection->executor(), connection->Run(),
                 asio::bind_cancellation_slot(
                     connection->cancel_slot(), [connection, ctx](std::exception_ptr e) {
                       if (e) {
                         try {
                           std::rethrow_exception(e);
                         } catch (const std::exception& ex) {
                           spdlog::debug("http: connection ended with: {}", ex.what());
                         } catch (...) {
                         }
                       }
                       connection->MarkFinished();
                       ctx->Unregister(connection.get());
                     }));
}

void RejectConnection(tcp::socket socket, std::shared_ptr<ServerContext> ctx, std::string why) {
  if (ctx->rejecting.fetch_add(1) >= kMaxRejecting) {
    ctx->rejecting.fetch_sub(1);
    error_code ec;
    socket.close(ec);
    return;
  }
  auto connection = std::make_shared<ConnectionImpl>(std::move(socket), ctx);
  asio::co_spawn(connection->executor(), connection->Reject(std::move(why)),
                 [connection, ctx](std::exception_ptr) { ctx->rejecting.fetch_sub(1); });
}

}  // namespace llmux::http
