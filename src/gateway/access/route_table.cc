#include "gateway/access/route_table.h"

#include <array>

#include "auth/permissions.h"

namespace llmux::gateway {

namespace {

using auth::kPermKeysManage;
using auth::kPermLogsRead;
using auth::kPermMetricsRead;
using auth::kPermUsersManage;

constexpr RouteRule Http(std::string_view method, std::string_view path, Access access,
                         std::string_view permission = {}, bool limited = false) {
  return RouteRule{Protocol::kHttp, method, path, access, permission, limited, false};
}

constexpr RouteRule Grpc(std::string_view method, Access access, bool limited = false) {
  return RouteRule{Protocol::kGrpc, "", method, access, {}, limited, false};
}

constexpr RouteRule GrpcNeeds(std::string_view method, std::string_view permission) {
  return RouteRule{Protocol::kGrpc, "", method, Access::kPermission, permission, false, false};
}

// One rule per MCP tool (the route is the tool's name under tools/call). The HTTP endpoint
// /mcp only authenticates; each tool call is then checked against its own rule.
constexpr RouteRule Mcp(std::string_view tool, Access access, std::string_view permission = {},
                        bool limited = false) {
  return RouteRule{Protocol::kMcp, "tools/call", tool, access, permission, limited, false};
}

constexpr auto kRules = std::to_array<RouteRule>({
    // OpenAI-compatible API.
    Http("GET", "/health", Access::kPublic),
    RouteRule{Protocol::kHttp, "GET", "/metrics", Access::kPermission, kPermMetricsRead, false,
              true},
    Http("GET", "/v1/models", Access::kAuthenticated),
    Http("POST", "/v1/chat/completions", Access::kModelUse, {}, /*limited=*/true),
    Http("POST", "/v1/completions", Access::kModelUse, {}, /*limited=*/true),
    Http("POST", "/v1/responses", Access::kModelUse, {}, /*limited=*/true),
    Http("POST", "/v1/embeddings", Access::kModelUse, {}, /*limited=*/true),
    // vLLM's tokenizer endpoints: the model must be allowed (checked in the handler, as for
    // generations). A large prompt costs as much to tokenize as to submit, so they count
    // against the caller's share and request rate too (with no tokens charged).
    Http("POST", "/tokenize", Access::kModelUse, {}, /*limited=*/true),
    Http("POST", "/detokenize", Access::kModelUse, {}, /*limited=*/true),
    // Anthropic's Messages API (gateway/anthropic): a generation, and counting a prompt's
    // tokens (limited like /tokenize, no tokens charged).
    Http("POST", "/v1/messages", Access::kModelUse, {}, /*limited=*/true),
    Http("POST", "/v1/messages/count_tokens", Access::kModelUse, {}, /*limited=*/true),
    // Ollama API (gateway/ollama): generation like the OpenAI routes, listings like /v1/models.
    // Embeddings (/api/embed, and the older single-prompt /api/embeddings) like generations.
    Http("POST", "/api/chat", Access::kModelUse, {}, /*limited=*/true),
    Http("POST", "/api/generate", Access::kModelUse, {}, /*limited=*/true),
    Http("GET", "/api/tags", Access::kAuthenticated),
    Http("GET", "/api/ps", Access::kAuthenticated),
    Http("POST", "/api/show", Access::kAuthenticated),
    Http("GET", "/api/version", Access::kAuthenticated),
    Http("POST", "/api/embed", Access::kModelUse, {}, /*limited=*/true),
    Http("POST", "/api/embeddings", Access::kModelUse, {}, /*limited=*/true),
    // Model pulls (a download into the models directory): operators only.
    Http("POST", "/api/pull", Access::kPermission, auth::kPermModelsManage),
    // Password login of users (llmux's own short-lived tokens).
    Http("POST", "/auth/login", Access::kOwnCredentials),
    Http("POST", "/auth/refresh", Access::kOwnCredentials),
    Http("POST", "/auth/logout", Access::kOwnCredentials),
    // The web console's static files (gateway/console): public, the page holds no secrets;
    // its API calls carry the user's credentials. /console redirects to /console/.
    Http("GET", "/console", Access::kPublic),
    RouteRule{
        Protocol::kHttp, "GET", "/console/", Access::kPublic, {}, false, false, /*prefix=*/true},
    // Admin API. /admin/v1/me: the caller's own name and permissions (what the console shows).
    Http("GET", "/admin/v1/me", Access::kAuthenticated),
    Http("GET", "/admin/v1/users", Access::kPermission, kPermUsersManage),
    Http("POST", "/admin/v1/users", Access::kPermission, kPermUsersManage),
    Http("PATCH", "/admin/v1/users", Access::kPermission, kPermUsersManage),
    Http("DELETE", "/admin/v1/users", Access::kPermission, kPermUsersManage),
    Http("GET", "/admin/v1/keys", Access::kPermission, kPermKeysManage),
    Http("POST", "/admin/v1/keys", Access::kPermission, kPermKeysManage),
    Http("PATCH", "/admin/v1/keys", Access::kPermission, kPermKeysManage),
    Http("DELETE", "/admin/v1/keys", Access::kPermission, kPermKeysManage),
    Http("GET", "/admin/v1/roles", Access::kPermission, kPermUsersManage),
    Http("PUT", "/admin/v1/roles", Access::kPermission, kPermUsersManage),
    Http("DELETE", "/admin/v1/roles", Access::kPermission, kPermUsersManage),
    Http("GET", "/admin/v1/audit", Access::kPermission, kPermLogsRead),
    // The request log: records, aggregates, CSV.
    Http("GET", "/admin/v1/logs", Access::kPermission, kPermLogsRead),
    Http("GET", "/admin/v1/logs/stats", Access::kPermission, kPermLogsRead),
    Http("GET", "/admin/v1/logs.csv", Access::kPermission, kPermLogsRead),
    Http("GET", "/admin/v1/prompts", Access::kPermission, auth::kPermModelsManage),
    Http("PUT", "/admin/v1/prompts", Access::kPermission, auth::kPermModelsManage),
    Http("DELETE", "/admin/v1/prompts", Access::kPermission, auth::kPermModelsManage),
    // The model registry (gateway/admin/registry_routes.h): reads, then changes.
    Http("GET", "/admin/v1/registry/models", Access::kPermission, auth::kPermModelsRead),
    Http("GET", "/admin/v1/registry/resolve", Access::kPermission, auth::kPermModelsRead),
    Http("GET", "/admin/v1/registry/history", Access::kPermission, auth::kPermModelsRead),
    Http("DELETE", "/admin/v1/registry/models", Access::kPermission, auth::kPermModelsManage),
    Http("POST", "/admin/v1/registry/versions", Access::kPermission, auth::kPermModelsManage),
    Http("DELETE", "/admin/v1/registry/versions", Access::kPermission, auth::kPermModelsManage),
    Http("PUT", "/admin/v1/registry/tags", Access::kPermission, auth::kPermModelsManage),
    Http("DELETE", "/admin/v1/registry/tags", Access::kPermission, auth::kPermModelsManage),
    Http("PUT", "/admin/v1/registry/parameters", Access::kPermission, auth::kPermModelsManage),
    Http("POST", "/admin/v1/registry/rollback", Access::kPermission, auth::kPermModelsManage),
    // Hot update of a served model to a registry version (with the registry and a local host).
    Http("POST", "/admin/v1/models/update", Access::kPermission, auth::kPermModelsManage),
    // Loading a registry version under a served name, and unloading a served model.
    Http("POST", "/admin/v1/models/load", Access::kPermission, auth::kPermModelsManage),
    Http("POST", "/admin/v1/models/unload", Access::kPermission, auth::kPermModelsManage),
    // The models hosted in this process: state, keep-alive, memory.
    Http("GET", "/admin/v1/models", Access::kPermission, auth::kPermModelsManage),
    // The serving metrics over time (dashboards): the same figures as /metrics.
    Http("GET", "/admin/v1/metrics/history", Access::kPermission, kPermMetricsRead),
    // The workers behind a gateway (a role without workers does not register these).
    Http("GET", "/admin/v1/workers", Access::kPermission, auth::kPermModelsManage),
    Http("POST", "/admin/v1/workers/drain", Access::kPermission, auth::kPermModelsManage),
    // Model pulls with progress (NDJSON), gateway/admin/model_pull_routes.h.
    Http("POST", "/admin/v1/models/pull", Access::kPermission, auth::kPermModelsManage),
    // Rollouts (docs/deployment.md, "Rollouts"): start one, read its progress (?id=).
    Http("POST", "/admin/v1/deploys", Access::kPermission, auth::kPermModelsManage),
    Http("GET", "/admin/v1/deploys", Access::kPermission, auth::kPermModelsManage),
    // MCP (Streamable HTTP). Requests count against the caller's rate limits; the tools below
    // carry the model and permission checks. RFC 9728 metadata tells clients how to log in.
    Http("POST", "/mcp", Access::kAuthenticated, {}, /*limited=*/true),
    Http("GET", "/mcp", Access::kAuthenticated),
    Http("DELETE", "/mcp", Access::kAuthenticated),
    Http("GET", "/.well-known/oauth-protected-resource", Access::kPublic),
    Http("GET", "/.well-known/oauth-protected-resource/mcp", Access::kPublic),
    Mcp("chat", Access::kModelUse, {}, /*limited=*/true),
    Mcp("complete", Access::kModelUse, {}, /*limited=*/true),
    Mcp("list_models", Access::kAuthenticated),
    Mcp("model_info", Access::kAuthenticated),
    Mcp("load_model", Access::kPermission, auth::kPermModelsManage),
    Mcp("unload_model", Access::kPermission, auth::kPermModelsManage),
    // gRPC.
    Grpc("/llmux.v1.Inference/Chat", Access::kModelUse, /*limited=*/true),
    Grpc("/llmux.v1.Inference/Complete", Access::kModelUse, /*limited=*/true),
    Grpc("/llmux.v1.Inference/ListModels", Access::kAuthenticated),
    // MCP over gRPC: like POST /mcp. Each request on a Session stream is admitted again with
    // the Session rule; the tools are checked against their own rules above.
    Grpc("/llmux.v1.Mcp/Call", Access::kAuthenticated, /*limited=*/true),
    Grpc("/llmux.v1.Mcp/Session", Access::kAuthenticated, /*limited=*/true),
    Grpc("/llmux.v1.Auth/Login", Access::kOwnCredentials),
    Grpc("/llmux.v1.Auth/Refresh", Access::kOwnCredentials),
    Grpc("/llmux.v1.Auth/Logout", Access::kOwnCredentials),
    GrpcNeeds("/llmux.v1.Auth/CreateUser", kPermUsersManage),
    GrpcNeeds("/llmux.v1.Auth/ListUsers", kPermUsersManage),
    GrpcNeeds("/llmux.v1.Auth/UpdateUser", kPermUsersManage),
    GrpcNeeds("/llmux.v1.Auth/DeleteUser", kPermUsersManage),
    GrpcNeeds("/llmux.v1.Auth/ListRoles", kPermUsersManage),
    GrpcNeeds("/llmux.v1.Auth/PutRole", kPermUsersManage),
    GrpcNeeds("/llmux.v1.Auth/DeleteRole", kPermUsersManage),
    GrpcNeeds("/llmux.v1.Auth/CreateKey", kPermKeysManage),
    GrpcNeeds("/llmux.v1.Auth/ListKeys", kPermKeysManage),
    GrpcNeeds("/llmux.v1.Auth/RevokeKey", kPermKeysManage),
    GrpcNeeds("/llmux.v1.Auth/SetKeyLimits", kPermKeysManage),
    GrpcNeeds("/llmux.v1.Auth/ListAudit", kPermLogsRead),
    GrpcNeeds("/llmux.v1.Auth/ListRequestLogs", kPermLogsRead),
    GrpcNeeds("/llmux.v1.Registry/ListModels", auth::kPermModelsRead),
    GrpcNeeds("/llmux.v1.Registry/Resolve", auth::kPermModelsRead),
    GrpcNeeds("/llmux.v1.Registry/History", auth::kPermModelsRead),
    GrpcNeeds("/llmux.v1.Registry/PutTag", auth::kPermModelsManage),
    GrpcNeeds("/llmux.v1.Registry/SetParameters", auth::kPermModelsManage),
    GrpcNeeds("/llmux.v1.Registry/Rollback", auth::kPermModelsManage),
    Grpc("/grpc.health.v1.Health/Check", Access::kPublic),
    Grpc("/grpc.health.v1.Health/Watch", Access::kPublic),
    Grpc("/grpc.health.v1.Health/List", Access::kPublic),
    Grpc("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", Access::kAuthenticated),
    Grpc("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Access::kAuthenticated),
});

}  // namespace

std::span<const RouteRule> RouteTable() { return kRules; }

const RouteRule* FindRouteRule(Protocol protocol, std::string_view method, std::string_view path) {
  for (const RouteRule& r : kRules) {
    if (r.protocol == protocol && r.method == method && r.path == path) return &r;
  }
  return nullptr;
}

}  // namespace llmux::gateway
