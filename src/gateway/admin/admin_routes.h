// The admin HTTP API of the auth service (JSON; lists paginated by cursor):
//
//   GET    /admin/v1/users[?limit=N&after=CURSOR]   list users            users:manage
//   POST   /admin/v1/users  {name, password?, roles?}                     users:manage
//   PATCH  /admin/v1/users?id=N  {password?, roles?, disabled?}          users:manage
//   DELETE /admin/v1/users?id=N                                          users:manage
//   GET    /admin/v1/keys[?owner=N&limit=&after=]   list keys            keys:manage
//   POST   /admin/v1/keys  {owner_user_id?, name?, scopes?, allowed_models?, expires_at?,
//                           limits?}  -> the key, with its secret "key" shown this once
//   PATCH  /admin/v1/keys?id=N  {limits}                                 keys:manage
//   DELETE /admin/v1/keys?id=N   revokes                                 keys:manage
//   GET    /admin/v1/roles                                               users:manage
//   PUT    /admin/v1/roles  {name, permissions}   custom roles           users:manage
//   DELETE /admin/v1/roles?name=R                                        users:manage
//   GET    /admin/v1/audit[?limit=&before=]   newest first               logs:read
//
// Records are addressed by query parameters because the HTTP server routes exact paths.
#pragma once

namespace llmux::auth {
class AuthService;
}

namespace llmux::gateway {

class GuardedRouter;

// `auth` must outlive the server.
void RegisterAdminRoutes(GuardedRouter& router, auth::AuthService& auth);

}  // namespace llmux::gateway
