#include "services/prompts/prompt_service.h"

#include <utility>

namespace llmux::prompts {

PromptService::PromptService(PromptStore& store, audit::AuditLog& audit)
    : store_(store), audit_(audit) {}

Result<std::vector<Prompt>> PromptService::List() { return store_.ListPrompts(); }

Result<Prompt> PromptService::Get(std::string_view name) { return store_.GetPrompt(name); }

Result<Prompt> PromptService::Put(const audit::Actor& actor, Prompt prompt) {
  LLMUX_RETURN_IF_ERROR(ValidatePrompt(prompt));
  prompt.updated_by = actor.display;
  prompt.updated_at = 0;  // the store's now
  Status stored = store_.UpsertPrompt(prompt);
  Audit(actor, "prompts.put", prompt.name, stored);
  LLMUX_RETURN_IF_ERROR(stored);
  auto got = store_.GetPrompt(prompt.name);
  if (!got.ok() && got.status().code() == StatusCode::kNotFound) {
    return NotFoundError("prompt " + prompt.name + " vanished after it was stored");
  }
  return got;
}

Status PromptService::Delete(const audit::Actor& actor, std::string_view name) {
  Status deleted = store_.DeletePrompt(name);
  Audit(actor, "prompts.delete", name, deleted);
  return deleted;
}

void PromptService::Audit(const audit::Actor& actor, const char* action, std::string_view name,
                          const Status& outcome) {
  audit::Event e;
  e.actor = actor.subject;
  e.action = action;
  e.target = "prompt:" + std::string(name);
  e.source = actor.source;
  e.outcome = outcome.ok() ? "ok" : "failed";
  e.detail = outcome.ok() ? "" : outcome.message();
  audit::AppendOrWarn(audit_, e);  // a busy log must not fail the change
}

}  // namespace llmux::prompts
