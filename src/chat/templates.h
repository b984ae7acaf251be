// The concrete templates (internal to llmux_chat; use SelectChatTemplate / MakeChatTemplate).
#pragma once

#include <memory>

#include "chat/chat_template.h"

namespace llmux::chat::internal {

std::unique_ptr<ChatTemplate> NewQwen3Template();
std::unique_ptr<ChatTemplate> NewQwen25Template();
std::unique_ptr<ChatTemplate> NewChatMLTemplate();
// always_generation_prompt: the template ends with the assistant header whatever
// add_generation_prompt says (the first Llama 3 Instruct template).
std::unique_ptr<ChatTemplate> NewLlama3Template(bool always_generation_prompt);
// strftime_date: the template takes its default date from the clock (Llama 3.2 style).
std::unique_ptr<ChatTemplate> NewLlama31Template(bool strftime_date);
std::unique_ptr<ChatTemplate> NewDeepSeekV3Template();
std::unique_ptr<ChatTemplate> NewDeepSeekR1Template();
std::unique_ptr<ChatTemplate> NewPlainTemplate();

// Checks what every template needs: at least one message, known roles, tool_calls only on
// assistant messages, tool specs that are JSON objects.
Status ValidateConversation(const std::vector<Message>& messages, const std::vector<Tool>& tools);

// A tool call's arguments for templates that apply `tojson` to them: a JSON string holding
// JSON is parsed (vLLM's normalisation); anything else as is.
Json ArgumentsForToJson(const Json& arguments);
// For templates that concatenate the arguments as text: a string as is, else tojson.
std::string ArgumentsAsText(const Json& arguments);

}  // namespace llmux::chat::internal
