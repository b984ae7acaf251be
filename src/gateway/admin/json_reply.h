// Small helpers shared by the admin and session routes: read a JSON body, and answer with the
// JSON a handler body computes or with its error in the front end's shape.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "base/json_nesting.h"
#include "base/status.h"
#include "gateway/access/http_guard.h"
#include "net/http/response_writer.h"

namespace llmux::gateway {

inline Result<nlohmann::json> BodyJson(const http::Request& req) {
  if (!JsonNestingWithin(req.body)) return InvalidArgumentError(JsonTooDeepMessage());
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return InvalidArgumentError("the request body is not valid JSON");
  return body;
}

// Runs `body` (returning the reply's JSON or an error) and sends the result.
template <typename F>
boost::asio::awaitable<void> ReplyJson(http::ResponseWriter& w, const ErrorReply& error_reply,
                                       int ok_status, F body) {
  Result<nlohmann::json> result = body();
  if (!result.ok()) {
    http::Response reply = error_reply(result.status());
    co_await w.Send(std::move(reply));
    co_return;
  }
  std::string text = result->dump();
  co_await w.Send(ok_status, "application/json", std::move(text));
}

}  // namespace llmux::gateway
