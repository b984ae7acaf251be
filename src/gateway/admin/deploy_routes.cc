#include "gateway/admin/deploy_routes.h"

#include <boost/asio/awaitable.hpp>

#include "gateway/admin/admin_json.h"
#include "gateway/admin/json_reply.h"
#include "net/http/async_queue.h"
#include "net/http/off_loop.h"
#include "rollout/deploy_service.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Json = nlohmann::json;

Json ProgressJson(const rollout::DeployProgress& p) {
  Json workers = Json::object();
  for (const auto& [id, state] : p.workers) workers[id] = state;
  Json j = {{"object", "deploy"},
            {"id", p.deploy_id},
            {"model", p.model},
            {"served", p.served},
            {"state", std::string(rollout::DeployStateName(p.state))},
            {"workers", workers}};
  if (!p.reason.empty()) j["reason"] = p.reason;
  if (p.commit_revision != 0) j["commit_revision"] = p.commit_revision;
  return j;
}

Result<std::string> String(const Json& body, const char* name, bool required) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) return InvalidArgumentError(std::string(name) + " is required").WithField(name);
    return std::string();
  }
  if (!it->is_string()) {
    return InvalidArgumentError(std::string(name) + " must be a string").WithField(name);
  }
  return it->get<std::string>();
}

Result<rollout::DeployRequest> RequestFromJson(const Json& body) {
  if (!body.is_object()) return InvalidArgumentError("the body must be a JSON object");
  rollout::DeployRequest r;
  LLMUX_ASSIGN_OR_RETURN(r.model, String(body, "model", true));
  LLMUX_ASSIGN_OR_RETURN(r.version, String(body, "version", true));
  LLMUX_ASSIGN_OR_RETURN(r.path, String(body, "path", true));
  if (auto it = body.find("workers"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) return InvalidArgumentError("workers must be an array").WithField("workers");
    for (const Json& w : *it) {
      if (!w.is_string()) {
        return InvalidArgumentError("workers must be worker ids").WithField("workers");
      }
      r.workers.push_back(w.get<std::string>());
    }
  }
  if (auto it = body.find("timeout_s"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 3600) {
      return InvalidArgumentError("timeout_s must be an integer in [1, 3600]").WithField("timeout_s");
    }
    r.timeout = std::chrono::seconds(it->get<int64_t>());
  }
  return r;
}

// GET /admin/v1/deploys?id=X&stream=true: the progress as NDJSON, one object per change, until
// the deploy ends (the last line's state is committed or aborted) or following it fails (the
// last line is an error object, as the API's errors are). Any gateway can follow any deploy:
// the changes come from an etcd watch on the deploy's keys. Starting the watch (a call to etcd
// and a first read) and stopping it (its thread ends) block: both run on `calls`, never on the
// io thread.
awaitable<void> StreamProgress(http::ResponseWriter& w, const ErrorReply& errors,
                               rollout::DeployService& deploys, boost::asio::thread_pool& calls,
                               const std::string& id, const std::string& caller) {
  auto lines = std::make_shared<http::AsyncQueue<std::string>>();
  auto start = [&]() -> Result<std::unique_ptr<discovery::EtcdWatch>> {
    return deploys.Follow(id, caller, [lines, &errors](const Result<rollout::DeployProgress>& p) {
      std::string line = p.ok() ? ProgressJson(*p).dump() : errors(p.status()).body;
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      lines->Push(line + "\n");
      if (!p.ok() || p->state != rollout::DeployState::kPreparing) lines->Close();
    });
  };
  Result<std::unique_ptr<discovery::EtcdWatch>> follow = co_await http::RunOffLoop(calls, start);
  if (!follow.ok()) {
    http::Response reply = errors(follow.status());
    co_await w.Send(std::move(reply));
    co_return;
  }
  w.OnDisconnect([lines] { lines->Close(); });
  if (co_await w.StartStream(200, "application/x-ndjson", {})) {
    bool ok = true;
    while (ok) {
      std::optional<std::string> line = co_await lines->Pop();
      if (!line) break;
      ok = co_await w.Write(*line);
    }
    if (ok) co_await w.EndStream();
  }
  auto stop = [&follow] {
    follow->reset();  // stops the watch (waits for its thread)
    return true;
  };
  co_await http::RunOffLoop(calls, stop);
}

}  // namespace

void RegisterDeployRoutes(GuardedRouter& router, rollout::DeployService& deploys) {
  rollout::DeployService* d = &deploys;
  const ErrorReply* errors = &router.error_reply();
  // Every call of these routes waits on etcd (a start writes the plan, a read reads it, a
  // stream starts and stops a watch): made here, off the HTTP io threads. The service bounds
  // what runs (follows per caller); the pool only keeps the waits off the loop.
  auto calls = std::make_shared<boost::asio::thread_pool>(2);
  router.Route("POST", "/admin/v1/deploys",
               [d, errors, calls](http::Request& req, http::ResponseWriter& w,
                                  CallAccess& access) -> awaitable<void> {
                 auto start = [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(Json body, BodyJson(req));
                   LLMUX_ASSIGN_OR_RETURN(rollout::DeployRequest request, RequestFromJson(body));
                   audit::Actor actor;
                   actor.subject = access.principal().subject;
                   actor.source = access.source();
                   LLMUX_ASSIGN_OR_RETURN(rollout::DeployProgress started,
                                          d->Start(std::move(request), actor));
                   return ProgressJson(started);
                 };
                 Result<Json> started = co_await http::RunOffLoop(*calls, start);
                 co_await ReplyJson(w, *errors, 202, [&] { return std::move(started); });
               });
  router.Route(
      "GET", "/admin/v1/deploys",
      [d, errors, calls](http::Request& req, http::ResponseWriter& w,
                         CallAccess& access) -> awaitable<void> {
        const std::optional<std::string> stream = QueryValue(req.query, "stream");
        if (stream == "true") {
          const std::optional<std::string> id = QueryValue(req.query, "id");
          if (id) {
            co_await StreamProgress(w, *errors, *d, *calls, *id, access.principal().subject);
            co_return;
          }
        }
        auto get = [&]() -> Result<Json> {
          if (stream && stream != "true" && stream != "false") {
            return InvalidArgumentError("stream must be true or false").WithField("stream");
          }
          auto id = QueryValue(req.query, "id");
          if (!id) return InvalidArgumentError("query parameter id is required").WithField("id");
          LLMUX_ASSIGN_OR_RETURN(rollout::DeployProgress p, d->Get(*id));
          return ProgressJson(p);
        };
        Result<Json> progress = co_await http::RunOffLoop(*calls, get);
        co_await ReplyJson(w, *errors, 200, [&] { return std::move(progress); });
      });
}

}  // namespace llmux::gateway
