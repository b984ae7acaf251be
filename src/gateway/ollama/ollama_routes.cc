#include "gateway/ollama/ollama_routes.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <variant>

#include "gateway/access/http_guard.h"
#include "gateway/access/run_generation.h"
#include "gateway/access/tracked_embed.h"
#include "gateway/ollama/ollama_format.h"
#include "gateway/ollama/ollama_request.h"
#include "net/http/http_server.h"
#include "net/http/http_status.h"
#include "serving/inference_service.h"
#include "serving/model_manager.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Clock = std::chrono::steady_clock;

constexpr const char* kJson = "application/json; charset=utf-8";
constexpr const char* kNdjson = "application/x-ndjson";

int64_t Nanos(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Carries the engine thread's callbacks to the handler coroutine, noting when the first
// token and the end came (for Ollama's durations). (CallAccess::Track wraps it: the tokens are
// charged and the call recorded when the generation ends, even if the client has gone away.)
class TimedQueueSink : public serving::Sink {
 public:
  explicit TimedQueueSink(std::shared_ptr<GenerationQueue> queue) : queue_(std::move(queue)) {}
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
  std::shared_ptr<GenerationQueue> queue_;
  std::atomic<int64_t> first_ns_{0};
  std::atomic<int64_t> finish_ns_{0};
};

awaitable<void> SendError(http::ResponseWriter& w, const Status& status) {
  http::Response reply = OllamaErrorResponse(status);
  co_await w.Send(std::move(reply));
}

// What one generation needs besides the request: the identity of its lines and when it came.
struct Call {
  OllamaMeta meta;
  bool stream = true;
  bool chat = true;
  Clock::time_point received;
};

// `submitted`: when the request went to the service (its first token may come back before
// the service's answer to the submission does).
OllamaTimings Timings(const Call& call, Clock::time_point submitted, const TimedQueueSink& sink) {
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

// One generation's answer: one JSON object, or NDJSON lines.
class OllamaReply {
 public:
  OllamaReply(const Call& call, std::shared_ptr<const TimedQueueSink> sink)
      : call_(call), sink_(std::move(sink)), submitted_(Clock::now()) {}
  bool Stream() const { return call_.stream; }
  http::Response ErrorResponse(const Status& status) const { return OllamaErrorResponse(status); }
  void Add(const serving::Delta& d) { whole_.Add(d); }
  std::string Body(const serving::Finish& finish) const {
    std::string body = DoneLine(call_, whole_, finish, Timings(call_, submitted_, *sink_));
    body.pop_back();  // one JSON object, not a line
    return body;
  }
  std::string BodyType() const { return kJson; }
  std::string StreamType() const { return kNdjson; }
  http::Headers StreamHeaders() const { return http::Headers{{"Cache-Control", "no-cache"}}; }
  std::string Start() { return ""; }
  std::string Event(const serving::Delta& d) {
    OllamaPiece piece;
    piece.content = d.content;
    piece.thinking = d.reasoning;
    if (!d.tool_calls.empty()) {
      serving::Delta tools;
      tools.tool_calls = d.tool_calls;
      calls_.Add(tools);
    }
    if (piece.content.empty() && piece.thinking.empty()) return "";
    return Line(call_, piece);
  }
  std::string End(const serving::Finish& finish) {
    if (finish.reason == serving::FinishReason::kError) {
      return OllamaErrorLine(finish.error.message());
    }
    std::string line;
    if (!calls_.tool_calls.empty()) line = Line(call_, calls_);
    line += DoneLine(call_, OllamaPiece{}, finish, Timings(call_, submitted_, *sink_));
    return line;
  }

 private:
  const Call& call_;
  std::shared_ptr<const TimedQueueSink> sink_;
  // When the request went to the service (its first token may come back before the service's
  // answer to the submission does).
  Clock::time_point submitted_;
  OllamaPiece whole_;
  // Tool calls arrive in pieces; Ollama sends each whole, so they are held until the end.
  OllamaPiece calls_;
};

// Runs one generation and answers it, whole or as NDJSON lines. `start(sink, done)` submits
// to the service without holding this io thread.
template <typename StartFn>
awaitable<void> Generate(http::ResponseWriter& w, CallAccess& access, StartFn start,
                         const Call& call) {
  auto queue = std::make_shared<GenerationQueue>();
  auto sink = std::make_shared<TimedQueueSink>(queue);
  OllamaReply reply(call, sink);
  // Named, not a temporary: GCC 12 may destroy temporaries that live across co_await twice.
  GenerationRun run{queue, sink, call.meta.model, ""};
  co_await RunGeneration(w, access, start, std::move(run), reply);
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
                           serving::ModelManager* models, CallAccess& access, const Call& call,
                           const std::string& model, const KeepAlive& keep_alive) {
  if (Status allowed = access.AllowModel(model); !allowed.ok()) {
    co_await SendError(w, allowed);
    co_return;
  }
  if (!VisibleModel(service, access, model)) {
    co_await SendError(w, ModelNotFound(model));
    co_return;
  }
  // With keep_alive the call sets how long the model stays (0: Ollama's way to unload it).
  if (models != nullptr && keep_alive) {
    Status kept = models->SetKeepAlive(model, static_cast<double>(*keep_alive));
    if (!kept.ok() && kept.code() != StatusCode::kUnimplemented) {
      co_await SendError(w, kept);
      co_return;
    }
  }
  std::string body = OllamaLoadedLine(call.meta, call.chat);
  if (call.stream) {
    co_await w.Send(200, kNdjson, std::move(body));
  } else {
    body.pop_back();
    co_await w.Send(200, kJson, std::move(body));
  }
}

// /api/embed and the older /api/embeddings: the same call, answered in each one's shape.
template <typename ParseFn, typename FormatFn>
awaitable<void> Embed(http::Request& req, http::ResponseWriter& w, CallAccess& access,
                      serving::InferenceService& service, ParseFn parse, FormatFn format) {
  const Clock::time_point received = Clock::now();
  auto parsed = parse(req.body);
  Status allowed = parsed.ok() ? access.AllowModel(parsed->request.model) : parsed.status();
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
  const int64_t total_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - received).count();
  std::string body = format(model, *result, total_ns);
  co_await w.Send(200, kJson, std::move(body));
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

namespace {

// A request's keep_alive for the serving core (seconds as a number).
std::optional<double> KeepAliveSeconds(const KeepAlive& keep_alive) {
  if (!keep_alive) return std::nullopt;
  return static_cast<double>(*keep_alive);
}

// Each loaded model's expiry for /api/ps, from the lifecycle (none without one).
std::map<std::string, OllamaExpiry> Expiries(serving::ModelManager* models) {
  std::map<std::string, OllamaExpiry> out;
  if (models == nullptr) return out;
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (const serving::ModelStatus& s : models->ModelStatuses()) {
    OllamaExpiry e;
    e.size_bytes = s.weights_bytes + s.kv_bytes;
    e.expires_at = s.expires_at;
    // Busy with a keep-alive: it counts from the end of the requests; Ollama shows it from now.
    if (!e.expires_at && s.keep_alive_s && !s.pinned && s.in_flight > 0) {
      e.expires_at = now + *s.keep_alive_s;
    }
    out.emplace(s.name, e);
  }
  return out;
}

}  // namespace

void RegisterOllamaRoutes(GuardedRouter& router, serving::InferenceService& service,
                          OllamaRoutesOptions options) {
  serving::ModelManager* models = options.models;
  // The server's own errors under /api/ (413, 404 for routes llmux lacks such as /api/push)
  // in Ollama's shape too, so that its clients show the message.
  router.server().SetErrorFormatter("/api/", OllamaServerErrorResponse);
  router.Route(
      "POST", "/api/chat",
      [&service, models](http::Request& req, http::ResponseWriter& w,
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
          co_await AnswerLoad(w, service, models, access, call, parsed->request.model,
                              parsed->keep_alive);
          co_return;
        }
        if (Status allowed = access.AllowModel(parsed->request.model); !allowed.ok()) {
          access.Refuse(allowed, parsed->request.model);
          co_await SendError(w, allowed);
          co_return;
        }
        parsed->request.options.caller_share = access.share();
        parsed->request.options.keep_alive_s = KeepAliveSeconds(parsed->keep_alive);
        auto start = [&](std::shared_ptr<serving::Sink> sink,
                         serving::InferenceService::Submitted done) {
          service.SubmitChat(std::move(parsed->request), std::move(sink), std::move(done));
        };
        co_await Generate(w, access, start, call);
      });

  router.Route("POST", "/api/generate",
               [&service, models](http::Request& req, http::ResponseWriter& w,
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
                   co_await AnswerLoad(w, service, models, access, call, model, parsed->keep_alive);
                   co_return;
                 }
                 if (Status allowed = access.AllowModel(model); !allowed.ok()) {
                   access.Refuse(allowed, model);
                   co_await SendError(w, allowed);
                   co_return;
                 }
                 if (parsed->raw) {
                   parsed->completion.options.caller_share = access.share();
                   parsed->completion.options.keep_alive_s = KeepAliveSeconds(parsed->keep_alive);
                   auto start = [&](std::shared_ptr<serving::Sink> sink,
                                    serving::InferenceService::Submitted done) {
                     service.SubmitComplete(std::move(parsed->completion), std::move(sink),
                                            std::move(done));
                   };
                   co_await Generate(w, access, start, call);
                 } else {
                   parsed->chat.options.caller_share = access.share();
                   parsed->chat.options.keep_alive_s = KeepAliveSeconds(parsed->keep_alive);
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

  router.Route("GET", "/api/ps",
               [&service, models](http::Request&, http::ResponseWriter& w,
                                  CallAccess& access) -> awaitable<void> {
                 std::vector<serving::ModelInfo> loaded;
                 for (serving::ModelInfo& m : service.ListModels()) {
                   if (access.principal().MayUseModel(m.id)) loaded.push_back(std::move(m));
                 }
                 std::string body = OllamaPsJson(loaded, Expiries(models));
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

  router.Route("POST", "/api/embed",
               [&service](http::Request& req, http::ResponseWriter& w,
                          CallAccess& access) -> awaitable<void> {
                 co_await Embed(req, w, access, service, ParseOllamaEmbedRequest, OllamaEmbedJson);
               });
  router.Route("POST", "/api/embeddings",
               [&service](http::Request& req, http::ResponseWriter& w,
                          CallAccess& access) -> awaitable<void> {
                 co_await Embed(req, w, access, service, ParseOllamaLegacyEmbeddingsRequest,
                                [](const std::string&, const serving::EmbedResult& r, int64_t) {
                                  return OllamaLegacyEmbeddingJson(r);
                                });
               });
}

}  // namespace llmux::gateway
