#include "gateway/openai/openai_routes.h"

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <variant>

#include "gateway/access/generation_queue.h"
#include "gateway/access/http_guard.h"
#include "gateway/access/run_generation.h"
#include "gateway/access/tracked_embed.h"
#include "gateway/openai/openai_format.h"
#include "gateway/openai/openai_request.h"
#include "gateway/openai/response_store.h"
#include "gateway/openai/responses_format.h"
#include "gateway/openai/responses_request.h"
#include "net/http/http_server.h"
#include "serving/inference_service.h"
#include "serving/request_validation.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;

constexpr const char* kJson = "application/json";

awaitable<void> SendError(http::ResponseWriter& w, const Status& status) {
  std::string body = ErrorJson(status);
  co_await w.Send(HttpStatusFor(status), kJson, std::move(body));
}

// A chat completion's or a completion's answer: one JSON object, or OpenAI's chunk events.
class CompletionReply {
 public:
  CompletionReply(ResponseMeta meta, StreamSettings stream, bool logprobs, bool chat,
                  std::string echo_prefix)
      : meta_(std::move(meta)),
        stream_(stream),
        logprobs_(logprobs),
        chat_(chat),
        echo_(std::move(echo_prefix)) {}
  bool Stream() const { return stream_.stream; }
  http::Response ErrorResponse(const Status& status) const { return OpenAiErrorResponse(status); }
  void Add(const serving::Delta& d) { acc_.Add(d); }
  std::string Body(const serving::Finish& finish) {
    return chat_ ? acc_.ChatCompletionJson(meta_, finish, logprobs_)
                 : acc_.CompletionJson(meta_, finish, logprobs_, echo_);
  }
  std::string BodyType() const { return kJson; }
  std::string StreamType() const { return "text/event-stream"; }
  http::Headers StreamHeaders() const { return SseHeaders(); }
  std::string Start() {
    if (chat_) return ChatChunkEvent(meta_, serving::Delta{}, /*first=*/true, false);
    if (echo_.empty()) return "";
    serving::Delta echo;
    echo.content = echo_;
    return CompletionChunkEvent(meta_, echo, false);
  }
  std::string Event(const serving::Delta& d) {
    return chat_ ? ChatChunkEvent(meta_, d, false, logprobs_)
                 : CompletionChunkEvent(meta_, d, logprobs_);
  }
  std::string End(const serving::Finish& finish) {
    std::string event;
    if (finish.reason == serving::FinishReason::kError) {
      event = ErrorEvent(finish.error);
    } else {
      event = chat_ ? ChatFinishEvent(meta_, finish) : CompletionFinishEvent(meta_, finish);
      if (stream_.include_usage) {
        event +=
            UsageEvent(meta_, chat_ ? "chat.completion.chunk" : "text_completion", finish.usage);
      }
    }
    return event + kDoneEvent;
  }

 private:
  ResponseMeta meta_;
  StreamSettings stream_;
  bool logprobs_;
  bool chat_;
  std::string echo_;
  ResponseAccumulator acc_;
};

// A Responses-API answer, whole or as its events; when the request asked to store it, the
// conversation (`conversation` plus the reply) is kept for previous_response_id.
class ResponsesReply {
 public:
  ResponsesReply(ResponsesMeta meta, bool stream, std::string caller,
                 std::vector<chat::Message> conversation, ResponseStore& store)
      : id_(meta.id),
        keep_(meta.store),
        stream_(stream),
        caller_(std::move(caller)),
        conversation_(std::move(conversation)),
        store_(store),
        builder_(std::move(meta)) {}
  bool Stream() const { return stream_; }
  http::Response ErrorResponse(const Status& status) const { return OpenAiErrorResponse(status); }
  void Add(const serving::Delta& d) { builder_.Add(d); }
  std::string Body(const serving::Finish& finish) {
    std::string body = builder_.ResponseJson(finish);
    Remember();
    return body;
  }
  std::string BodyType() const { return kJson; }
  std::string StreamType() const { return "text/event-stream"; }
  http::Headers StreamHeaders() const { return SseHeaders(); }
  std::string Start() { return builder_.StartEvents(); }
  std::string Event(const serving::Delta& d) { return builder_.Add(d); }
  std::string End(const serving::Finish& finish) {
    if (finish.reason == serving::FinishReason::kError) return builder_.ErrorEvent(finish.error);
    std::string events = builder_.FinishEvents(finish);
    Remember();
    return events;
  }

 private:
  void Remember() {
    if (!keep_) return;
    conversation_.push_back(builder_.AssistantMessage());
    store_.Put(caller_, id_, std::move(conversation_));
  }

  std::string id_;
  bool keep_;
  bool stream_;
  std::string caller_;
  std::vector<chat::Message> conversation_;
  ResponseStore& store_;
  ResponseBuilder builder_;
};

