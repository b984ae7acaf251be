#include "gateway/access/http_guard.h"

#include <stdexcept>

namespace llmux::gateway {

GuardedRouter::GuardedRouter(http::HttpServer& server, AccessGate& gate, ErrorReply error_reply)
    : server_(server), gate_(gate), error_reply_(std::move(error_reply)) {}

void GuardedRouter::Route(const std::string& method, const std::string& path,
                          GuardedHandler handler) {
  const ErrorReply* error_reply = &error_reply_;
  Route(method, path, std::move(handler),
        [error_reply](const Status& s, const http::Request&) { return (*error_reply)(s); });
}

void GuardedRouter::Route(const std::string& method, const std::string& path,
                          GuardedHandler handler, RequestErrorReply refusal) {
  const RouteRule* rule = FindRouteRule(Protocol::kHttp, method, path);
  if (rule == nullptr) {
    throw std::logic_error("route " + method + " " + path + " has no rule in the route table");
  }
  routes_.push_back(method + " " + path);
  AccessGate* gate = &gate_;
  server_.Route(method, path,
                [gate, rule, refusal = std::move(refusal), handler = std::move(handler)](
                    http::Request& req, http::ResponseWriter& w) -> boost::asio::awaitable<void> {
                  std::string_view authorization;
                  if (auto h = req.headers.Get("Authorization")) authorization = *h;
                  AccessDecision decision = gate->Check(*rule, BearerToken(authorization), req.peer);
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
                });
}

}  // namespace llmux::gateway
