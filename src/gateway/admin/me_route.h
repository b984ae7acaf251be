// GET /admin/v1/me: who the caller is and what it may do, so that a client (the web console)
// shows only what the caller's permissions allow:
//
//   {"object": "principal", "subject": "user:3", "name": "alice", "user_id": 3 | null,
//    "key_id": 7 | null, "permissions": [grants], "scopes": [grants],
//    "allows": {"models:manage": bool, "keys:manage": bool, "users:manage": bool,
//               "logs:read": bool, "metrics:read": bool}}
//
// "allows" is the server's own answer (grants and scopes together), so clients need not
// evaluate globs. Any authenticated caller may ask; with authentication off every answer is true.
#pragma once

namespace llmux::gateway {

class GuardedRouter;

void RegisterMeRoute(GuardedRouter& router);

}  // namespace llmux::gateway
