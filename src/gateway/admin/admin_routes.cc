#include "gateway/admin/admin_routes.h"

#include <boost/asio/awaitable.hpp>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "auth/auth_service.h"
#include "gateway/access/http_guard.h"
#include "gateway/admin/admin_json.h"
#include "gateway/admin/json_reply.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Json = nlohmann::json;

Result<std::optional<int64_t>> IntParam(const http::Request& req, std::string_view name) {
  auto raw = QueryValue(req.query, name);
  if (!raw) return std::optional<int64_t>();
  int64_t v = 0;
  auto [p, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), v);
  if (ec != std::errc() || p != raw->data() + raw->size() || v < 0) {
    return InvalidArgumentError("query parameter " + std::string(name) + " must be a non-negative integer")
        .WithField(std::string(name));
  }
  return std::optional<int64_t>(v);
}

Result<int64_t> RequiredId(const http::Request& req) {
  LLMUX_ASSIGN_OR_RETURN(std::optional<int64_t> id, IntParam(req, "id"));
  if (!id) return InvalidArgumentError("query parameter id is required").WithField("id");
  return *id;
}

Result<auth::Page> PageParams(const http::Request& req) {
  auth::Page page;
  LLMUX_ASSIGN_OR_RETURN(std::optional<int64_t> limit, IntParam(req, "limit"));
  LLMUX_ASSIGN_OR_RETURN(std::optional<int64_t> after, IntParam(req, "after"));
  if (limit) {
    if (*limit < 1 || *limit > 1000) return InvalidArgumentError("limit must be 1 to 1000").WithField("limit");
    page.limit = static_cast<int>(*limit);
  }
  if (after) page.after_id = *after;
  return page;
}

template <typename T, typename F>
Json ListJson(const T& page, F to_json) {
  Json data = Json::array();
  for (const auto& item : page.items) data.push_back(to_json(item));
  Json out = {{"object", "list"}, {"data", data}, {"has_more", page.has_more}};
  out["next_cursor"] = page.has_more ? Json(page.next_cursor) : Json(nullptr);
  return out;
}

auth::Actor ActorOf(const CallAccess& access) { return auth::Actor{access.principal(), access.source()}; }

}  // namespace

