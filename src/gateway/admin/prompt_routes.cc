#include "gateway/admin/prompt_routes.h"

#include <boost/asio/awaitable.hpp>

#include "gateway/admin/admin_json.h"
#include "gateway/admin/json_reply.h"
#include "services/prompts/prompt_service.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Json = nlohmann::json;

audit::Actor ActorOf(const CallAccess& access) {
  return audit::Actor{access.principal().subject, access.principal().display, access.source()};
}

}  // namespace

void RegisterPromptRoutes(GuardedRouter& router, prompts::PromptService& service) {
  prompts::PromptService* s = &service;
  const ErrorReply* errors = &router.error_reply();
  router.Route("GET", "/admin/v1/prompts",
               [s, errors](http::Request&, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(auto stored, s->List());
                   Json data = Json::array();
                   for (const auto& p : stored) data.push_back(PromptJson(p));
                   return Json{{"object", "list"}, {"data", data}};
                 });
               });
  router.Route("PUT", "/admin/v1/prompts",
               [s, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(Json body, BodyJson(req));
                   LLMUX_ASSIGN_OR_RETURN(prompts::Prompt prompt, PromptFromJson(body));
                   LLMUX_ASSIGN_OR_RETURN(prompts::Prompt stored, s->Put(ActorOf(access), std::move(prompt)));
                   return PromptJson(stored);
                 });
               });
  router.Route("DELETE", "/admin/v1/prompts",
               [s, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   auto name = QueryValue(req.query, "name");
                   if (!name) return InvalidArgumentError("query parameter name is required").WithField("name");
                   LLMUX_RETURN_IF_ERROR(s->Delete(ActorOf(access), *name));
                   return Json{{"name", *name}, {"object", "prompt"}, {"deleted", true}};
                 });
               });
}

}  // namespace llmux::gateway
