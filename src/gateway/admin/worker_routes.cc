#include "gateway/admin/worker_routes.h"

#include <spdlog/spdlog.h>

#include <memory>

#include "gateway/admin/json_reply.h"
#include "net/http/off_loop.h"
#include "serving/worker_admin.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Json = nlohmann::json;

Json WorkerJson(const serving::WorkerStatus& s) {
  return {{"address", s.address}, {"state", s.state},   {"standby", s.standby},
          {"models", s.models},   {"outstanding", s.outstanding}};
}

}  // namespace

void RegisterWorkerRoutes(GuardedRouter& router, serving::WorkerAdmin& workers) {
  const ErrorReply* errors = &router.error_reply();
  serving::WorkerAdmin* admin = &workers;
  router.Route("GET", "/admin/v1/workers",
               [admin, errors](http::Request&, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   Json list = Json::array();
                   for (const serving::WorkerStatus& s : admin->Workers()) list.push_back(WorkerJson(s));
                   return Json{{"workers", std::move(list)}};
                 });
               });
  // A drain is a call to the worker (up to 5 s): made off the HTTP io threads.
  auto calls = std::make_shared<boost::asio::thread_pool>(2);
  router.Route("POST", "/admin/v1/workers/drain",
               [admin, errors, calls](http::Request& req, http::ResponseWriter& w,
                                      CallAccess& access) -> awaitable<void> {
                 auto drain = [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(Json body, BodyJson(req));
                   if (!body.is_object() || !body.contains("worker") || !body["worker"].is_string() ||
                       body["worker"].get_ref<const std::string&>().empty()) {
                     return InvalidArgumentError("worker is required (the worker's address, as GET /admin/v1/workers lists it)")
                         .WithField("worker");
                   }
                   const std::string address = body["worker"].get<std::string>();
                   LLMUX_ASSIGN_OR_RETURN(int in_flight, admin->DrainWorker(address));
                   spdlog::info("admin: {} drained worker {}", access.principal().display, address);
                   return Json{{"worker", address}, {"draining", true}, {"in_flight", in_flight}};
                 };
                 Result<Json> drained = co_await http::RunOffLoop(*calls, drain);
                 co_await ReplyJson(w, *errors, 200, [&] { return std::move(drained); });
               });
}

}  // namespace llmux::gateway
