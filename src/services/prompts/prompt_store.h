// What PromptService needs of a store: the templates, listed whole (they are few). src/store/
// implements it on SQLite and PostgreSQL.
//
// Errors: kNotFound (no such prompt), kInvalidArgument (an empty name), kUnavailable (the
// database cannot be reached or is busy), kInternal / kDataLoss (other failures). Thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include "base/status.h"
#include "services/prompts/prompt.h"

namespace llmux::prompts {

class PromptStore {
 public:
  virtual ~PromptStore() = default;

  // Creates or replaces the prompt called prompt.name; updated_at 0 means now.
  virtual Status UpsertPrompt(const Prompt& prompt) = 0;
  virtual Result<Prompt> GetPrompt(std::string_view name) = 0;
  // Ordered by name.
  virtual Result<std::vector<Prompt>> ListPrompts() = 0;
  virtual Status DeletePrompt(std::string_view name) = 0;
};

}  // namespace llmux::prompts
