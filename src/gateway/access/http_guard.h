// Registers HTTP routes behind the AccessGate: every handler runs only after its RouteRule
// admitted the call, and gets the CallAccess. Refusals are answered here in the front end's
// error shape (the `error_reply` callback), with WWW-Authenticate on 401 (unless the reply
// set its own) and Retry-After on 429. Registering a route that the route table does not know is a programming error: it
// throws at start-up, so an unguarded route can never be served.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <vector>

#include "gateway/access/access_gate.h"
#include "net/http/http_server.h"

namespace llmux::gateway {

using GuardedHandler = std::function<boost::asio::awaitable<void>(
    http::Request&, http::ResponseWriter&, CallAccess&)>;

// Builds the error reply of a refused or failed call.
using ErrorReply = std::function<http::Response(const Status&)>;
// The same for routes whose protocol answers refusals in its own shape (MCP: JSON-RPC errors
// and a WWW-Authenticate naming the resource metadata); it sees the request.
using RequestErrorReply = std::function<http::Response(const Status&, const http::Request&)>;

class GuardedRouter {
 public:
  GuardedRouter(http::HttpServer& server, AccessGate& gate, ErrorReply error_reply);

  // Throws std::logic_error when (method, path) has no rule in the route table.
  void Route(const std::string& method, const std::string& path, GuardedHandler handler);
  // The same with this route's own refusal reply instead of the router's, for a protocol that
  // also checks Origin and Host itself, in its own shape (MCP): with auth off, the router's
  // browser screening (foreign origins, bodies that are not JSON) is left to it.
  void Route(const std::string& method, const std::string& path, GuardedHandler handler,
             RequestErrorReply refusal);

  // The same for every path under `path_prefix` (its rule must be a prefix rule).
  void RoutePrefix(const std::string& method, const std::string& path_prefix,
                   GuardedHandler handler);

  http::HttpServer& server() { return server_; }
  const ErrorReply& error_reply() const { return error_reply_; }
  // "METHOD path" of every route registered so far, for tests.
  const std::vector<std::string>& routes() const { return routes_; }

 private:
  void Register(const std::string& method, const std::string& path, GuardedHandler handler,
                RequestErrorReply refusal, bool screen_browsers, bool prefix = false);

  http::HttpServer& server_;
  AccessGate& gate_;
  ErrorReply error_reply_;
  std::vector<std::string> routes_;
};

}  // namespace llmux::gateway
