#include "gateway/anthropic/anthropic_routes.h"

#include <boost/asio/awaitable.hpp>
#include <memory>

#include "gateway/access/generation_queue.h"
#include "gateway/access/http_guard.h"
#include "gateway/anthropic/anthropic_format.h"
#include "gateway/anthropic/anthropic_request.h"
#include "net/http/await_callback.h"
#include "net/http/http_server.h"
#include "net/http/http_status.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Submitted = Result<std::shared_ptr<serving::RequestHandle>>;

constexpr const char* kJson = "application/json";

awaitable<void> SendError(http::ResponseWriter& w, const Status& status) {
  http::Response reply = AnthropicErrorResponse(status);
  co_await w.Send(std::move(reply));
}

// Runs one admitted message generation and answers it, whole or as Anthropic's events.
awaitable<void> Generate(http::ResponseWriter& w, CallAccess& access,
                         serving::InferenceService& service, ParsedMessagesRequest& parsed) {
  const MessageMeta meta{NewMessageId(), parsed.request.model};
  auto queue = std::make_shared<GenerationQueue>();
  std::string prompt = access.keeps_prompts() ? PromptText(parsed.request.messages) : "";
  std::shared_ptr<TrackedSink> tracked =
      access.Track(std::make_shared<QueueSink>(queue), meta.model, std::move(prompt));
  std::shared_ptr<serving::Sink> sink = tracked;
  std::optional<Submitted> handle;
  handle.emplace(co_await http::AwaitCallback<Submitted>([&](std::function<void(Submitted)> done) {
    service.SubmitChat(std::move(parsed.request), std::move(sink), std::move(done));
  }));
  if (!handle->ok()) {
    tracked->Refuse(handle->status());
    co_await SendError(w, handle->status());
    co_return;
  }
  tracked.reset();  // the engine holds it (and the call's admission) until the finish
  std::shared_ptr<serving::RequestHandle> request = **handle;
  w.OnDisconnect([request] { request->Cancel(); });

  if (!parsed.stream) {
    MessageAccumulator acc;
    while (std::optional<GenerationEvent> ev = co_await queue->Pop()) {
      if (auto* d = std::get_if<serving::Delta>(&*ev)) {
        acc.Add(*d);
        continue;
      }
      const auto& finish = std::get<serving::Finish>(*ev);
      if (finish.reason == serving::FinishReason::kError) {
        co_await SendError(w, finish.error);
        co_return;
      }
      std::string body = acc.MessageJson(meta, finish);
      co_await w.Send(200, kJson, std::move(body));
      co_return;
    }
    request->Cancel();  // the wait was cancelled (shutdown)
    co_return;
  }

  http::Headers headers{{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  if (!co_await w.StartStream(200, "text/event-stream", std::move(headers))) {
    request->Cancel();
    co_return;
  }
  MessageEventStream events(meta);
  // Every awaited write takes a named string: GCC 12 mishandles temporaries that live across
  // co_await (it may destroy them twice).
  std::string event = events.Start();
  bool ok = co_await w.Write(event);
  while (ok) {
    std::optional<GenerationEvent> ev = co_await queue->Pop();
    if (!ev) break;
    if (auto* d = std::get_if<serving::Delta>(&*ev)) {
      event = events.Add(*d);
      if (!event.empty()) ok = co_await w.Write(event);
      continue;
    }
    const auto& finish = std::get<serving::Finish>(*ev);
    event = finish.reason == serving::FinishReason::kError ? AnthropicErrorEvent(finish.error)
                                                           : events.Finish(finish);
    co_await w.Write(event);
    co_await w.EndStream();
    co_return;
  }
  request->Cancel();  // the client went away or the wait was cancelled
}

}  // namespace

http::Response AnthropicErrorResponse(const Status& status) {
  return http::Response{http::HttpStatusFor(status), kJson, AnthropicErrorJson(status), {}};
}

void RegisterAnthropicRoutes(GuardedRouter& router, serving::InferenceService& service) {
  router.server().SetErrorFormatter("/v1/messages", [](int status, std::string message) {
    return http::Response{status, kJson, AnthropicErrorJson(status, message), {}};
  });

  router.Route("POST", "/v1/messages",
               [&service](http::Request& req, http::ResponseWriter& w,
                          CallAccess& access) -> awaitable<void> {
                 auto parsed = ParseMessagesRequest(req.body);
                 Status allowed =
                     parsed.ok() ? access.AllowModel(parsed->request.model) : parsed.status();
                 if (!allowed.ok()) {
                   access.Refuse(allowed, parsed.ok() ? parsed->request.model : "");
                   co_await SendError(w, allowed);
                   co_return;
                 }
                 parsed->request.options.caller_share = access.share();
                 co_await Generate(w, access, service, *parsed);
               });

  // The prompt's size as the model's template and tokenizer make it. Not a generation: not
  // charged or logged, but the model must be allowed.
  router.Route("POST", "/v1/messages/count_tokens",
               [&service](http::Request& req, http::ResponseWriter& w,
                          CallAccess& access) -> awaitable<void> {
                 auto parsed = ParseCountTokensRequest(req.body);
                 Status allowed = parsed.ok() ? access.AllowModel(parsed->model) : parsed.status();
                 if (!allowed.ok()) {
                   co_await SendError(w, allowed);
                   co_return;
                 }
                 parsed->options.caller_share = access.share();
                 // A model not loaded but loadable loads first.
                 Result<int> count = co_await http::AwaitCallback<Result<int>>(
                     [&](serving::InferenceService::Counted done) {
                       service.SubmitCountChatTokens(std::move(*parsed), std::move(done));
                     });
                 if (!count.ok()) {
                   co_await SendError(w, count.status());
                   co_return;
                 }
                 std::string body = CountTokensJson(*count);
                 co_await w.Send(200, kJson, std::move(body));
               });
}

}  // namespace llmux::gateway
