#include "gateway/mcp/mcp_endpoint.h"

#include <stdexcept>

#include "gateway/access/route_table.h"
#include "gateway/mcp/stored_prompts.h"
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
    : options_(std::move(options)), sessions_(options_.sessions) {
  auto catalog = std::make_shared<mcp::Catalog>();
  mcp::ServingCatalogOptions serving_options;
  serving_options.tool_permission = McpToolPermission;
  serving_options.metrics_text = options_.metrics_text;
  serving_options.models = options_.models;
  serving_options.model_dir = options_.model_dir;
  serving_options.threads = &tool_threads_;
  // A loaded or unloaded model changes the resource list and its model card.
  serving_options.on_models_changed = [this](const std::string& model, bool) {
    server_->NotifyListChanged(sessions_, "resources");
    server_->NotifyResourceUpdated(sessions_, "llmux://models/" + model);
  };
  mcp::AddServingCatalog(*catalog, service, serving_options);
  if (options_.prompt_service != nullptr) AddStoredPrompts(*catalog, *options_.prompt_service);
  if (options_.conformance_fixtures) mcp::AddConformanceFixtures(*catalog);
  server_ = std::make_unique<mcp::McpServer>(mcp::McpServerOptions{}, std::move(catalog));
}

void McpEndpoint::Register(GuardedRouter& router) {
  RegisterMcpRoutes(router, *server_, sessions_, options_.http);
}

}  // namespace llmux::gateway
