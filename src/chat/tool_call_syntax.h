// Parsing the body of one generated tool call, per ToolCallSyntax. Invalid bodies give
// nullopt (the parser then returns the text as content).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "chat/chat_types.h"

namespace llmux::chat {

struct ParsedToolCall {
  std::string name;
  std::string arguments;  // compact JSON object text
};

// {"name": "f", "arguments": {...}} with optional surrounding whitespace. "parameters" is
// accepted for "arguments"; a JSON string holding an object is accepted as the arguments;
// missing or null arguments mean {}. The name must be a non-empty string.
std::optional<ParsedToolCall> ParseJsonToolCall(std::string_view body);

// DeepSeek-V3: function<｜tool▁sep｜>NAME\n```json\n{...}\n``` (the fence is optional).
std::optional<ParsedToolCall> ParseDeepSeekToolCall(std::string_view body);

// The arguments object alone (harmony), the name known from its header: the object's compact
// text, or a JSON string holding one; nullopt for anything else or an empty name.
std::optional<ParsedToolCall> ParseArgumentsToolCall(std::string_view name, std::string_view body);

// Compact JSON text of a tool call's arguments value, as returned to clients.
std::string CompactJson(const Json& value);

}  // namespace llmux::chat
