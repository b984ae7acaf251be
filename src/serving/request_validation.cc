#include "serving/request_validation.h"

#include <cmath>
#include <string>

#include <fmt/format.h>

namespace llmux::serving {

namespace {

Status Invalid(const std::string& field, const std::string& message) {
  return InvalidArgumentError(message).WithField(field);
}

Status CheckRange(const char* field, float value, float lo, float hi) {
  if (!std::isfinite(value) || value < lo || value > hi) {
    return Invalid(field, fmt::format("{} must be between {:g} and {:g}, got {:g}", field, lo, hi, value));
  }
  return Status::Ok();
}

constexpr int kMaxTokensLimit = 1 << 20;

}  // namespace

Status ValidateGenerationOptions(const GenerationOptions& o) {
  const SamplingOptions& s = o.sampling;
  if (s.temperature) LLMUX_RETURN_IF_ERROR(CheckRange("temperature", *s.temperature, 0.0f, 2.0f));
  if (s.top_p) {
    if (!std::isfinite(*s.top_p) || *s.top_p <= 0.0f || *s.top_p > 1.0f) {
      return Invalid("top_p", "top_p must be greater than 0 and at most 1");
    }
  }
  if (s.top_k && *s.top_k < 0) return Invalid("top_k", "top_k must be 0 (off) or positive");
  if (s.min_p) LLMUX_RETURN_IF_ERROR(CheckRange("min_p", *s.min_p, 0.0f, 1.0f));
  LLMUX_RETURN_IF_ERROR(CheckRange("presence_penalty", s.presence_penalty, -2.0f, 2.0f));
  LLMUX_RETURN_IF_ERROR(CheckRange("frequency_penalty", s.frequency_penalty, -2.0f, 2.0f));
  if (!std::isfinite(s.repetition_penalty) || s.repetition_penalty <= 0.0f ||
      s.repetition_penalty > 10.0f) {
    return Invalid("repetition_penalty", "repetition_penalty must be greater than 0 and at most 10");
  }
  if (o.max_tokens && (*o.max_tokens < 1 || *o.max_tokens > kMaxTokensLimit)) {
    return Invalid("max_tokens", "max_tokens must be at least 1 and at most " +
                                     std::to_string(kMaxTokensLimit) + ", got " +
                                     std::to_string(*o.max_tokens));
  }
  if (o.stop.size() > 4) return Invalid("stop", "stop takes at most 4 sequences");
  for (const std::string& stop : o.stop) {
    if (stop.empty()) return Invalid("stop", "stop sequences must not be empty");
  }
  if (o.top_logprobs < 0 || o.top_logprobs > 20) {
    return Invalid("top_logprobs", "top_logprobs must be between 0 and 20");
  }
  if (o.top_logprobs > 0 && !o.logprobs) {
    return Invalid("top_logprobs", "top_logprobs requires logprobs to be true");
  }
  return Status::Ok();
}

Status ValidateChatRequest(const ChatRequest& r) {
  if (r.model.empty()) return Invalid("model", "model is required");
  if (r.messages.empty()) return Invalid("messages", "messages must contain at least one message");
  for (size_t i = 0; i < r.messages.size(); ++i) {
    const chat::Message& m = r.messages[i];
    const std::string field = "messages[" + std::to_string(i) + "]";
    if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool" &&
        m.role != "developer") {
      return Invalid(field + ".role", "unknown role '" + m.role +
                                          "'; expected system, developer, user, assistant or tool");
    }
    if (!m.tool_calls.empty() && m.role != "assistant") {
      return Invalid(field + ".tool_calls", "only assistant messages carry tool_calls");
    }
    for (const chat::ToolCall& call : m.tool_calls) {
      if (call.name.empty()) {
        return Invalid(field + ".tool_calls", "every tool call needs a function name");
      }
    }
  }
  for (size_t i = 0; i < r.tools.size(); ++i) {
    if (r.tools[i].name().empty()) {
      return Invalid("tools[" + std::to_string(i) + "]", "every tool needs function.name");
    }
  }
  if (r.tool_choice.mode == ToolChoiceMode::kRequired && r.tools.empty()) {
    return Invalid("tool_choice", "tool_choice 'required' needs at least one tool");
  }
  if (r.tool_choice.mode == ToolChoiceMode::kFunction) {
    bool found = false;
    for (const chat::Tool& t : r.tools) found = found || t.name() == r.tool_choice.function_name;
    if (!found) {
      return Invalid("tool_choice", "tool_choice names function '" + r.tool_choice.function_name +
                                        "', which is not in tools");
    }
  }
  const bool schema = r.response_format == ResponseFormat::kJsonSchema;
  const bool grammar = r.response_format == ResponseFormat::kGrammar;
  if (schema == r.json_schema.empty()) {
    return Invalid("response_format.json_schema",
                   schema ? "response_format json_schema needs a schema"
                          : "a json_schema needs response_format type json_schema");
  }
  if (grammar == r.grammar.empty()) {
    return Invalid("grammar", grammar ? "the grammar is empty"
                                      : "grammar cannot be combined with response_format");
  }
  if (r.json_schema.size() > kMaxResponseFormatBytes ||
      r.grammar.size() > kMaxResponseFormatBytes) {
    return Invalid(schema ? "response_format.json_schema" : "grammar",
                   "a schema or grammar must be at most " +
                       std::to_string(kMaxResponseFormatBytes) + " bytes");
  }
  return ValidateGenerationOptions(r.options);
}

Status ValidateCompletionRequest(const CompletionRequest& r) {
  if (r.model.empty()) return Invalid("model", "model is required");
  if (r.prompt.empty()) return Invalid("prompt", "prompt must not be empty");
  return ValidateGenerationOptions(r.options);
}

}  // namespace llmux::serving