// The queue and sink of one generation, tracked under `model` with `prompt`.
GenerationRun QueuedRun(const std::string& model, std::string prompt) {
  auto queue = std::make_shared<GenerationQueue>();
  return GenerationRun{queue, std::make_shared<QueueSink>(queue), model, std::move(prompt)};
}

}  // namespace

http::Response OpenAiErrorResponse(const Status& status) {
  return http::Response{HttpStatusFor(status), kJson, ErrorJson(status), {}};
}

void RegisterOpenAiRoutes(GuardedRouter& router, serving::InferenceService& service,
                          OpenAiRoutesOptions options) {
  router.server().SetErrorFormatter([](int status, std::string message) {
    return http::Response{status, kJson, ErrorJson(status, message), {}};
  });

  router.Route("POST", "/v1/chat/completions",
               [&service](http::Request& req, http::ResponseWriter& w,
                          CallAccess& access) -> awaitable<void> {
                 auto parsed = ParseChatCompletionRequest(req.body);
                 Status allowed = parsed.ok() ? access.AllowModel(parsed->request.model) : parsed.status();
                 if (!allowed.ok()) {
                   access.Refuse(allowed, parsed.ok() ? parsed->request.model : "");
                   co_await SendError(w, allowed);
                   co_return;
                 }
                 parsed->request.options.caller_share = access.share();
                 ResponseMeta meta{NewResponseId("chatcmpl-"), UnixNow(), parsed->request.model};
                 CompletionReply reply(meta, parsed->stream, parsed->request.options.logprobs,
                                       /*chat=*/true, "");
                 GenerationRun run =
                     QueuedRun(meta.model,
                               access.keeps_prompts() ? PromptText(parsed->request.messages) : "");
                 auto start = [&](std::shared_ptr<serving::Sink> sink, serving::InferenceService::Submitted done) {
                   service.SubmitChat(std::move(parsed->request), std::move(sink), std::move(done));
                 };
                 co_await RunGeneration(w, access, start, std::move(run), reply);
               });

  router.Route("POST", "/v1/completions",
               [&service](http::Request& req, http::ResponseWriter& w,
                          CallAccess& access) -> awaitable<void> {
                 auto parsed = ParseCompletionRequest(req.body);
                 Status allowed = parsed.ok() ? access.AllowModel(parsed->request.model) : parsed.status();
                 if (!allowed.ok()) {
                   access.Refuse(allowed, parsed.ok() ? parsed->request.model : "");
                   co_await SendError(w, allowed);
                   co_return;
                 }
                 parsed->request.options.caller_share = access.share();
                 ResponseMeta meta{NewResponseId("cmpl-"), UnixNow(), parsed->request.model};
                 CompletionReply reply(meta, parsed->stream, parsed->request.options.logprobs,
                                       /*chat=*/false, parsed->echo ? parsed->request.prompt : "");
                 GenerationRun run =
                     QueuedRun(meta.model, access.keeps_prompts() ? parsed->request.prompt : "");
                 auto start = [&](std::shared_ptr<serving::Sink> sink, serving::InferenceService::Submitted done) {
                   service.SubmitComplete(std::move(parsed->request), std::move(sink), std::move(done));
                 };
                 co_await RunGeneration(w, access, start, std::move(run), reply);
               });

  // OpenAI's Responses API. The conversation of a stored response is kept per caller (its
  // principal's subject) so that previous_response_id continues only the caller's own.
  auto responses = std::make_shared<ResponseStore>();
  router.Route(
      "POST", "/v1/responses",
      [&service, responses](http::Request& req, http::ResponseWriter& w,
                            CallAccess& access) -> awaitable<void> {
        auto parsed = ParseResponsesRequest(req.body);
        Status allowed = parsed.ok() ? access.AllowModel(parsed->request.model) : parsed.status();
        std::vector<chat::Message> conversation;
        if (allowed.ok() && !parsed->previous_response_id.empty()) {
          auto previous = responses->Get(access.principal().subject, parsed->previous_response_id);
          if (previous) {
            conversation = std::move(*previous);
          } else {
            allowed = InvalidArgumentError("Previous response with id '" +
                                           parsed->previous_response_id + "' not found.")
                          .WithField("previous_response_id");
          }
        }
        if (allowed.ok()) {
          serving::ChatRequest& r = parsed->request;
          conversation.insert(conversation.end(), r.messages.begin(), r.messages.end());
          r.messages.clear();
          if (parsed->instructions) {
            r.messages.push_back(MakeMessage("system", *parsed->instructions));
          }
          r.messages.insert(r.messages.end(), conversation.begin(), conversation.end());
          allowed = serving::ValidateChatRequest(r);
        }
        if (!allowed.ok()) {
          access.Refuse(allowed, parsed.ok() ? parsed->request.model : "");
          co_await SendError(w, allowed);
          co_return;
        }
        parsed->request.options.caller_share = access.share();
        ResponsesMeta meta{NewResponseId("resp_"),       UnixNow(),     parsed->request.model,
                           parsed->previous_response_id, parsed->store, std::move(parsed->echo)};
        GenerationRun run = QueuedRun(
            meta.model, access.keeps_prompts() ? PromptText(parsed->request.messages) : "");
        ResponsesReply reply(std::move(meta), parsed->stream, access.principal().subject,
                             std::move(conversation), *responses);
        auto start = [&](std::shared_ptr<serving::Sink> sink,
                         serving::InferenceService::Submitted done) {
          service.SubmitChat(std::move(parsed->request), std::move(sink), std::move(done));
        };
        co_await RunGeneration(w, access, start, std::move(run), reply);
      });

  // vLLM's /tokenize and /detokenize: the model's own tokenizer, for clients that count or
  // inspect tokens. Not generations: not charged or logged, but the model must be allowed.
  router.Route("POST", "/tokenize",
               [&service](http::Request& req, http::ResponseWriter& w,
                          CallAccess& access) -> awaitable<void> {
                 auto parsed = ParseTokenizeRequest(req.body);
                 Status allowed = parsed.ok() ? access.AllowModel(parsed->model) : parsed.status();
                 if (!allowed.ok()) {
                   co_await SendError(w, allowed);
                   co_return;
                 }
                 // A model not loaded but loadable loads first.
                 Result<std::vector<int32_t>> ids =
                     co_await http::AwaitCallback<Result<std::vector<int32_t>>>(
                         [&](serving::InferenceService::Tokenized done) {
                           service.SubmitTokenize(parsed->model, std::move(parsed->prompt),
                                                  parsed->add_special_tokens, access.share(),
                                                  std::move(done));
                         });
                 if (!ids.ok()) {
                   co_await SendError(w, ids.status());
                   co_return;
                 }
                 int max_model_len = 0;
                 for (const serving::ModelInfo& m : service.ListModels()) {
                   if (m.id == parsed->model) max_model_len = m.context_length;
                 }
                 std::string body = TokenizeJson(*ids, max_model_len);
                 co_await w.Send(200, kJson, std::move(body));
               });

  router.Route("POST", "/detokenize",
               [&service](http::Request& req, http::ResponseWriter& w,
                          CallAccess& access) -> awaitable<void> {
                 auto parsed = ParseDetokenizeRequest(req.body);
                 Status allowed = parsed.ok() ? access.AllowModel(parsed->model) : parsed.status();
                 if (!allowed.ok()) {
                   co_await SendError(w, allowed);
                   co_return;
                 }
                 Result<std::string> text = co_await http::AwaitCallback<Result<std::string>>(
                     [&](serving::InferenceService::Detokenized done) {
                       service.SubmitDetokenize(parsed->model, std::move(parsed->tokens),
                                                access.share(), std::move(done));
                     });
                 if (!text.ok()) {
                   co_await SendError(w, text.status());
                   co_return;
                 }
                 std::string body = DetokenizeJson(*text);
                 co_await w.Send(200, kJson, std::move(body));
               });

  // Embeddings: charged and logged like a generation of prompt tokens only.
  router.Route("POST", "/v1/embeddings",
               [&service](http::Request& req, http::ResponseWriter& w,
                          CallAccess& access) -> awaitable<void> {
                 auto parsed = ParseEmbeddingsRequest(req.body);
                 Status allowed =
                     parsed.ok() ? access.AllowModel(parsed->request.model) : parsed.status();
                 if (!allowed.ok()) {
                   access.Refuse(allowed, parsed.ok() ? parsed->request.model : "");
                   co_await SendError(w, allowed);
                   co_return;
                 }
                 const std::string model = parsed->request.model;
                 Result<serving::EmbedResult> result =
                     co_await TrackedEmbed(access, service, std::move(parsed->request));
                 if (!result.ok()) {
                   co_await SendError(w, result.status());
                   co_return;
                 }
                 std::string body = EmbeddingsJson(model, *result, parsed->base64);
                 co_await w.Send(200, kJson, std::move(body));
               });

  router.Route("GET", "/v1/models",
               [&service](http::Request&, http::ResponseWriter& w,
                          CallAccess& access) -> awaitable<void> {
                 std::vector<serving::ModelInfo> models;
                 for (serving::ModelInfo& m : service.ListModels()) {
                   if (access.principal().MayUseModel(m.id)) models.push_back(std::move(m));
                 }
                 std::string body = ModelListJson(models);
                 co_await w.Send(200, kJson, std::move(body));
               });

  router.Route("GET", "/health",
               [&service](http::Request&, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
                 if (service.Ready()) {
                   co_await w.Send(200, kJson, R"({"status":"ok"})");
                 } else {
                   co_await w.Send(503, kJson, R"({"status":"loading"})");
                 }
               });

  auto metrics = options.metrics_text;
  router.Route("GET", "/metrics",
               [metrics](http::Request&, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
                 std::string body = metrics ? metrics() : std::string();
                 co_await w.Send(200, "text/plain; version=0.0.4; charset=utf-8", std::move(body));
               });
}

}  // namespace llmux::gateway
