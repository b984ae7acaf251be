#include "gateway/grpc/proto_conversion.h"

#include <fmt/format.h>

#include <cstdint>

#include "base/json_nesting.h"
#include "llmux/v1/inference.pb.h"
#include "serving/request_validation.h"

namespace llmux::gateway {
namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

serving::SamplingOptions SamplingFromProto(const v1::SamplingParams& p) {
  serving::SamplingOptions s;
  if (p.has_temperature()) s.temperature = p.temperature();
  if (p.has_top_p()) s.top_p = p.top_p();
  if (p.has_top_k()) s.top_k = p.top_k();
  if (p.has_min_p()) s.min_p = p.min_p();
  if (p.has_presence_penalty()) s.presence_penalty = p.presence_penalty();
  if (p.has_frequency_penalty()) s.frequency_penalty = p.frequency_penalty();
  if (p.has_repetition_penalty()) s.repetition_penalty = p.repetition_penalty();
  if (p.has_seed()) s.seed = p.seed();
  return s;
}

// The fields both request kinds share.
template <typename Proto>
serving::GenerationOptions OptionsFromProto(const Proto& p) {
  serving::GenerationOptions o;
  o.sampling = SamplingFromProto(p.sampling());
  if (p.has_max_tokens()) o.max_tokens = p.max_tokens();
  o.stop.assign(p.stop().begin(), p.stop().end());
  o.logprobs = p.logprobs();
  if (p.has_top_logprobs()) o.top_logprobs = p.top_logprobs();
  o.user = p.user();
  return o;
}

// `n` is not part of the core request (there is one choice); checked as HTTP does.
Status CheckChoiceCount(int n) {
  if (n == 1) return Status::Ok();
  return InvalidArgumentError("Only n = 1 is supported.").WithField("n");
}

chat::Message MessageFromProto(const v1::ChatMessage& p) {
  chat::Message m;
  // OpenAI's newer name for the system role, accepted like the HTTP API does.
  m.role = p.role() == "developer" ? "system" : p.role();
  m.content = p.content();
  if (p.has_reasoning_content()) m.reasoning_content = p.reasoning_content();
  for (const v1::ToolCall& call : p.tool_calls()) {
    // OpenAI's shape: arguments is a JSON string holding the JSON text.
    m.tool_calls.push_back(
        chat::ToolCall{call.id(), call.name(), chat::Json(call.arguments_json())});
  }
  m.tool_call_id = p.tool_call_id();
  m.name = p.name();
  return m;
}

// {"type": "function", "function": {"name", "description", "parameters", "strict"}} in
// OpenAI's key order; the schema keeps the client's key order.
Result<chat::Tool> ToolFromProto(const v1::Tool& p, int index) {
  chat::Json function = chat::Json::object();
  function["name"] = p.name();
  if (p.has_description()) function["description"] = p.description();
  if (!p.parameters_json().empty()) {
    if (!JsonNestingWithin(p.parameters_json())) {
      return InvalidArgumentError(fmt::format("tools[{}].function.parameters: {}", index, JsonTooDeepMessage()))
          .WithField(fmt::format("tools[{}].function.parameters", index));
    }
    chat::Json schema = chat::Json::parse(p.parameters_json(), nullptr, /*allow_exceptions=*/false);
    if (schema.is_discarded() || !schema.is_object()) {
      return InvalidArgumentError(
                 fmt::format("tools[{}].function.parameters must be a JSON object", index))
          .WithField(fmt::format("tools[{}].function.parameters", index));
    }
    function["parameters"] = std::move(schema);
  }
  if (p.has_strict()) function["strict"] = p.strict();
  chat::Tool tool;
  tool.spec = chat::Json::object();
  tool.spec["type"] = "function";
  tool.spec["function"] = std::move(function);
  return tool;
}

Result<serving::ToolChoice> ToolChoiceFromProto(const v1::ToolChoice& p) {
  serving::ToolChoice choice;
  switch (p.choice_case()) {
    case v1::ToolChoice::CHOICE_NOT_SET:
      return choice;
    case v1::ToolChoice::kFunctionName:
      choice.mode = serving::ToolChoiceMode::kFunction;
      choice.function_name = p.function_name();
      return choice;
    case v1::ToolChoice::kMode:
      break;
  }
  switch (p.mode()) {
    case v1::ToolChoice::MODE_UNSPECIFIED:
    case v1::ToolChoice::AUTO:
      choice.mode = serving::ToolChoiceMode::kAuto;
      return choice;
    case v1::ToolChoice::NONE:
      choice.mode = serving::ToolChoiceMode::kNone;
      return choice;
    case v1::ToolChoice::REQUIRED:
      choice.mode = serving::ToolChoiceMode::kRequired;
      return choice;
    default:
      return InvalidArgumentError(
                 fmt::format("tool_choice must be auto, none, required or a function, got mode {}",
                             static_cast<int>(p.mode())))
          .WithField("tool_choice");
  }
}

Result<serving::ResponseFormat> ResponseFormatFromProto(v1::ResponseFormat p) {
  switch (p) {
    case v1::RESPONSE_FORMAT_UNSPECIFIED:
    case v1::RESPONSE_FORMAT_TEXT:
      return serving::ResponseFormat::kText;
    case v1::RESPONSE_FORMAT_JSON_OBJECT:
      return serving::ResponseFormat::kJsonObject;
    case v1::RESPONSE_FORMAT_JSON_SCHEMA:
      return serving::ResponseFormat::kJsonSchema;
    default:
      return InvalidArgumentError(
                 fmt::format("response_format must be text, json_object or json_schema, got {}",
                             static_cast<int>(p)))
          .WithField("response_format.type");
  }
}

template <typename Out>
void FillLogprob(const std::string& token, float logprob, Out* out) {
  out->set_token(SanitizeUtf8(token));
  out->set_bytes(token);
  out->set_logprob(logprob);
}

void FillLogprobs(const std::vector<serving::TokenLogprob>& in,
                  google::protobuf::RepeatedPtrField<v1::TokenLogprob>* out) {
  for (const serving::TokenLogprob& t : in) {
    v1::TokenLogprob* p = out->Add();
    FillLogprob(t.token, t.logprob, p);
    for (const serving::TopLogprob& top : t.top)
      FillLogprob(top.token, top.logprob, p->add_top_logprobs());
  }
}

}  // namespace

