// The admin HTTP API of the prompt templates that the MCP service serves:
//
//   GET    /admin/v1/prompts                                              models:manage
//   PUT    /admin/v1/prompts  {name, title?, description?, arguments?, messages}
//          messages: [{role: user|assistant, text}] with {{argument}} placeholders
//   DELETE /admin/v1/prompts?name=P                                        models:manage
//
// Changes are written to the audit log.
#pragma once

namespace llmux::store {
class Store;
}

namespace llmux::gateway {

class GuardedRouter;

// `store` must outlive the server.
void RegisterPromptRoutes(GuardedRouter& router, store::Store& store);

}  // namespace llmux::gateway
