#include "gateway/mcp/mcp_endpoint.h"

#include <stdexcept>

#include "gateway/access/route_table.h"
#include "mcp/conformance_fixtures.h"
#include "mcp/serving_catalog.h"

namespace llmux::gateway {

std::string McpToolPermission(const std::string& tool) {
  const RouteRule* rule = FindRouteRule(Protocol::kMcp, "tools/call", tool);
  if (rule == nullptr) {
    throw std::logic_error("MCP tool " + tool + " has no rule in the route table");
  }
  return rule->access == Access::kPermission ? std::string(rule->permission) : std::string();
}

McpEndpoint::McpEndpoint(serving::InferenceService& service, McpEndpointOptions options)
    : options_(std::move(options)) {
  auto catalog = std::make_shared<mcp::Catalog>();
  mcp::ServingCatalogOptions serving_options;
  serving_options.tool_permission = McpToolPermission;
  serving_options.metrics_text = options_.metrics_text;
  mcp::AddServingCatalog(*catalog, service, serving_options);
  if (options_.conformance_fixtures) mcp::AddConformanceFixtures(*catalog);
  server_ = std::make_unique<mcp::McpServer>(mcp::McpServerOptions{}, std::move(catalog));
}

void McpEndpoint::Register(GuardedRouter& router) {
  RegisterMcpRoutes(router, *server_, sessions_, options_.http);
}

}  // namespace llmux::gateway
