#include "serving/prompt_builder.h"

namespace llmux::serving {
namespace {

// True if the last user message asks Qwen3 to skip thinking with the "/no_think" tag.
bool AsksNoThink(const std::vector<chat::Message>& messages) {
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (it->role == "user") return it->content.find("/no_think") != std::string::npos;
  }
  return false;
}

// Special-token text in the prompt is parsed (templates write <|im_start|> and the like);
// BOS is added as the vocabulary says unless the template already wrote it.
std::vector<int32_t> EncodePrompt(const Tokenizer& tok, const std::string& text, bool template_wrote_bos) {
  return tok.Encode(text, /*add_special=*/!template_wrote_bos, /*parse_special=*/true);
}

}  // namespace

ChatPromptPlan PlanChatPrompt(const ChatRequest& request) {
  ChatPromptPlan plan;
  plan.use_tools = !request.tools.empty() && request.tool_choice.mode != ToolChoiceMode::kNone;
  plan.constrained = request.response_format != ResponseFormat::kText ||
                     (plan.use_tools && request.tool_choice.mode != ToolChoiceMode::kAuto);
  plan.render.add_generation_prompt = true;
  plan.render.enable_thinking = request.enable_thinking.value_or(true) && !AsksNoThink(request.messages);
  // Constrained output starts at the first token, so there is no room for a <think> part.
  if (plan.constrained) plan.render.enable_thinking = false;
  return plan;
}

Result<std::vector<int32_t>> BuildChatPrompt(const chat::ChatTemplate& tmpl, const Tokenizer& tokenizer,
                                             const ChatRequest& request, const ChatPromptPlan& plan) {
  static const std::vector<chat::Tool> kNoTools;
  auto rendered = tmpl.Render(request.messages, plan.use_tools ? request.tools : kNoTools, plan.render);
  if (!rendered.ok()) return rendered.status().WithField("messages");
  return EncodePrompt(tokenizer, *rendered, tmpl.renders_bos());
}

std::vector<int32_t> BuildCompletionPrompt(const Tokenizer& tokenizer, const std::string& prompt) {
  return EncodePrompt(tokenizer, prompt, false);
}

Result<std::unique_ptr<chat::ChatTemplate>> ChatTemplateFromGguf(
    const gguf::GgufFile& file, const std::string& architecture, const Tokenizer& tokenizer,
    const std::optional<std::string>& source_override) {
  const std::string source =
      source_override ? *source_override : file.GetString("tokenizer.chat_template").value_or("");
  chat::TemplateTokens tokens;
  if (tokenizer.bos_id() >= 0) tokens.bos = std::string(tokenizer.TokenText(tokenizer.bos_id()));
  if (tokenizer.eos_id() >= 0) tokens.eos = std::string(tokenizer.TokenText(tokenizer.eos_id()));
  return chat::SelectChatTemplate(architecture, source, tokens);
}

Result<std::unique_ptr<PromptBuilder>> PromptBuilder::FromGguf(const gguf::GgufFile& file) {
  auto b = std::unique_ptr<PromptBuilder>(new PromptBuilder());
  LLMUX_ASSIGN_OR_RETURN(b->tokenizer_, Tokenizer::FromGguf(file));
  const std::string arch = file.GetString("general.architecture").value_or("");
  LLMUX_ASSIGN_OR_RETURN(b->template_, ChatTemplateFromGguf(file, arch, *b->tokenizer_));
  return b;
}

Result<std::vector<int32_t>> PromptBuilder::Chat(const ChatRequest& request) const {
  return BuildChatPrompt(*template_, *tokenizer_, request, PlanChatPrompt(request));
}

std::vector<int32_t> PromptBuilder::Completion(const std::string& prompt) const {
  return BuildCompletionPrompt(*tokenizer_, prompt);
}

Result<std::string> DecodeClientIds(const Tokenizer& tokenizer, std::span<const int32_t> ids) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= tokenizer.n_vocab()) {
      return InvalidArgumentError("tokens[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                                  " is not a token id of this model (0.." +
                                  std::to_string(tokenizer.n_vocab() - 1) + ")")
          .WithField("tokens");
    }
  }
  return tokenizer.Decode(ids);
}

}  // namespace llmux::serving
