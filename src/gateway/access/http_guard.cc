#include "gateway/access/http_guard.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace llmux::gateway {

namespace {

// With authentication off: the refusal of a browser request from another site, if it is one.
// A foreign Origin (or a rebound Host) is refused; so is a body that is not JSON, since a page
// can POST text/plain or a form anywhere without a CORS preflight, but not application/json.
Status BrowserRefusal(const OriginPolicy& policy, const http::Request& req) {
  const std::string_view origin = req.headers.Get("Origin").value_or("");
  const std::string_view host = req.headers.Get("Host").value_or("");
  if (std::string why = CheckOrigin(policy, origin, host); !why.empty()) {
    return PermissionDeniedError(why + " (authentication is off, so only this machine's pages may call)");
  }
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    std::string type(req.headers.Get("Content-Type").value_or(""));
    type = type.substr(0, type.find(';'));
    std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
    while (!type.empty() && type.back() == ' ') type.pop_back();
    if (type != "application/json") {
      return InvalidArgumentError("Content-Type must be application/json (authentication is off: other types "
                                  "are what a web page on another site could send)");
    }
  }
  return Status::Ok();
}

}  // namespace

GuardedRouter::GuardedRouter(http::HttpServer& server, AccessGate& gate, ErrorReply error_reply)
    : server_(server), gate_(gate), error_reply_(std::move(error_reply)) {}

void GuardedRouter::Route(const std::string& method, const std::string& path,
                          GuardedHandler handler) {
  const ErrorReply* error_reply = &error_reply_;
  Register(method, path, std::move(handler),
           [error_reply](const Status& s, const http::Request&) { return (*error_reply)(s); },
           /*screen_browsers=*/true);
}

void GuardedRouter::Route(const std::string& method, const std::string& path,
                          GuardedHandler handler, RequestErrorReply refusal) {
  Register(method, path, std::move(handler), std::move(refusal), /*screen_browsers=*/false);
}

void GuardedRouter::RoutePrefix(const std::string& method, const std::string& path_prefix,
                                GuardedHandler handler) {
  const ErrorReply* error_reply = &error_reply_;
  Register(
      method, path_prefix, std::move(handler),
      [error_reply](const Status& s, const http::Request&) { return (*error_reply)(s); },
      /*screen_browsers=*/true, /*prefix=*/true);
}

void GuardedRouter::Register(const std::string& method, const std::string& path,
                             GuardedHandler handler, RequestErrorReply refusal,
                             bool screen_browsers, bool prefix) {
  const RouteRule* rule = FindRouteRule(Protocol::kHttp, method, path);
  if (rule == nullptr) {
    throw std::logic_error("route " + method + " " + path + " has no rule in the route table");
  }
  if (rule->prefix != prefix) {
    throw std::logic_error(
        "route " + method + " " + path + " is registered " +
        (prefix ? "as a prefix but its rule is exact" : "exactly but its rule is a prefix"));
  }
  routes_.push_back(method + " " + path);
  AccessGate* gate = &gate_;
  auto guarded = [gate, rule, screen_browsers, refusal = std::move(refusal),
                  handler = std::move(handler)](
                     http::Request& req, http::ResponseWriter& w) -> boost::asio::awaitable<void> {
    std::string_view authorization;
    if (auto h = req.headers.Get("Authorization")) authorization = *h;
    std::string_view token = BearerToken(authorization);
    // Anthropic's clients send the key as x-api-key instead (a custom header: a browser cannot
    // send it cross-origin without a preflight, so it is no weaker than Authorization).
    if (token.empty()) {
      if (auto key = req.headers.Get("x-api-key")) token = *key;
    }
    AccessDecision decision;
    if (screen_browsers && !gate->auth_enabled())
      decision.status = BrowserRefusal(gate->options().browser_origins, req);
    if (decision.status.ok()) decision = gate->Check(*rule, token, req.peer);
    if (!decision.status.ok()) {
      http::Response reply = refusal(decision.status, req);
      if (reply.status == 401 && !reply.headers.Has("WWW-Authenticate")) {
        reply.headers.Set("WWW-Authenticate", "Bearer realm=\"llmux\"");
      }
      if (reply.status == 429 && decision.retry_after_s > 0) {
        reply.headers.Set("Retry-After", std::to_string(decision.retry_after_s));
      }
      co_await w.Send(std::move(reply));
      co_return;
    }
    co_await handler(req, w, *decision.access);
  };
  if (prefix) {
    server_.RoutePrefix(method, path, std::move(guarded));
  } else {
    server_.Route(method, path, std::move(guarded));
  }
}

}  // namespace llmux::gateway
