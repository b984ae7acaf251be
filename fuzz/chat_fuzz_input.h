// The input of chat_template_fuzz: a JSON document, then optionally a NUL byte and the text a
// model generated (any bytes, for the output parsers).
//
//   {"messages": [{"role", "content" (string or text parts), "reasoning_content",
//                  "tool_calls": [{"id", "function": {"name", "arguments"}}] (or name and
//                  arguments at the top of the call), "tool_call_id", "name"}],
//    "tools": [any JSON], "add_generation_prompt": bool, "enable_thinking": bool,
//    "date": "26 Jul 2024", "pieces": [lengths the output is fed in, cyclically]}
//
// Decoding is lenient (a field of the wrong type is left at its default), so that the templates
// see what the request parsers would refuse too: unknown roles, tool calls on user messages,
// tool specs that are not objects. An OpenAI chat request body decodes the same way.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_types.h"

namespace llmux::fuzz {

struct ChatFuzzInput {
  std::vector<chat::Message> messages;
  std::vector<chat::Tool> tools;
  chat::RenderOptions options;
  std::string output;          // the bytes after the NUL
  std::vector<size_t> pieces;  // never empty, no zero
};

// nullopt when the JSON part is not a JSON object (or nested deeper than the server allows).
std::optional<ChatFuzzInput> DecodeChatFuzzInput(std::string_view data);

}  // namespace llmux::fuzz
