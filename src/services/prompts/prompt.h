// A prompt template: a named list of messages whose {{argument}} placeholders a client fills
// in (MCP prompts/get). Plain data and the rules every template follows; no storage, no JSON.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace llmux::prompts {

struct Argument {
  std::string name;
  // Left out (nullopt) is kept apart from given-as-empty, so a template reads back as written.
  std::optional<std::string> description;
  std::optional<bool> required;
  bool operator==(const Argument&) const = default;
};

struct Message {
  std::string role;  // "user" or "assistant"
  std::string text;  // with {{argument}} placeholders
  bool operator==(const Message&) const = default;
};

struct Prompt {
  std::string name;  // 1-64 of [A-Za-z0-9_.-], unique
  std::string title;
  std::string description;
  std::vector<Argument> arguments;
  std::vector<Message> messages;  // at least one
  std::string updated_by;         // who stored it (audit display name)
  int64_t updated_at = 0;         // unix seconds; 0 at upsert = now
};

// kInvalidArgument (with the offending field: name, arguments or messages) unless the name is
// 1-64 characters of letters, digits, '_', '.', '-', every argument has a name, there is at
// least one message, every role is user or assistant, and every {{placeholder}} names a
// declared argument.
Status ValidatePrompt(const Prompt& prompt);

// `text` with every {{name}} replaced by values[name]; a name without a value (an optional
// argument left out) becomes empty. An unclosed "{{" stays as it is.
std::string FillPlaceholders(std::string_view text,
                             const std::map<std::string, std::string>& values);

}  // namespace llmux::prompts
