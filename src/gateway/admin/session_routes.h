// Password login for users, with llmux's own tokens:
//
//   POST /auth/login    {username, password}  -> {access_token, token_type: "Bearer",
//                                                  expires_in, refresh_token, refresh_expires_in}
//   POST /auth/refresh  {refresh_token}       -> a new pair; the presented token is spent
//   POST /auth/logout   {refresh_token}       -> ends that session
//
// Failures are 401 in OpenAI's error shape; too many attempts from one address are 429.
#pragma once

namespace llmux::auth {
class AuthService;
}

namespace llmux::gateway {

class GuardedRouter;

void RegisterSessionRoutes(GuardedRouter& router, auth::AuthService& auth);

}  // namespace llmux::gateway
