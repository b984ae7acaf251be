// A request's prompt tokens, built exactly as a model's host builds them: the chat template
// rendered with the request's options, then tokenized with special tokens parsed. Shared by
// the local service (which runs them) and the gateway (which hashes them for cache-aware
// routing), so both see the same ids.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "chat/chat_template.h"
#include "engine/gguf/gguf_reader.h"
#include "engine/tokenizer/tokenizer.h"
#include "serving/inference_service.h"

namespace llmux::serving {

// How a chat request is rendered.
struct ChatPromptPlan {
  chat::RenderOptions render;
  bool use_tools = false;    // tools given and tool_choice is not none
  bool constrained = false;  // JSON mode or a forced tool call: output starts constrained
};

ChatPromptPlan PlanChatPrompt(const ChatRequest& request);

// The chat prompt's tokens (errors carry field "messages").
Result<std::vector<int32_t>> BuildChatPrompt(const chat::ChatTemplate& tmpl, const Tokenizer& tokenizer,
                                             const ChatRequest& request, const ChatPromptPlan& plan);
// A completion prompt's tokens.
std::vector<int32_t> BuildCompletionPrompt(const Tokenizer& tokenizer, const std::string& prompt);

// A model's chat template from its GGUF (tokenizer.chat_template, chat::SelectChatTemplate),
// with the text of the tokenizer's BOS and EOS tokens for templates that write them;
// `source_override` (a registry's template override) instead of the file's template text.
Result<std::unique_ptr<chat::ChatTemplate>> ChatTemplateFromGguf(
    const gguf::GgufFile& file, const std::string& architecture, const Tokenizer& tokenizer,
    const std::optional<std::string>& source_override = std::nullopt);

// Tokenizer::Decode for ids a client sent: InvalidArgument (field "tokens") for an id outside
// the vocabulary instead of rendering it as nothing.
Result<std::string> DecodeClientIds(const Tokenizer& tokenizer, std::span<const int32_t> ids);

// A model's tokenizer and chat template from its GGUF metadata (the model file or a
// vocabulary-only copy of it: gguf/vocab_only.h), for building prompts away from the model.
class PromptBuilder {
 public:
  static Result<std::unique_ptr<PromptBuilder>> FromGguf(const gguf::GgufFile& file);

  Result<std::vector<int32_t>> Chat(const ChatRequest& request) const;
  std::vector<int32_t> Completion(const std::string& prompt) const;
  const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<chat::ChatTemplate> template_;
};

}  // namespace llmux::serving