void RegisterAdminRoutes(GuardedRouter& router, auth::AuthService& auth) {
  const ErrorReply* errors = &router.error_reply();
  auth::AuthService* a = &auth;

  // --- users
  router.Route("GET", "/admin/v1/users",
               [a, errors](http::Request& req, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(std::optional<int64_t> id, IntParam(req, "id"));
                   if (id) {
                     LLMUX_ASSIGN_OR_RETURN(auth::User user, a->GetUser(*id));
                     return UserJson(user);
                   }
                   LLMUX_ASSIGN_OR_RETURN(auth::Page page, PageParams(req));
                   LLMUX_ASSIGN_OR_RETURN(auto users, a->ListUsers(page));
                   return ListJson(users, UserJson);
                 });
               });
  router.Route("POST", "/admin/v1/users",
               [a, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 201, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(Json body, BodyJson(req));
                   LLMUX_ASSIGN_OR_RETURN(auth::NewUser spec, NewUserFromJson(body));
                   LLMUX_ASSIGN_OR_RETURN(auth::User user, a->CreateUser(ActorOf(access), spec));
                   return UserJson(user);
                 });
               });
  router.Route("PATCH", "/admin/v1/users",
               [a, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(int64_t id, RequiredId(req));
                   LLMUX_ASSIGN_OR_RETURN(Json body, BodyJson(req));
                   LLMUX_ASSIGN_OR_RETURN(auth::UserUpdate update, UserUpdateFromJson(body));
                   LLMUX_ASSIGN_OR_RETURN(auth::User user, a->UpdateUser(ActorOf(access), id, update));
                   return UserJson(user);
                 });
               });
  router.Route("DELETE", "/admin/v1/users",
               [a, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(int64_t id, RequiredId(req));
                   LLMUX_RETURN_IF_ERROR(a->DeleteUser(ActorOf(access), id));
                   return Json{{"id", id}, {"object", "user"}, {"deleted", true}};
                 });
               });

  // --- keys
  router.Route("GET", "/admin/v1/keys",
               [a, errors](http::Request& req, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(std::optional<int64_t> id, IntParam(req, "id"));
                   if (id) {
                     LLMUX_ASSIGN_OR_RETURN(auth::ApiKey key, a->GetKey(*id));
                     return KeyJson(key);
                   }
                   LLMUX_ASSIGN_OR_RETURN(auth::Page page, PageParams(req));
                   LLMUX_ASSIGN_OR_RETURN(std::optional<int64_t> owner, IntParam(req, "owner"));
                   LLMUX_ASSIGN_OR_RETURN(auto keys, a->ListKeys(page, owner));
                   return ListJson(keys, KeyJson);
                 });
               });
  router.Route("POST", "/admin/v1/keys",
               [a, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 201, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(Json body, BodyJson(req));
                   LLMUX_ASSIGN_OR_RETURN(auth::NewKey spec, NewKeyFromJson(body));
                   LLMUX_ASSIGN_OR_RETURN(auth::CreatedKey created, a->CreateKey(ActorOf(access), spec));
                   Json out = KeyJson(created.key);
                   out["key"] = created.full_key;  // the only time the secret is shown
                   return out;
                 });
               });
  router.Route("PATCH", "/admin/v1/keys",
               [a, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(int64_t id, RequiredId(req));
                   LLMUX_ASSIGN_OR_RETURN(Json body, BodyJson(req));
                   if (!body.is_object() || body.size() != 1 || !body.contains("limits")) {
                     return InvalidArgumentError("PATCH /admin/v1/keys takes {\"limits\": {...}}");
                   }
                   LLMUX_ASSIGN_OR_RETURN(auth::Limits limits, LimitsFromJson(body["limits"]));
                   LLMUX_RETURN_IF_ERROR(a->SetKeyLimits(ActorOf(access), id, limits));
                   LLMUX_ASSIGN_OR_RETURN(auth::ApiKey key, a->GetKey(id));
                   return KeyJson(key);
                 });
               });
  router.Route("DELETE", "/admin/v1/keys",
               [a, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(int64_t id, RequiredId(req));
                   LLMUX_RETURN_IF_ERROR(a->RevokeKey(ActorOf(access), id));
                   LLMUX_ASSIGN_OR_RETURN(auth::ApiKey key, a->GetKey(id));
                   return KeyJson(key);
                 });
               });

  // --- roles
  router.Route("GET", "/admin/v1/roles",
               [a, errors](http::Request&, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(auto roles, a->ListRoles());
                   Json data = Json::array();
                   for (const auto& r : roles) data.push_back(RoleJson(r));
                   return Json{{"object", "list"}, {"data", data}, {"has_more", false}};
                 });
               });
  router.Route("PUT", "/admin/v1/roles",
               [a, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(Json body, BodyJson(req));
                   LLMUX_ASSIGN_OR_RETURN(auth::Role role, RoleFromJson(body));
                   LLMUX_RETURN_IF_ERROR(a->PutRole(ActorOf(access), role));
                   return RoleJson(role);
                 });
               });
  router.Route("DELETE", "/admin/v1/roles",
               [a, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   auto name = QueryValue(req.query, "name");
                   if (!name) return InvalidArgumentError("query parameter name is required").WithField("name");
                   LLMUX_RETURN_IF_ERROR(a->DeleteRole(ActorOf(access), *name));
                   return Json{{"name", *name}, {"object", "role"}, {"deleted", true}};
                 });
               });

  // --- audit
  router.Route("GET", "/admin/v1/audit",
               [a, errors](http::Request& req, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(auth::Page page, PageParams(req));
                   LLMUX_ASSIGN_OR_RETURN(std::optional<int64_t> before, IntParam(req, "before"));
                   LLMUX_ASSIGN_OR_RETURN(auto events, a->ListAudit(audit::Page{before.value_or(0), page.limit}));
                   return ListJson(events, AuditJson);
                 });
               });
}

}  // namespace llmux::gateway
