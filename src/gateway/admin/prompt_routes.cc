#include "gateway/admin/prompt_routes.h"

#include <boost/asio/awaitable.hpp>

#include "gateway/admin/admin_json.h"
#include "gateway/admin/json_reply.h"
#include "store/store.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Json = nlohmann::json;

void Audit(store::Store& store, const CallAccess& access, const char* action, const std::string& name,
           const Status& outcome) {
  store::AuditEvent e;
  e.actor = access.principal().subject;
  e.action = action;
  e.target = "prompt:" + name;
  e.source = access.source();
  e.outcome = outcome.ok() ? "ok" : "failed";
  e.detail = outcome.ok() ? "" : outcome.message();
  (void)store.AppendAudit(e);  // a busy log must not fail the change
}

}  // namespace

void RegisterPromptRoutes(GuardedRouter& router, store::Store& store) {
  store::Store* s = &store;
  const ErrorReply* errors = &router.error_reply();
  router.Route("GET", "/admin/v1/prompts",
               [s, errors](http::Request&, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(auto prompts, s->ListPrompts());
                   Json data = Json::array();
                   for (const auto& p : prompts) data.push_back(PromptJson(p));
                   return Json{{"object", "list"}, {"data", data}};
                 });
               });
  router.Route("PUT", "/admin/v1/prompts",
               [s, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(Json body, BodyJson(req));
                   LLMUX_ASSIGN_OR_RETURN(store::Prompt prompt, PromptFromJson(body));
                   prompt.updated_by = access.principal().display;
                   Status st = s->UpsertPrompt(prompt);
                   Audit(*s, access, "prompts.put", prompt.name, st);
                   LLMUX_RETURN_IF_ERROR(st);
                   LLMUX_ASSIGN_OR_RETURN(auto stored, s->ListPrompts());
                   for (const auto& p : stored) {
                     if (p.name == prompt.name) return PromptJson(p);
                   }
                   return NotFoundError("prompt " + prompt.name + " vanished after it was stored");
                 });
               });
  router.Route("DELETE", "/admin/v1/prompts",
               [s, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   auto name = QueryValue(req.query, "name");
                   if (!name) return InvalidArgumentError("query parameter name is required").WithField("name");
                   Status st = s->DeletePrompt(*name);
                   Audit(*s, access, "prompts.delete", *name, st);
                   LLMUX_RETURN_IF_ERROR(st);
                   return Json{{"name", *name}, {"object", "prompt"}, {"deleted", true}};
                 });
               });
}

}  // namespace llmux::gateway
