// What llmux serves over MCP, on the serving core: the tools chat, complete, list_models and
// model_info; the resources llmux://models/{name} (model cards) and llmux://metrics; and
// prompt templates (summarise, translate, review_code). Permissions of tools come from the
// caller's rules, passed in by the gateway (`tool_permission`), so that the one route table
// decides them.
#pragma once

#include <functional>
#include <string>

#include "mcp/catalog.h"

namespace llmux::serving {
class InferenceService;
}

namespace llmux::mcp {

struct ServingCatalogOptions {
  // The permission a tool needs (empty: any authenticated caller); throws for a tool without
  // a rule, so no tool is served unguarded.
  std::function<std::string(const std::string& tool)> tool_permission;
  // Prometheus text for llmux://metrics (empty: the resource is not offered).
  std::function<std::string()> metrics_text;
};

// Adds the tools, resources and prompts to `catalog`. The service must outlive it.
void AddServingCatalog(Catalog& catalog, serving::InferenceService& service,
                       ServingCatalogOptions options);

// The built-in prompt templates.
void AddBuiltinPrompts(Catalog& catalog);

}  // namespace llmux::mcp
