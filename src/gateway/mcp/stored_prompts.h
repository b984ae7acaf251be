// Prompt templates that admins keep (PUT /admin/v1/prompts, PromptService), served as MCP
// prompts: listed on every prompts/list, rendered by replacing {{argument}} placeholders.
#pragma once

#include "mcp/catalog.h"
#include "services/prompts/prompt.h"

namespace llmux::prompts {
class PromptService;
}

namespace llmux::gateway {

// The MCP prompt of a stored template.
mcp::PromptDefinition StoredPromptDefinition(const prompts::Prompt& prompt);

// Adds the service's templates to `catalog` as a prompt source. `service` must outlive it.
void AddStoredPrompts(mcp::Catalog& catalog, prompts::PromptService& service);

}  // namespace llmux::gateway
