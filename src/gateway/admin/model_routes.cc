#include "gateway/admin/model_routes.h"

#include <boost/asio/awaitable.hpp>
#include <optional>

#include "gateway/admin/json_reply.h"
#include "net/pull/model_puller.h"
#include "serving/model_manager.h"
#include "serving/worker_admin.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Json = nlohmann::json;

Json Optional(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

Json ModelStatusJson(const serving::ModelStatus& s) {
  Json j = {{"name", s.name},
            {"path", s.path},
            {"state", serving::ModelStateName(s.state)},
            {"pinned", s.pinned},
            {"keep_alive_s", Optional(s.keep_alive_s)},
            {"expires_at", Optional(s.expires_at)},
            {"loaded_at", s.loaded_at},
            {"last_used", s.last_used},
            {"in_flight", s.in_flight},
            {"weights_bytes", s.weights_bytes},
            {"kv_bytes", s.kv_bytes},
            {"memory_bytes", s.weights_bytes + s.kv_bytes}};
  if (s.state == serving::ModelState::kFailed) j["reason"] = s.reason;
  return j;
}

// The pulls running now, as entries of the list.
Json DownloadingList(const pull::ModelPuller* pulls) {
  Json list = Json::array();
  if (pulls == nullptr) return list;
  for (const pull::ActivePull& p : pulls->Active()) {
    list.push_back({{"name", p.name.empty() ? p.source : p.name},
                    {"source", p.source},
                    {"state", "downloading"},
                    {"digest", p.progress.digest},
                    {"completed", p.progress.completed},
                    {"total", p.progress.total}});
  }
  return list;
}

}  // namespace

void RegisterModelRoutes(GuardedRouter& router, serving::ModelManager& models,
                         const pull::ModelPuller* pulls) {
  const ErrorReply* errors = &router.error_reply();
  serving::ModelManager* m = &models;
  router.Route(
      "GET", "/admin/v1/models",
      [m, pulls, errors](http::Request&, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
        co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
          Json list = DownloadingList(pulls);
          for (const serving::ModelStatus& s : m->ModelStatuses()) {
            list.push_back(ModelStatusJson(s));
          }
          return Json{{"models", std::move(list)}};
        });
      });
}

void RegisterWorkerModelRoutes(GuardedRouter& router, serving::WorkerAdmin& workers,
                               const pull::ModelPuller* pulls) {
  const ErrorReply* errors = &router.error_reply();
  serving::WorkerAdmin* admin = &workers;
  router.Route("GET", "/admin/v1/models",
               [admin, pulls, errors](http::Request&, http::ResponseWriter& w,
                                      CallAccess&) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   Json list = DownloadingList(pulls);
                   for (const serving::WorkerModelStatus& m : admin->WorkerModels()) {
                     Json j = ModelStatusJson(m.status);
                     j["worker"] = m.worker;
                     list.push_back(std::move(j));
                   }
                   return Json{{"models", std::move(list)}};
                 });
               });
}

}  // namespace llmux::gateway
