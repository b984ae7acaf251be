#include "gateway/anthropic/anthropic_routes.h"

#include <boost/asio/awaitable.hpp>
#include <memory>

#include "gateway/access/generation_queue.h"
#include "gateway/access/http_guard.h"
#include "gateway/access/run_generation.h"
#include "gateway/anthropic/anthropic_format.h"
#include "gateway/anthropic/anthropic_request.h"
#include "net/http/http_server.h"
#include "net/http/http_status.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;

constexpr const char* kJson = "application/json";

awaitable<void> SendError(http::ResponseWriter& w, const Status& status) {
  http::Response reply = AnthropicErrorResponse(status);
  co_await w.Send(std::move(reply));
}

// One message's answer: a whole message, or Anthropic's events.
class MessageReply {
 public:
  MessageReply(MessageMeta meta, bool stream)
      : meta_(std::move(meta)), stream_(stream), events_(meta_) {}
  bool Stream() const { return stream_; }
  http::Response ErrorResponse(const Status& status) const {
    return AnthropicErrorResponse(status);
  }
  void Add(const serving::Delta& d) { acc_.Add(d); }
  std::string Body(const serving::Finish& finish) const { return acc_.MessageJson(meta_, finish); }
  std::string BodyType() const { return kJson; }
  std::string StreamType() const { return "text/event-stream"; }
  http::Headers StreamHeaders() const { return SseHeaders(); }
  std::string Start() { return events_.Start(); }
  std::string Event(const serving::Delta& d) { return events_.Add(d); }
  std::string End(const serving::Finish& finish) {
    return finish.reason == serving::FinishReason::kError ? AnthropicErrorEvent(finish.error)
                                                          : events_.Finish(finish);
  }

 private:
  MessageMeta meta_;
  bool stream_;
  MessageAccumulator acc_;
  MessageEventStream events_;
};

// Runs one admitted message generation and answers it, whole or as Anthropic's events.
awaitable<void> Generate(http::ResponseWriter& w, CallAccess& access,
                         serving::InferenceService& service, ParsedMessagesRequest& parsed) {
  MessageReply reply(MessageMeta{NewMessageId(), parsed.request.model}, parsed.stream);
  auto queue = std::make_shared<GenerationQueue>();
  GenerationRun run{queue, std::make_shared<QueueSink>(queue), parsed.request.model,
                    access.keeps_prompts() ? PromptText(parsed.request.messages) : ""};
  auto start = [&](std::shared_ptr<serving::Sink> sink, serving::InferenceService::Submitted done) {
    service.SubmitChat(std::move(parsed.request), std::move(sink), std::move(done));
  };
  co_await RunGeneration(w, access, start, std::move(run), reply);
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
