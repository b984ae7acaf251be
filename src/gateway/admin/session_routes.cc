#include "gateway/admin/session_routes.h"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "auth/auth_service.h"
#include "gateway/access/http_guard.h"
#include "gateway/admin/json_reply.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Json = nlohmann::json;

// The string field `name` of a JSON object body, required.
Result<std::string> RequiredString(const Json& body, const char* name) {
  if (!body.is_object() || !body.contains(name) || !body[name].is_string() ||
      body[name].get_ref<const std::string&>().empty()) {
    return InvalidArgumentError(std::string(name) + " is required (a non-empty string)").WithField(name);
  }
  return body[name].get<std::string>();
}

Json TokensJson(const auth::LoginTokens& t) {
  return {{"access_token", t.access_token},   {"token_type", "Bearer"},
          {"expires_in", t.expires_in},       {"refresh_token", t.refresh_token},
          {"refresh_expires_in", t.refresh_expires_in}};
}

}  // namespace

void RegisterSessionRoutes(GuardedRouter& router, auth::AuthService& auth) {
  const ErrorReply* errors = &router.error_reply();
  auth::AuthService* a = &auth;
  router.Route("POST", "/auth/login",
               [a, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(Json body, BodyJson(req));
                   LLMUX_ASSIGN_OR_RETURN(std::string user, RequiredString(body, "username"));
                   LLMUX_ASSIGN_OR_RETURN(std::string password, RequiredString(body, "password"));
                   LLMUX_ASSIGN_OR_RETURN(auth::LoginTokens tokens, a->Login(user, password, access.source()));
                   return TokensJson(tokens);
                 });
               });
  router.Route("POST", "/auth/refresh",
               [a, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(Json body, BodyJson(req));
                   LLMUX_ASSIGN_OR_RETURN(std::string token, RequiredString(body, "refresh_token"));
                   LLMUX_ASSIGN_OR_RETURN(auth::LoginTokens tokens, a->Refresh(token, access.source()));
                   return TokensJson(tokens);
                 });
               });
  router.Route("POST", "/auth/logout",
               [a, errors](http::Request& req, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
                 co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
                   LLMUX_ASSIGN_OR_RETURN(Json body, BodyJson(req));
                   LLMUX_ASSIGN_OR_RETURN(std::string token, RequiredString(body, "refresh_token"));
                   LLMUX_RETURN_IF_ERROR(a->Logout(token, access.source()));
                   return Json{{"logged_out", true}};
                 });
               });
}

}  // namespace llmux::gateway
