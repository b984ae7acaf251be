// What mcp_message_fuzz serves: llmux's own MCP catalog (the chat and complete tools, model
// cards, metrics, the built-in prompts) over an inference service that answers at once, and
// the conformance fixtures that need no thread of their own (elicitation, sampling, roots,
// input_required with a signed requestState). A caller allowed some things and refused others,
// so both sides of every permission check run.
#pragma once

#include <memory>

#include "mcp/caller.h"
#include "mcp/catalog.h"

namespace llmux::fuzz {

// The model every caller may use ("m1") and one it may not ("secret").
std::shared_ptr<mcp::Catalog> McpFuzzCatalog();
std::shared_ptr<mcp::Caller> McpFuzzCaller();

}  // namespace llmux::fuzz
