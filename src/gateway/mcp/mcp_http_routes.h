// MCP's Streamable HTTP transport (spec 2025-11-25) at /mcp, behind the access gate:
//   POST   one JSON-RPC message. initialize opens a session (MCP-Session-Id in the reply);
//          other messages name it in that header. A request is answered with a JSON body when
//          its response is ready before anything else is sent, else as an SSE stream of its
//          notifications (progress, log messages), requests to the client, then the response.
//          Notifications and responses get 202.
//   GET    an SSE stream for messages outside any request (resource updates, list changes).
//   DELETE ends the session.
// Origin (and, on loopback, Host) are checked against DNS rebinding; refusals are JSON-RPC
// errors, and 401 names the RFC 9728 metadata at /.well-known/oauth-protected-resource.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/access/origin_check.h"

namespace llmux::mcp {
class McpServer;
class SessionRegistry;
}  // namespace llmux::mcp

namespace llmux::gateway {

class GuardedRouter;

struct McpHttpOptions {
  OriginPolicy origins;
  // Issuers whose tokens the server accepts (the OIDC issuer), for the resource metadata.
  std::vector<std::string> authorization_servers;
};

// `server` and `sessions` must outlive the HTTP server.
void RegisterMcpRoutes(GuardedRouter& router, mcp::McpServer& server,
                       mcp::SessionRegistry& sessions, McpHttpOptions options);

}  // namespace llmux::gateway
