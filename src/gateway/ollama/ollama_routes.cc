#include "gateway/ollama/ollama_routes.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <variant>

#include "gateway/access/http_guard.h"
#include "gateway/ollama/ollama_format.h"
#include "gateway/ollama/ollama_request.h"
#include "net/http/async_queue.h"
#include "net/http/await_callback.h"
#include "net/http/http_server.h"
#include "net/http/http_status.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Clock = std::chrono::steady_clock;
using Event = std::variant<serving::Delta, serving::Finish>;
using EventQueue = http::AsyncQueue<Event>;
using Submitted = Result<std::shared_ptr<serving::RequestHandle>>;

constexpr const char* kJson = "application/json; charset=utf-8";
constexpr const char* kNdjson = "application/x-ndjson";

int64_t Nanos(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Carries the engine thread's callbacks to the handler coroutine, noting when the first
// token and the end came (for Ollama's durations). (CallAccess::Track wraps it: the tokens are
// charged and the call recorded when the generation ends, even if the client has gone away.)
class QueueSink : public serving::Sink {
 public:
  explicit QueueSink(std::shared_ptr<EventQueue> queue) : queue_(std::move(queue)) {}
  void OnDelta(const serving::Delta& delta) override {
    int64_t unset = 0;
    first_ns_.compare_exchange_strong(unset, Nanos(Clock::now()));
    queue_->Push(delta);
  }
  void OnFinish(const serving::Finish& finish) override {
    finish_ns_.store(Nanos(Clock::now()));
    queue_->Push(finish);
    queue_->Close();
  }
  int64_t first_ns() const { return first_ns_.load(); }
  int64_t finish_ns() const { return finish_ns_.load(); }

 private:
  std::shared_ptr<EventQueue> queue_;
  std::atomic<int64_t> first_ns_{0};
  std::atomic<int64_t> finish_ns_{0};
};

awaitable<void> SendError(http::ResponseWriter& w, const Status& status) {
  http::Response reply = OllamaErrorResponse(status);
  co_await w.Send(std::move(reply));
}

http::Headers StreamHeaders() { return http::Headers{{"Cache-Control", "no-cache"}}; }

// What one generation needs besides the request: the identity of its lines and when it came.
struct Call {
  OllamaMeta meta;
  bool stream = true;
  bool chat = true;
  Clock::time_point received;
};

// `submitted`: when the request went to the service (its first token may come back before
// the service's answer to the submission does).
OllamaTimings Timings(const Call& call, Clock::time_point submitted, const QueueSink& sink) {
  const int64_t received = Nanos(call.received);
  const int64_t start = std::max(received, Nanos(submitted));
  const int64_t end =
      std::max(start, sink.finish_ns() > 0 ? sink.finish_ns() : Nanos(Clock::now()));
  const int64_t first = std::clamp(sink.first_ns() > 0 ? sink.first_ns() : end, start, end);
  OllamaTimings t;
  t.total_ns = end - received;
  t.load_ns = start - received;
  t.prompt_eval_ns = first - start;
  t.eval_ns = end - first;
  return t;
}

std::string Line(const Call& call, const OllamaPiece& piece) {
  return call.chat ? OllamaChatLine(call.meta, piece) : OllamaGenerateLine(call.meta, piece);
}

std::string DoneLine(const Call& call, const OllamaPiece& piece, const serving::Finish& finish,
                     const OllamaTimings& timings) {
  return call.chat ? OllamaChatDoneLine(call.meta, piece, finish, timings)
                   : OllamaGenerateDoneLine(call.meta, piece, finish, timings);
}

// Runs one generation and answers it, whole or as NDJSON lines. `start(sink, done)` submits
// to the service without holding this io thread.
template <typename StartFn>
awaitable<void> Generate(http::ResponseWriter& w, CallAccess& access, StartFn start,
                         const Call& call) {
  auto queue = std::make_shared<EventQueue>();
  auto queue_sink = std::make_shared<QueueSink>(queue);
  std::shared_ptr<TrackedSink> tracked = access.Track(queue_sink, call.meta.model);
  std::shared_ptr<serving::Sink> sink = tracked;
  const Clock::time_point submitted = Clock::now();
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
  tracked.reset();  // the engine holds it (and the call's admission) until the finish
  std::shared_ptr<serving::RequestHandle> request = **handle;
  w.OnDisconnect([request] { request->Cancel(); });

  if (!call.stream) {
    OllamaPiece whole;
    while (std::optional<Event> ev = co_await queue->Pop()) {
      if (auto* d = std::get_if<serving::Delta>(&*ev)) {
        whole.Add(*d);
        continue;
      }
      const auto& finish = std::get<serving::Finish>(*ev);
      if (finish.reason == serving::FinishReason::kError) {
        co_await SendError(w, finish.error);
        co_return;
      }
      std::string body = DoneLine(call, whole, finish, Timings(call, submitted, *queue_sink));
      body.pop_back();  // one JSON object, not a line
      co_await w.Send(200, kJson, std::move(body));
      co_return;
    }
    request->Cancel();  // the wait was cancelled (shutdown)
    co_return;
  }

  if (!co_await w.StartStream(200, kNdjson, StreamHeaders())) {
    request->Cancel();
    co_return;
  }
  // Tool calls arrive in pieces; Ollama sends each whole, so they are held until the end.
  OllamaPiece calls;
  bool ok = true;
  // Every awaited write takes a named string: GCC 12 mishandles temporaries that live
  // across co_await (it may destroy them twice).
  std::string line;
  while (ok) {
    std::optional<Event> ev = co_await queue->Pop();
    if (!ev) break;
    if (auto* d = std::get_if<serving::Delta>(&*ev)) {
      OllamaPiece piece;
      piece.content = d->content;
      piece.thinking = d->reasoning;
      if (!d->tool_calls.empty()) {
        serving::Delta tools;
        tools.tool_calls = d->tool_calls;
        calls.Add(tools);
      }
      if (piece.content.empty() && piece.thinking.empty()) continue;
      line = Line(call, piece);
      ok = co_await w.Write(line);
      continue;
    }
    const auto& finish = std::get<serving::Finish>(*ev);
    if (finish.reason == serving::FinishReason::kError) {
      line = OllamaErrorLine(finish.error.message());
    } else {
      line.clear();
      if (!calls.tool_calls.empty()) line = Line(call, calls);
      line += DoneLine(call, OllamaPiece{}, finish, Timings(call, submitted, *queue_sink));
    }
    co_await w.Write(line);
    co_await w.EndStream();
    co_return;
  }
  request->Cancel();  // the client went away or the wait was cancelled
}

// A model the caller may see: served and allowed. Others are "not found" alike, so that a
// caller learns nothing about models it may not use.
std::optional<serving::ModelInfo> VisibleModel(serving::InferenceService& service,
                                               CallAccess& access, const std::string& name) {
  if (!access.principal().MayUseModel(name)) return std::nullopt;
  for (serving::ModelInfo& m : service.ListModels()) {
    if (m.id == name) return std::move(m);
  }
  return std::nullopt;
}

Status ModelNotFound(const std::string& name) {
  return NotFoundError("model \"" + name + "\" not found").WithField("model");
}

// The answer to a call without messages or prompt: Ollama loads the model and says so.
awaitable<void> AnswerLoad(http::ResponseWriter& w, serving::InferenceService& service,
                           CallAccess& access, const Call& call, const std::string& model) {
  if (Status allowed = access.AllowModel(model); !allowed.ok()) {
    co_await SendError(w, allowed);
    co_return;
  }
  if (!VisibleModel(service, access, model)) {
    co_await SendError(w, ModelNotFound(model));
    co_return;
  }
  std::string body = OllamaLoadedLine(call.meta, call.chat);
  if (call.stream) {
    co_await w.Send(200, kNdjson, std::move(body));
  } else {
    body.pop_back();
    co_await w.Send(200, kJson, std::move(body));
  }
}

awaitable<void> NoEmbeddings(http::Request&, http::ResponseWriter& w, CallAccess&) {
  const Status status =
      UnimplementedError("embeddings are not supported: llmux serves generative models only");
  co_await SendError(w, status);
}

}  // namespace

