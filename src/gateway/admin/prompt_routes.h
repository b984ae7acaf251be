// The admin HTTP API of the prompt templates that the MCP service serves:
//
//   GET    /admin/v1/prompts                                              models:manage
//   PUT    /admin/v1/prompts  {name, title?, description?, arguments?, messages}
//          messages: [{role: user|assistant, text}] with {{argument}} placeholders
//   DELETE /admin/v1/prompts?name=P                                        models:manage
//
// PromptService checks the templates and writes changes to the audit log.
#pragma once

namespace llmux::prompts {
class PromptService;
}

namespace llmux::gateway {

class GuardedRouter;

// `service` must outlive the server.
void RegisterPromptRoutes(GuardedRouter& router, prompts::PromptService& service);

}  // namespace llmux::gateway
