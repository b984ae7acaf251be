#include "gateway/admin/model_pull_routes.h"

#include <spdlog/spdlog.h>

#include <boost/asio/thread_pool.hpp>
#include <memory>

#include "gateway/admin/json_reply.h"
#include "net/pull/pull_off_loop.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Json = nlohmann::json;

Result<std::string> OptionalString(const Json& body, const char* field) {
  if (!body.contains(field)) return std::string();
  if (!body[field].is_string())
    return InvalidArgumentError(std::string(field) + " must be a string").WithField(field);
  return body[field].get<std::string>();
}

Result<pull::PullRequest> PullRequestFromJson(const Json& body) {
  if (!body.is_object()) return InvalidArgumentError("the body must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    if (key != "url" && key != "path" && key != "sha256" && key != "name") {
      return InvalidArgumentError("unknown field '" + key.substr(0, 64) + "'")
          .WithField(key.substr(0, 64));
    }
  }
  pull::PullRequest r;
  LLMUX_ASSIGN_OR_RETURN(r.url, OptionalString(body, "url"));
  LLMUX_ASSIGN_OR_RETURN(r.path, OptionalString(body, "path"));
  LLMUX_ASSIGN_OR_RETURN(r.sha256, OptionalString(body, "sha256"));
  LLMUX_ASSIGN_OR_RETURN(r.name, OptionalString(body, "name"));
  return r;
}

std::string ProgressLine(const pull::PullProgress& p) {
  Json j = {
      {"status", p.status}, {"digest", p.digest}, {"total", p.total}, {"completed", p.completed}};
  return j.dump() + "\n";
}

std::string LastLine(const Result<pull::PulledModel>& done) {
  Json j;
  if (done.ok()) {
    j = {{"status", "success"},     {"digest", done->digest}, {"total", done->size},
         {"completed", done->size}, {"path", done->path},     {"size", done->size},
         {"name", done->name}};
  } else {
    j = {{"error", done.status().message()}};
  }
  return j.dump() + "\n";
}

http::Headers NdjsonHeaders() { return http::Headers{{"Cache-Control", "no-cache"}}; }

}  // namespace

void RegisterModelPullRoutes(GuardedRouter& router, pull::ModelPuller& puller) {
  const ErrorReply* errors = &router.error_reply();
  pull::ModelPuller* p = &puller;
  auto pool = std::make_shared<boost::asio::thread_pool>(std::max(1, puller.options().max_pulls));
  router.Route("POST", "/admin/v1/models/pull",
               [p, errors, pool](http::Request& req, http::ResponseWriter& w,
                                 CallAccess& access) -> awaitable<void> {
                 auto start = [&]() -> Result<std::unique_ptr<pull::PullJob>> {
                   LLMUX_ASSIGN_OR_RETURN(Json body, BodyJson(req));
                   LLMUX_ASSIGN_OR_RETURN(pull::PullRequest r, PullRequestFromJson(body));
                   const std::string caller =
                       access.share().empty() ? access.principal().subject : access.share();
                   return p->Start(r, caller);
                 };
                 Result<std::unique_ptr<pull::PullJob>> job = start();
                 if (!job.ok()) {
                   http::Response reply = (*errors)(job.status());
                   co_await w.Send(std::move(reply));
                   co_return;
                 }
                 http::Headers headers = NdjsonHeaders();
                 const bool started =
                     co_await w.StartStream(200, "application/x-ndjson", std::move(headers));
                 if (!started) co_return;
                 pull::PullEmit emit = [&w](const pull::PullProgress& pr) -> awaitable<bool> {
                   if (pr.status == "success") co_return true;  // written below, with the path
                   const std::string line = ProgressLine(pr);
                   const bool ok = co_await w.Write(line);
                   co_return ok;
                 };
                 Result<pull::PulledModel> done =
                     co_await pull::RunPullOffLoop(*pool, std::move(*job), emit);
                 if (done.ok()) {
                   spdlog::info("admin: {} pulled {} as {}", access.principal().display,
                                done->source, done->digest);
                 }
                 const std::string last = LastLine(done);
                 co_await w.Write(last);
                 co_await w.EndStream();
               });
}

}  // namespace llmux::gateway
