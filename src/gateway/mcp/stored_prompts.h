// Prompt templates that admins keep in the store (PUT /admin/v1/prompts), served as MCP prompts:
// listed on every prompts/list, rendered by replacing {{argument}} placeholders.
#pragma once

#include "mcp/catalog.h"
#include "store/store.h"

namespace llmux::gateway {

// The MCP prompt of a stored template.
mcp::PromptDefinition StoredPromptDefinition(const store::Prompt& prompt);

// Adds the store's templates to `catalog` as a prompt source. `store` must outlive it.
void AddStoredPrompts(mcp::Catalog& catalog, store::Store& store);

}  // namespace llmux::gateway
