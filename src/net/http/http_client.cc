#include "net/http/http_client.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>

namespace llmux::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

Status IoFailure(const std::string& what, const Url& url, const beast::error_code& ec) {
  if (ec == beast::error::timeout) {
    return DeadlineExceededError(what + " " + url.host + ":" + url.port + " timed out");
  }
  if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
    return ResourceExhaustedError("the response from " + url.host + " is larger than allowed");
  }
  return UnavailableError(what + " " + url.host + ":" + url.port + " failed: " + ec.message());
}

// Writes the request and reads the whole response on an established stream.
template <class Stream>
asio::awaitable<Result<ClientResponse>> Exchange(Stream& stream, const ClientRequest& r,
                                                 const Url& url,
                                                 std::chrono::steady_clock::time_point deadline) {
  // Before each read: the whole-response deadline, or sooner the idle limit.
  auto arm_read = [&] {
    if (r.idle_timeout.count() <= 0) return;
    const auto idle = std::chrono::steady_clock::now() + r.idle_timeout;
    beast::get_lowest_layer(stream).expires_at(std::min(idle, deadline));
  };
  bhttp::request<bhttp::string_body> req;
  req.method_string(r.method);
  req.target(url.target);
  req.version(11);
  req.set(bhttp::field::host, url.host);
  req.set(bhttp::field::user_agent, "llmux");
  req.set(bhttp::field::connection, "close");
  for (const auto& [name, value] : r.headers) req.set(name, value);
  req.body() = r.body;
  req.prepare_payload();
  auto [wec, written] = co_await bhttp::async_write(stream, req, kUseTuple);
  (void)written;
  if (wec) co_return IoFailure("sending to", url, wec);

  beast::flat_buffer buffer;
  // Each read fills at most the buffer's free capacity (at least 512 bytes): a streamed body
  // (a model file) would otherwise arrive 512 bytes per system call.
  if (r.on_body) buffer.reserve(256 * 1024);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(r.max_response_bytes);
  parser.header_limit(64 * 1024);
  arm_read();
  auto [hec, head] = co_await bhttp::async_read_header(stream, buffer, parser, kUseTuple);
  (void)head;
  if (hec) co_return IoFailure("reading from", url, hec);
  ClientResponse out;
  out.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    out.headers.Add(std::string(field.name_string()), std::string(field.value()));
  }
  if (r.on_head && !r.on_head(out.status, out.headers)) co_return out;
  const bool streamed = r.on_body && out.status / 100 == 2;
  while (!parser.is_done()) {
    arm_read();
    auto [rec, read] = co_await bhttp::async_read_some(stream, buffer, parser, kUseTuple);
    (void)read;
    if (rec) co_return IoFailure("reading from", url, rec);
    std::string& body = parser.get().body();
    if (streamed && !body.empty()) {
      const bool more = r.on_body(body);
      body.clear();
      if (!more) break;
    }
  }
  out.body = std::move(parser.get().body());
  co_return out;
}

asio::awaitable<void> Run(const ClientRequest& r, const Url& url, ssl::context* tls,
                          Result<ClientResponse>* out) {
  auto ex = co_await asio::this_coro::executor;
  const auto deadline = std::chrono::steady_clock::now() + r.timeout;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(url.host, url.port, kUseTuple);
  if (rec) {
    *out = IoFailure("resolving", url, rec);
    co_return;
  }
  beast::tcp_stream tcp_stream(ex);
  tcp_stream.expires_at(deadline);
  auto [cec, endpoint] = co_await tcp_stream.async_connect(endpoints, kUseTuple);
  (void)endpoint;
  if (cec) {
    *out = IoFailure("connecting to", url, cec);
    co_return;
  }
  if (tls == nullptr) {
    *out = co_await Exchange(tcp_stream, r, url, deadline);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), *tls);
  // SNI, and the certificate must name the host we asked for.
  SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str());
  if (r.verify_peer) stream.set_verify_callback(ssl::host_name_verification(url.host));
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kUseTuple);
  if (hec) {
    *out = IoFailure("TLS handshake with", url, hec);
    co_return;
  }
  *out = co_await Exchange(stream, r, url, deadline);
}

}  // namespace

Result<Url> ParseUrl(const std::string& s) {
  Url url;
  std::string rest;
  if (s.rfind("http://", 0) == 0) {
    rest = s.substr(7);
  } else if (s.rfind("https://", 0) == 0) {
    url.tls = true;
    rest = s.substr(8);
  } else {
    return InvalidArgumentError("only http:// and https:// URLs are supported: '" + s + "'");
  }
  const size_t slash = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, slash);
  url.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (url.target[0] != '/') url.target = "/" + url.target;
  if (const size_t hash = url.target.find('#'); hash != std::string::npos) url.target.resize(hash);
  if (authority.find('@') != std::string::npos) {
    return InvalidArgumentError("URLs with credentials are not supported: '" + s + "'");
  }
  if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
    const size_t close = authority.find(']');
    if (close == std::string::npos) return InvalidArgumentError("bad IPv6 host in '" + s + "'");
    url.host = authority.substr(1, close - 1);
    authority = authority.substr(close + 1);
    if (!authority.empty() && authority[0] != ':') {
      return InvalidArgumentError("bad host in '" + s + "'");
    }
    if (!authority.empty()) url.port = authority.substr(1);
  } else {
    const size_t colon = authority.rfind(':');
    url.host = authority.substr(0, colon);
    if (colon != std::string::npos) url.port = authority.substr(colon + 1);
  }
  if (url.host.empty()) return InvalidArgumentError("no host in '" + s + "'");
  if (url.port.empty()) {
    url.port = url.tls ? "443" : "80";
  } else {
    int port = 0;
    const auto [end, ec] = std::from_chars(url.port.data(), url.port.data() + url.port.size(), port);
    if (ec != std::errc() || end != url.port.data() + url.port.size() || port < 1 || port > 65535) {
      return InvalidArgumentError("bad port in '" + s + "'");
    }
  }
  return url;
}

Result<ClientResponse> Fetch(const ClientRequest& request) {
  LLMUX_ASSIGN_OR_RETURN(Url url, ParseUrl(request.url));
  asio::io_context ioc;
  ssl::context tls(ssl::context::tls_client);
  if (url.tls) {
    beast::error_code ec;
    if (!request.ca_file.empty()) {
      tls.load_verify_file(request.ca_file, ec);
      if (ec) return InvalidArgumentError("cannot read CA file " + request.ca_file + ": " + ec.message());
    } else {
      tls.set_default_verify_paths(ec);
    }
    tls.set_verify_mode(request.verify_peer ? ssl::verify_peer : ssl::verify_none);
  }
  Result<ClientResponse> out = UnavailableError("request to " + url.host + " did not run");
  asio::co_spawn(ioc, Run(request, url, url.tls ? &tls : nullptr, &out), asio::detached);
  ioc.run();
  return out;
}

}  // namespace llmux::http
