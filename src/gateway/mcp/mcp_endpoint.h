// The MCP service as `llmux serve` runs it: the catalog of what llmux serves (tool
// permissions from the route table), the protocol server and its sessions, on /mcp.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/mcp/mcp_http_routes.h"
#include "mcp/mcp_server.h"
#include "mcp/serving_catalog.h"
#include "mcp/session.h"

namespace llmux::serving {
class InferenceService;
class ModelManager;
}  // namespace llmux::serving
namespace llmux::prompts {
class PromptService;
}

namespace llmux::gateway {

// The permission the route table gives MCP tool `tool` (empty: none beyond authentication or
// the model check). Throws std::logic_error for a tool without a rule.
std::string McpToolPermission(const std::string& tool);

struct McpEndpointOptions {
  McpHttpOptions http;
  mcp::SessionRegistry::Options sessions;  // how many, per caller, and how long idle
  std::function<std::string()> metrics_text;
  bool conformance_fixtures = false;  // the tools, resources and prompts the MCP suite calls
  prompts::PromptService* prompt_service = nullptr;  // stored prompt templates (null: built-in ones only)
  // load_model / unload_model (null: not offered) and the directory models are loaded from.
  serving::ModelManager* models = nullptr;
  std::string model_dir;
};

class McpEndpoint {
 public:
  McpEndpoint(serving::InferenceService& service, McpEndpointOptions options);
  // Serves it at /mcp (and the RFC 9728 metadata). The endpoint must outlive the HTTP server.
  void Register(GuardedRouter& router);

  mcp::McpServer& server() { return *server_; }
  mcp::SessionRegistry& sessions() { return sessions_; }

 private:
  McpEndpointOptions options_;
  std::unique_ptr<mcp::McpServer> server_;
  mcp::SessionRegistry sessions_;
  // Last: joined first on destruction, while the server and sessions they notify still exist.
  mcp::ToolThreads tool_threads_;
};

}  // namespace llmux::gateway
