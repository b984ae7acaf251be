#include "gateway/openai/openai_routes.h"

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <variant>

#include "gateway/access/generation_queue.h"
#include "gateway/access/http_guard.h"
#include "gateway/access/tracked_embed.h"
#include "gateway/openai/openai_format.h"
#include "gateway/openai/openai_request.h"
#include "gateway/openai/response_store.h"
#include "gateway/openai/responses_format.h"
#include "gateway/openai/responses_request.h"
#include "net/http/async_queue.h"
#include "net/http/await_callback.h"
#include "net/http/http_server.h"
#include "serving/inference_service.h"
#include "serving/request_validation.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Event = GenerationEvent;
using EventQueue = GenerationQueue;

constexpr const char* kJson = "application/json";
using Submitted = Result<std::shared_ptr<serving::RequestHandle>>;

awaitable<void> SendError(http::ResponseWriter& w, const Status& status) {
  std::string body = ErrorJson(status);
  co_await w.Send(HttpStatusFor(status), kJson, std::move(body));
}

http::Headers SseHeaders() {
  return http::Headers{{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
}

// Runs one generation and answers it, whole or streamed. `start(sink, done)` submits to the
// service without holding this io thread (SubmitChat/SubmitComplete).
template <typename StartFn>
awaitable<void> Generate(http::ResponseWriter& w, CallAccess& access, StartFn start,
                         const ResponseMeta& meta, const StreamSettings& stream, bool logprobs,
                         bool chat, std::string echo_prefix, std::string prompt) {
  auto queue = std::make_shared<EventQueue>();
  std::shared_ptr<TrackedSink> tracked =
      access.Track(std::make_shared<QueueSink>(queue), meta.model, std::move(prompt));
  std::shared_ptr<serving::Sink> sink = tracked;
  std::optional<Submitted> handle;
  handle.emplace(co_await http::AwaitCallback<Submitted>(
      [&start, &sink](std::function<void(Submitted)> done) { start(std::move(sink), std::move(done)); }));
  if (!handle->ok()) {
    tracked->Refuse(handle->status());
    co_await SendError(w, handle->status());
    co_return;
  }
  tracked.reset();  // the engine holds it (and the call's admission) until the finish
  std::shared_ptr<serving::RequestHandle> request = **handle;
  w.OnDisconnect([request] { request->Cancel(); });

  if (!stream.stream) {
    ResponseAccumulator acc;
    while (std::optional<Event> ev = co_await queue->Pop()) {
      if (auto* d = std::get_if<serving::Delta>(&*ev)) {
        acc.Add(*d);
        continue;
      }
      const auto& finish = std::get<serving::Finish>(*ev);
      if (finish.reason == serving::FinishReason::kError) {
        co_await SendError(w, finish.error);
        co_return;
      }
      std::string body = chat ? acc.ChatCompletionJson(meta, finish, logprobs)
                              : acc.CompletionJson(meta, finish, logprobs, echo_prefix);
      co_await w.Send(200, kJson, std::move(body));
      co_return;
    }
    request->Cancel();  // the wait was cancelled (shutdown)
    co_return;
  }

  if (!co_await w.StartStream(200, "text/event-stream", SseHeaders())) {
    request->Cancel();
    co_return;
  }
  bool ok = true;
  // Every awaited write takes a named string: GCC 12 mishandles temporaries that live
  // across co_await (it may destroy them twice).
  std::string event;
  if (chat) {
    event = ChatChunkEvent(meta, serving::Delta{}, /*first=*/true, false);
    ok = co_await w.Write(event);
  }
  if (!chat && !echo_prefix.empty()) {
    serving::Delta echo;
    echo.content = echo_prefix;
    event = CompletionChunkEvent(meta, echo, false);
    ok = co_await w.Write(event);
  }
  while (ok) {
    std::optional<Event> ev = co_await queue->Pop();
    if (!ev) break;
    if (auto* d = std::get_if<serving::Delta>(&*ev)) {
      event = chat ? ChatChunkEvent(meta, *d, false, logprobs) : CompletionChunkEvent(meta, *d, logprobs);
      ok = co_await w.Write(event);
      continue;
    }
    const auto& finish = std::get<serving::Finish>(*ev);
    if (finish.reason == serving::FinishReason::kError) {
      event = ErrorEvent(finish.error);
    } else {
      event = chat ? ChatFinishEvent(meta, finish) : CompletionFinishEvent(meta, finish);
      if (stream.include_usage) {
        event += UsageEvent(meta, chat ? "chat.completion.chunk" : "text_completion", finish.usage);
      }
    }
    co_await w.Write(event);
    co_await w.Write(kDoneEvent);
    co_await w.EndStream();
    co_return;
  }
  request->Cancel();  // the client went away or the wait was cancelled
}

// Runs one Responses-API generation (Generate's pattern, with the Responses shapes) and, when
// `store` is set, keeps the conversation (`conversation` plus the reply) for
// previous_response_id.
template <typename StartFn>
awaitable<void> GenerateResponse(http::ResponseWriter& w, CallAccess& access, StartFn start,
                                 ResponsesMeta meta, bool stream, std::string prompt,
                                 std::vector<chat::Message> conversation, ResponseStore& store) {
  auto queue = std::make_shared<EventQueue>();
  std::shared_ptr<TrackedSink> tracked =
      access.Track(std::make_shared<QueueSink>(queue), meta.model, std::move(prompt));
  std::shared_ptr<serving::Sink> sink = tracked;
  std::optional<Submitted> handle;
  handle.emplace(
      co_await http::AwaitCallback<Submitted>([&start, &sink](std::function<void(Submitted)> done) {
        start(std::move(sink), std::move(done));
      }));
  if (!handle->ok()) {
    tracked->Refuse(handle->status());
    co_await SendError(w, handle->status());
    co_return;
  }
  tracked.reset();
  std::shared_ptr<serving::RequestHandle> request = **handle;
  w.OnDisconnect([request] { request->Cancel(); });

  const std::string caller = access.principal().subject;
  const std::string id = meta.id;
  const bool keep = meta.store;
  ResponseBuilder builder(std::move(meta));
  auto remember = [&] {
    if (!keep) return;
    conversation.push_back(builder.AssistantMessage());
    store.Put(caller, id, std::move(conversation));
  };
  std::string event;
  bool ok = true;
  if (stream) {
    if (!co_await w.StartStream(200, "text/event-stream", SseHeaders())) {
      request->Cancel();
      co_return;
    }
    event = builder.StartEvents();
    ok = co_await w.Write(event);
  }
  while (ok) {
    std::optional<Event> ev = co_await queue->Pop();
    if (!ev) break;
    if (auto* d = std::get_if<serving::Delta>(&*ev)) {
      event = builder.Add(*d);
      if (stream && !event.empty()) ok = co_await w.Write(event);
      continue;
    }
    const auto& finish = std::get<serving::Finish>(*ev);
    if (finish.reason == serving::FinishReason::kError) {
      if (!stream) {
        co_await SendError(w, finish.error);
        co_return;
      }
      event = builder.ErrorEvent(finish.error);
      co_await w.Write(event);
      co_await w.EndStream();
      co_return;
    }
    if (!stream) {
      std::string body = builder.ResponseJson(finish);
      remember();
      co_await w.Send(200, kJson, std::move(body));
      co_return;
    }
    event = builder.FinishEvents(finish);
    remember();
    co_await w.Write(event);
    co_await w.EndStream();
    co_return;
  }
  request->Cancel();  // the client went away or the wait was cancelled
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
                 const bool logprobs = parsed->request.options.logprobs;
                 StreamSettings stream = parsed->stream;
                 std::string prompt =
                     access.keeps_prompts() ? PromptText(parsed->request.messages) : "";
                 auto start = [&](std::shared_ptr<serving::Sink> sink, serving::InferenceService::Submitted done) {
                   service.SubmitChat(std::move(parsed->request), std::move(sink), std::move(done));
                 };
                 co_await Generate(w, access, start, meta, stream, logprobs, /*chat=*/true, "",
                                   std::move(prompt));
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
                 const bool logprobs = parsed->request.options.logprobs;
                 std::string echo = parsed->echo ? parsed->request.prompt : "";
                 StreamSettings stream = parsed->stream;
                 std::string prompt = access.keeps_prompts() ? parsed->request.prompt : "";
                 auto start = [&](std::shared_ptr<serving::Sink> sink, serving::InferenceService::Submitted done) {
                   service.SubmitComplete(std::move(parsed->request), std::move(sink), std::move(done));
                 };
                 co_await Generate(w, access, start, meta, stream, logprobs, /*chat=*/false, echo,
                                   std::move(prompt));
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
        const bool stream = parsed->stream;
        std::string prompt = access.keeps_prompts() ? PromptText(parsed->request.messages) : "";
        auto start = [&](std::shared_ptr<serving::Sink> sink,
                         serving::InferenceService::Submitted done) {
          service.SubmitChat(std::move(parsed->request), std::move(sink), std::move(done));
        };
        co_await GenerateResponse(w, access, start, std::move(meta), stream, std::move(prompt),
                                  std::move(conversation), *responses);
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
