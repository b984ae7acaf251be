// The tools, resources and prompts that the official MCP conformance suite
// (@modelcontextprotocol/conformance) calls, registered only with
// `llmux serve --mcp-conformance-fixtures` (a test switch, refused without --no-auth).
#pragma once

#include "mcp/catalog.h"

namespace llmux::mcp {

void AddConformanceFixtures(Catalog& catalog);

}  // namespace llmux::mcp
