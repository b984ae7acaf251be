// The prompt templates service: the admin API stores templates through it, the MCP service
// lists them. It validates each template, stamps who stored it and when, and records every
// change in the audit log ("prompts.put", "prompts.delete" on "prompt:<name>", outcome "ok" or
// "failed"), once. A template refused as invalid changes nothing and is not recorded.
#pragma once

#include <string_view>
#include <vector>

#include "base/status.h"
#include "services/audit/audit_log.h"
#include "services/prompts/prompt.h"
#include "services/prompts/prompt_store.h"

namespace llmux::prompts {

class PromptService {
 public:
  // `store` and `audit` must outlive the service.
  PromptService(PromptStore& store, audit::AuditLog& audit);

  // Ordered by name.
  Result<std::vector<Prompt>> List();
  Result<Prompt> Get(std::string_view name);
  // Creates or replaces the template; returns it as stored (updated_by: the actor's display
  // name; updated_at: now). kInvalidArgument as ValidatePrompt says.
  Result<Prompt> Put(const audit::Actor& actor, Prompt prompt);
  // kNotFound for a template that does not exist (recorded as a failed delete).
  Status Delete(const audit::Actor& actor, std::string_view name);

 private:
  void Audit(const audit::Actor& actor, const char* action, std::string_view name,
             const Status& outcome);

  PromptStore& store_;
  audit::AuditLog& audit_;
};

}  // namespace llmux::prompts
