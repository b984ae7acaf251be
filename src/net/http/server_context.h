// Internal: state shared by the server, its accept loop and every connection (options,
// routes, the error formatter, the registry of open connections, the shutdown flag).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "net/http/http_server.h"

namespace boost::asio::ssl {
class context;
}

namespace llmux::http {

class Connection;

struct RouteMatch {
  const Handler* handler = nullptr;  // null: 404 (path unknown) or 405 (method not allowed)
  bool path_known = false;
  std::string allow;  // "GET, POST" for a 405's Allow header
};

struct ServerContext {
  explicit ServerContext(HttpServerOptions o) : options(std::move(o)) {}

  const HttpServerOptions options;
  // path -> (method, handler); written only before the server starts.
  std::unordered_map<std::string, std::vector<std::pair<std::string, Handler>>> routes;
  // (path prefix, method, handler) for paths no exact route knows; the longest prefix wins.
  std::vector<std::tuple<std::string, std::string, Handler>> prefix_routes;
  ErrorFormatter error_formatter;
  // (path prefix, formatter): for requests under the prefix, the longest match first.
  std::vector<std::pair<std::string, ErrorFormatter>> prefix_error_formatters;
  // Set by Listen when options name a certificate: every connection starts with a TLS
  // handshake. Null: plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::atomic<bool> shutting_down{false};
  std::atomic<size_t> rejecting{0};  // connections being answered 503

  // The exact route of `path`, else the longest prefix route that `path` starts with.
  RouteMatch Find(std::string_view method, std::string_view path) const;
  RouteMatch FindPrefix(std::string_view method, std::string_view path) const;
  // The formatter's reply (the one of `path`'s prefix, if any), or the default one if there is
  // none or it throws. `path`: the request's, empty when not known yet.
  Response MakeError(int status, std::string message, std::string_view path = {}) const;

  // `address`: the client's IP address, counted for its share.
  void Register(const std::shared_ptr<Connection>& connection, std::string address);
  void Unregister(const Connection* connection);
  size_t open_connections() const;
  size_t connections_from(const std::string& address) const;
  std::vector<std::shared_ptr<Connection>> Snapshot() const;

 private:
  struct Entry {
    std::weak_ptr<Connection> connection;
    std::string address;
  };
  mutable std::mutex mu_;
  std::unordered_map<const Connection*, Entry> connections_;
  std::unordered_map<std::string, size_t> per_address_;
};

}  // namespace llmux::http
