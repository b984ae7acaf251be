#include "openai_request_json.h"

namespace llmux::fuzz {
namespace {

using serving::GenerationOptions;
using serving::ToolChoiceMode;

void AddOptions(const GenerationOptions& o, Json& body) {
  const serving::SamplingOptions& s = o.sampling;
  // Floats are written as the doubles they widen to, which read back as the same floats.
  if (s.temperature) body["temperature"] = static_cast<double>(*s.temperature);
  if (s.top_p) body["top_p"] = static_cast<double>(*s.top_p);
  if (s.min_p) body["min_p"] = static_cast<double>(*s.min_p);
  if (s.top_k) body["top_k"] = *s.top_k;
  if (s.seed) body["seed"] = *s.seed;
  body["presence_penalty"] = static_cast<double>(s.presence_penalty);
  body["frequency_penalty"] = static_cast<double>(s.frequency_penalty);
  body["repetition_penalty"] = static_cast<double>(s.repetition_penalty);
  if (o.max_tokens) body["max_tokens"] = *o.max_tokens;
  body["stop"] = o.stop;
  body["user"] = o.user;
  body["ignore_eos"] = o.ignore_eos;
}

void AddStream(const gateway::StreamSettings& s, Json& body) {
  body["stream"] = s.stream;
  body["stream_options"] = {{"include_usage", s.include_usage}};
}

Json MessageJson(const chat::Message& m) {
  Json j{{"role", m.role}, {"content", m.content}};
  if (m.reasoning_content) j["reasoning_content"] = *m.reasoning_content;
  if (!m.tool_call_id.empty()) j["tool_call_id"] = m.tool_call_id;
  if (!m.name.empty()) j["name"] = m.name;
  if (!m.tool_calls.empty()) {
    Json calls = Json::array();
    for (const chat::ToolCall& c : m.tool_calls) {
      Json call{{"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}};
      if (!c.id.empty()) call["id"] = c.id;
      calls.push_back(std::move(call));
    }
    j["tool_calls"] = std::move(calls);
  }
  return j;
}

Json ToolChoiceJson(const serving::ToolChoice& c) {
  switch (c.mode) {
    case ToolChoiceMode::kAuto:
      return "auto";
    case ToolChoiceMode::kNone:
      return "none";
    case ToolChoiceMode::kRequired:
      return "required";
    case ToolChoiceMode::kFunction:
      return Json{{"type", "function"}, {"function", {{"name", c.function_name}}}};
  }
  return nullptr;
}

}  // namespace

Json ChatRequestJson(const gateway::ParsedChatRequest& parsed) {
  const serving::ChatRequest& r = parsed.request;
  Json body{{"model", r.model}};
  Json messages = Json::array();
  for (const chat::Message& m : r.messages) messages.push_back(MessageJson(m));
  body["messages"] = std::move(messages);
  Json tools = Json::array();
  for (const chat::Tool& t : r.tools) tools.push_back(t.spec);
  body["tools"] = std::move(tools);
  body["tool_choice"] = ToolChoiceJson(r.tool_choice);
  switch (r.response_format) {
    case serving::ResponseFormat::kText:
      body["response_format"] = {{"type", "text"}};
      break;
    case serving::ResponseFormat::kJsonObject:
      body["response_format"] = {{"type", "json_object"}};
      break;
    case serving::ResponseFormat::kJsonSchema:
      body["response_format"] = {
          {"type", "json_schema"},
          {"json_schema",
           {{"schema", Json::parse(r.json_schema)}, {"strict", r.json_schema_strict}}}};
      break;
    case serving::ResponseFormat::kGrammar:
      body["grammar"] = r.grammar;
      break;
  }
  if (r.enable_thinking) body["chat_template_kwargs"] = {{"enable_thinking", *r.enable_thinking}};
  AddOptions(r.options, body);
  body["logprobs"] = r.options.logprobs;
  body["top_logprobs"] = r.options.top_logprobs;
  AddStream(parsed.stream, body);
  return body;
}

Json CompletionRequestJson(const gateway::ParsedCompletionRequest& parsed) {
  const serving::CompletionRequest& r = parsed.request;
  Json body{{"model", r.model}, {"prompt", r.prompt}};
  AddOptions(r.options, body);
  // Legacy completions take logprobs as the number of alternatives.
  if (r.options.logprobs) body["logprobs"] = r.options.top_logprobs;
  body["echo"] = parsed.echo;
  AddStream(parsed.stream, body);
  return body;
}

}  // namespace llmux::fuzz