http::Response OllamaErrorResponse(const Status& status) {
  // Features llmux does not have are 501 here (OpenAI's API says 400 for them).
  const int code = status.code() == StatusCode::kUnimplemented ? 501 : http::HttpStatusFor(status);
  return http::Response{code, kJson, OllamaErrorJson(status.message()), {}};
}

http::Response OllamaServerErrorResponse(int http_status, const std::string& message) {
  return http::Response{http_status, kJson, OllamaErrorJson(message), {}};
}

void RegisterOllamaRoutes(GuardedRouter& router, serving::InferenceService& service,
                          OllamaRoutesOptions options) {
  // The server's own errors under /api/ (413, 404 for routes llmux lacks such as /api/push)
  // in Ollama's shape too, so that its clients show the message.
  router.server().SetErrorFormatter("/api/", OllamaServerErrorResponse);
  router.Route(
      "POST", "/api/chat",
      [&service](http::Request& req, http::ResponseWriter& w,
                 CallAccess& access) -> awaitable<void> {
        const Clock::time_point received = Clock::now();
        auto parsed = ParseOllamaChatRequest(req.body);
        if (!parsed.ok()) {
          access.Refuse(parsed.status());
          co_await SendError(w, parsed.status());
          co_return;
        }
        Call call{OllamaMeta{parsed->request.model, Rfc3339Now()}, parsed->stream, true, received};
        if (parsed->load_only) {
          co_await AnswerLoad(w, service, access, call, parsed->request.model);
          co_return;
        }
        if (Status allowed = access.AllowModel(parsed->request.model); !allowed.ok()) {
          access.Refuse(allowed, parsed->request.model);
          co_await SendError(w, allowed);
          co_return;
        }
        parsed->request.options.caller_share = access.share();
        auto start = [&](std::shared_ptr<serving::Sink> sink,
                         serving::InferenceService::Submitted done) {
          service.SubmitChat(std::move(parsed->request), std::move(sink), std::move(done));
        };
        co_await Generate(w, access, start, call);
      });

  router.Route("POST", "/api/generate",
               [&service](http::Request& req, http::ResponseWriter& w,
                          CallAccess& access) -> awaitable<void> {
                 const Clock::time_point received = Clock::now();
                 auto parsed = ParseOllamaGenerateRequest(req.body);
                 if (!parsed.ok()) {
                   access.Refuse(parsed.status());
                   co_await SendError(w, parsed.status());
                   co_return;
                 }
                 const std::string model = parsed->model();
                 Call call{OllamaMeta{model, Rfc3339Now()}, parsed->stream, false, received};
                 if (parsed->load_only) {
                   co_await AnswerLoad(w, service, access, call, model);
                   co_return;
                 }
                 if (Status allowed = access.AllowModel(model); !allowed.ok()) {
                   access.Refuse(allowed, model);
                   co_await SendError(w, allowed);
                   co_return;
                 }
                 if (parsed->raw) {
                   parsed->completion.options.caller_share = access.share();
                   auto start = [&](std::shared_ptr<serving::Sink> sink,
                                    serving::InferenceService::Submitted done) {
                     service.SubmitComplete(std::move(parsed->completion), std::move(sink),
                                            std::move(done));
                   };
                   co_await Generate(w, access, start, call);
                 } else {
                   parsed->chat.options.caller_share = access.share();
                   auto start = [&](std::shared_ptr<serving::Sink> sink,
                                    serving::InferenceService::Submitted done) {
                     service.SubmitChat(std::move(parsed->chat), std::move(sink), std::move(done));
                   };
                   co_await Generate(w, access, start, call);
                 }
               });

  router.Route(
      "GET", "/api/tags",
      [&service](http::Request&, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
        std::vector<serving::ModelInfo> models;
        for (serving::ModelInfo& m : service.ListModels()) {
          if (access.principal().MayUseModel(m.id)) models.push_back(std::move(m));
        }
        std::string body = OllamaTagsJson(models);
        co_await w.Send(200, kJson, std::move(body));
      });

  router.Route(
      "GET", "/api/ps",
      [&service](http::Request&, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
        std::vector<serving::ModelInfo> models;
        for (serving::ModelInfo& m : service.ListModels()) {
          if (access.principal().MayUseModel(m.id)) models.push_back(std::move(m));
        }
        std::string body = OllamaPsJson(models);
        co_await w.Send(200, kJson, std::move(body));
      });

  router.Route("POST", "/api/show",
               [&service](http::Request& req, http::ResponseWriter& w,
                          CallAccess& access) -> awaitable<void> {
                 auto name = ParseOllamaShowRequest(req.body);
                 if (!name.ok()) {
                   co_await SendError(w, name.status());
                   co_return;
                 }
                 std::optional<serving::ModelInfo> model = VisibleModel(service, access, *name);
                 if (!model) {
                   co_await SendError(w, ModelNotFound(*name));
                   co_return;
                 }
                 std::string body = OllamaShowJson(*model);
                 co_await w.Send(200, kJson, std::move(body));
               });

  const std::string version_body = OllamaVersionJson(kOllamaApiVersion, options.llmux_version);
  router.Route(
      "GET", "/api/version",
      [version_body](http::Request&, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
        std::string body = version_body;
        co_await w.Send(200, kJson, std::move(body));
      });

  router.Route("POST", "/api/embed", NoEmbeddings);
  router.Route("POST", "/api/embeddings", NoEmbeddings);
}

}  // namespace llmux::gateway