Result<serving::ChatRequest> ChatRequestFromProto(const v1::ChatRequest& p) {
  serving::ChatRequest r;
  r.model = p.model();
  r.messages.reserve(p.messages_size());
  for (const v1::ChatMessage& m : p.messages()) r.messages.push_back(MessageFromProto(m));
  for (int i = 0; i < p.tools_size(); ++i) {
    LLMUX_ASSIGN_OR_RETURN(chat::Tool tool, ToolFromProto(p.tools(i), i));
    r.tools.push_back(std::move(tool));
  }
  LLMUX_ASSIGN_OR_RETURN(r.tool_choice, ToolChoiceFromProto(p.tool_choice()));
  LLMUX_ASSIGN_OR_RETURN(r.response_format, ResponseFormatFromProto(p.response_format()));
  r.json_schema = p.json_schema();
  r.json_schema_strict = p.json_schema_strict();
  if (!p.grammar().empty()) {
    if (r.response_format != serving::ResponseFormat::kText) {
      return InvalidArgumentError(
                 "grammar cannot be combined with a response_format other than text")
          .WithField("grammar");
    }
    r.response_format = serving::ResponseFormat::kGrammar;
    r.grammar = p.grammar();
  }
  if (p.has_enable_thinking()) r.enable_thinking = p.enable_thinking();
  if (p.has_parallel_tool_calls()) r.parallel_tool_calls = p.parallel_tool_calls();
  r.options = OptionsFromProto(p);
  if (p.has_n()) LLMUX_RETURN_IF_ERROR(CheckChoiceCount(p.n()));
  LLMUX_RETURN_IF_ERROR(serving::ValidateChatRequest(r));
  return r;
}

