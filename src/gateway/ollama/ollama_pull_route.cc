#include "gateway/ollama/ollama_pull_route.h"

#include <spdlog/spdlog.h>

#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/json_nesting.h"
#include "gateway/access/http_guard.h"
#include "gateway/ollama/ollama_routes.h"
#include "net/pull/pull_off_loop.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Json = nlohmann::json;

struct OllamaPull {
  pull::PullRequest request;
  bool stream = true;
};

Result<OllamaPull> ParseOllamaPull(const std::string& text) {
  if (!JsonNestingWithin(text)) return InvalidArgumentError(JsonTooDeepMessage());
  Json body = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object())
    return InvalidArgumentError("the body must be a JSON object");
  OllamaPull out;
  // "name" is the older spelling of "model".
  const char* field = body.contains("model") ? "model" : "name";
  if (!body.contains(field) || !body[field].is_string())
    return InvalidArgumentError("model is required");
  const std::string model = body[field].get<std::string>();
  if (model.rfind("http://", 0) != 0 && model.rfind("https://", 0) != 0) {
    return InvalidArgumentError(
        "llmux pulls from a URL: give the model file's http(s) URL as model");
  }
  out.request.url = model;
  if (body.contains("stream")) {
    if (!body["stream"].is_boolean()) return InvalidArgumentError("stream must be a boolean");
    out.stream = body["stream"].get<bool>();
  }
  if (body.contains("insecure") && !body["insecure"].is_boolean()) {
    return InvalidArgumentError("insecure must be a boolean");
  }
  return out;
}

Json ProgressJson(const pull::PullProgress& p) {
  Json j = {{"status", p.status}};
  if (!p.digest.empty()) j["digest"] = p.digest;
  if (p.total > 0) {
    j["total"] = p.total;
    j["completed"] = p.completed;
  }
  return j;
}

std::string ProgressLine(const pull::PullProgress& p) { return ProgressJson(p).dump() + "\n"; }
std::string ErrorLine(const Status& s) { return Json{{"error", s.message()}}.dump() + "\n"; }
http::Headers NdjsonHeaders() { return http::Headers{{"Cache-Control", "no-cache"}}; }

http::Response FinalReply(const Result<pull::PulledModel>& done) {
  if (!done.ok()) return OllamaErrorResponse(done.status());
  return http::Response{
      200, "application/json; charset=utf-8", Json{{"status", "success"}}.dump(), {}};
}

}  // namespace

void RegisterOllamaPullRoute(GuardedRouter& router, pull::ModelPuller& puller) {
  pull::ModelPuller* p = &puller;
  auto pool = std::make_shared<boost::asio::thread_pool>(std::max(1, puller.options().max_pulls));
  router.Route("POST", "/api/pull",
               [p, pool](http::Request& req, http::ResponseWriter& w,
                         CallAccess& access) -> awaitable<void> {
                 Result<OllamaPull> call = ParseOllamaPull(req.body);
                 auto start = [&]() -> Result<std::unique_ptr<pull::PullJob>> {
                   if (!call.ok()) return call.status();
                   const std::string caller =
                       access.share().empty() ? access.principal().subject : access.share();
                   return p->Start(call->request, caller);
                 };
                 Result<std::unique_ptr<pull::PullJob>> job = start();
                 if (!job.ok()) {
                   http::Response reply = OllamaErrorResponse(job.status());
                   co_await w.Send(std::move(reply));
                   co_return;
                 }
                 const bool stream = call->stream;
                 if (stream) {
                   http::Headers headers = NdjsonHeaders();
                   const bool started =
                       co_await w.StartStream(200, "application/x-ndjson", std::move(headers));
                   if (!started) co_return;
                 }
                 pull::PullEmit emit = [&w,
                                        stream](const pull::PullProgress& pr) -> awaitable<bool> {
                   if (!stream) co_return !w.disconnected();
                   const std::string line = ProgressLine(pr);
                   const bool ok = co_await w.Write(line);
                   co_return ok;
                 };
                 Result<pull::PulledModel> done =
                     co_await pull::RunPullOffLoop(*pool, std::move(*job), emit);
                 if (done.ok())
                   spdlog::info("ollama: {} pulled {} as {}", access.principal().display,
                                done->source, done->digest);
                 if (!stream) {
                   http::Response reply = FinalReply(done);
                   co_await w.Send(std::move(reply));
                   co_return;
                 }
                 if (!done.ok()) {
                   const std::string line = ErrorLine(done.status());
                   co_await w.Write(line);
                 }
                 co_await w.EndStream();
               });
}

}  // namespace llmux::gateway
