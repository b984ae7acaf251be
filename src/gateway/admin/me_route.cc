#include "gateway/admin/me_route.h"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "auth/permissions.h"
#include "gateway/access/http_guard.h"
#include "gateway/admin/json_reply.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Json = nlohmann::json;

Json PrincipalJson(const auth::Principal& p) {
  Json allows = Json::object();
  for (std::string_view perm :
       {auth::kPermModelsRead, auth::kPermModelsManage, auth::kPermKeysManage,
        auth::kPermUsersManage, auth::kPermLogsRead, auth::kPermMetricsRead}) {
    allows[std::string(perm)] = p.Allows(perm);
  }
  return {{"object", "principal"},
          {"subject", p.subject},
          {"name", p.display},
          {"user_id", p.user_id != 0 ? Json(p.user_id) : Json(nullptr)},
          {"key_id", p.key_id != 0 ? Json(p.key_id) : Json(nullptr)},
          {"permissions", p.permissions.grants()},
          {"scopes", p.scopes.grants()},
          {"allowed_models", p.allowed_models},
          {"allows", std::move(allows)}};
}

}  // namespace

void RegisterMeRoute(GuardedRouter& router) {
  const ErrorReply* errors = &router.error_reply();
  router.Route(
      "GET", "/admin/v1/me",
      [errors](http::Request&, http::ResponseWriter& w, CallAccess& access) -> awaitable<void> {
        co_await ReplyJson(w, *errors, 200,
                           [&]() -> Result<Json> { return PrincipalJson(access.principal()); });
      });
}

}  // namespace llmux::gateway