Result<serving::CompletionRequest> CompletionRequestFromProto(const v1::CompleteRequest& p) {
  serving::CompletionRequest r;
  r.model = p.model();
  r.prompt = p.prompt();
  r.options = OptionsFromProto(p);
  if (p.has_n()) LLMUX_RETURN_IF_ERROR(CheckChoiceCount(p.n()));
  LLMUX_RETURN_IF_ERROR(serving::ValidateCompletionRequest(r));
  return r;
}

void FillDelta(const serving::Delta& delta, v1::ChatDelta* out) {
  out->set_reasoning_content(SanitizeUtf8(delta.reasoning));
  out->set_content(SanitizeUtf8(delta.content));
  for (const serving::ToolCallDelta& call : delta.tool_calls) {
    v1::ToolCallDelta* p = out->add_tool_calls();
    p->set_index(call.index);
    p->set_id(SanitizeUtf8(call.id));
    p->set_name(SanitizeUtf8(call.name));
    p->set_arguments_json(SanitizeUtf8(call.arguments));
  }
  FillLogprobs(delta.logprobs, out->mutable_logprobs());
}

void FillDelta(const serving::Delta& delta, v1::CompleteDelta* out) {
  out->set_text(SanitizeUtf8(delta.reasoning + delta.content));
  FillLogprobs(delta.logprobs, out->mutable_logprobs());
}

void FillFinish(const serving::Finish& finish, v1::Finish* out) {
  switch (finish.reason) {
    case serving::FinishReason::kStop:
      out->set_finish_reason(v1::FINISH_REASON_STOP);
      break;
    case serving::FinishReason::kLength:
      out->set_finish_reason(v1::FINISH_REASON_LENGTH);
      break;
    case serving::FinishReason::kToolCalls:
      out->set_finish_reason(v1::FINISH_REASON_TOOL_CALLS);
      break;
    case serving::FinishReason::kCancelled:
    case serving::FinishReason::kError:
      out->set_finish_reason(v1::FINISH_REASON_UNSPECIFIED);
      break;
  }
  v1::Usage* usage = out->mutable_usage();
  usage->set_prompt_tokens(finish.usage.prompt_tokens);
  usage->set_completion_tokens(finish.usage.completion_tokens);
  usage->set_total_tokens(finish.usage.total_tokens());
  usage->set_cached_tokens(finish.usage.cached_tokens);
  out->set_stop_sequence(SanitizeUtf8(finish.stop_sequence));
}

void FillModel(const serving::ModelInfo& info, v1::Model* out) {
  out->set_id(SanitizeUtf8(info.id));
  out->set_architecture(SanitizeUtf8(info.architecture));
  out->set_quantization(SanitizeUtf8(info.quantization));
  out->set_context_length(info.context_length);
  out->set_created(info.created);
  out->set_ready(info.ready);
}

std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<uint8_t>(text[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    // Sequence length and the allowed range of the second byte (RFC 3629: no overlong
    // forms, no surrogates, nothing above U+10FFFF).
    size_t length = 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
    size_t valid = length == 0 ? 0 : 1;  // bytes of the sequence seen to be valid so far
    while (valid > 0 && valid < length && i + valid < text.size()) {
      const auto b = static_cast<uint8_t>(text[i + valid]);
      const bool ok = valid == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
      if (!ok) break;
      ++valid;
    }
    if (length != 0 && valid == length) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      // One replacement for the longest valid-looking prefix (at least the lead byte).
      out.append(kReplacementChar);
      i += valid == 0 ? 1 : valid;
    }
  }
  return out;
}

}  // namespace llmux::gateway
