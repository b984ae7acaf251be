#include "serving/remote/worker_wire.h"

#include <string>

#include "base/json_nesting.h"

namespace llmux::serving::wire {

namespace {

pb::Sampling ToProto(const SamplingOptions& s) {
  pb::Sampling p;
  if (s.temperature) p.set_temperature(*s.temperature);
  if (s.top_p) p.set_top_p(*s.top_p);
  if (s.top_k) p.set_top_k(*s.top_k);
  if (s.min_p) p.set_min_p(*s.min_p);
  p.set_presence_penalty(s.presence_penalty);
  p.set_frequency_penalty(s.frequency_penalty);
  p.set_repetition_penalty(s.repetition_penalty);
  if (s.seed) p.set_seed(*s.seed);
  return p;
}

SamplingOptions FromProto(const pb::Sampling& p) {
  SamplingOptions s;
  if (p.has_temperature()) s.temperature = p.temperature();
  if (p.has_top_p()) s.top_p = p.top_p();
  if (p.has_top_k()) s.top_k = p.top_k();
  if (p.has_min_p()) s.min_p = p.min_p();
  s.presence_penalty = p.presence_penalty();
  s.frequency_penalty = p.frequency_penalty();
  s.repetition_penalty = p.repetition_penalty();
  if (p.has_seed()) s.seed = p.seed();
  return s;
}

pb::GenerationOptions ToProto(const GenerationOptions& o) {
  pb::GenerationOptions p;
  *p.mutable_sampling() = ToProto(o.sampling);
  if (o.max_tokens) p.set_max_tokens(*o.max_tokens);
  for (const std::string& s : o.stop) p.add_stop(s);
  p.set_logprobs(o.logprobs);
  p.set_top_logprobs(o.top_logprobs);
  p.set_user(o.user);
  p.set_caller_share(o.caller_share);
  p.set_ignore_eos(o.ignore_eos);
  p.mutable_resume_tokens()->Add(o.resume_tokens.begin(), o.resume_tokens.end());
  return p;
}

GenerationOptions FromProto(const pb::GenerationOptions& p) {
  GenerationOptions o;
  o.sampling = FromProto(p.sampling());
  if (p.has_max_tokens()) o.max_tokens = p.max_tokens();
  o.stop.assign(p.stop().begin(), p.stop().end());
  o.logprobs = p.logprobs();
  o.top_logprobs = p.top_logprobs();
  o.user = p.user();
  o.caller_share = p.caller_share();
  o.ignore_eos = p.ignore_eos();
  // The engine checks the ids and that they fit the context with the prompt.
  o.resume_tokens.assign(p.resume_tokens().begin(), p.resume_tokens().end());
  return o;
}

// The gateway already bounded the nesting of these documents; the worker checks again (its
// callers are trusted, but a deep document would overflow its stack when copied or dumped).
Result<chat::Json> ParseJson(const std::string& text, const std::string& field) {
  if (!JsonNestingWithin(text)) return InvalidArgumentError(JsonTooDeepMessage()).WithField(field);
  chat::Json value = chat::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return InvalidArgumentError("not valid JSON").WithField(field);
  return value;
}

}  // namespace

pb::ChatRequest ToProto(const ChatRequest& r) {
  pb::ChatRequest p;
  p.set_model(r.model);
  for (const chat::Message& m : r.messages) {
    pb::Message* pm = p.add_messages();
    pm->set_role(m.role);
    pm->set_content(m.content);
    if (m.reasoning_content) pm->set_reasoning_content(*m.reasoning_content);
    for (const chat::ToolCall& c : m.tool_calls) {
      pb::ToolCall* pc = pm->add_tool_calls();
      pc->set_id(c.id);
      pc->set_name(c.name);
      pc->set_arguments_json(c.arguments.dump());
    }
    pm->set_tool_call_id(m.tool_call_id);
    pm->set_name(m.name);
  }
  for (const chat::Tool& t : r.tools) p.add_tools_json(t.spec.dump());
  p.set_tool_choice(static_cast<pb::ToolChoiceMode>(r.tool_choice.mode));
  p.set_tool_choice_function(r.tool_choice.function_name);
  p.set_response_format(static_cast<pb::ResponseFormat>(r.response_format));
  p.set_json_schema(r.json_schema);
  p.set_json_schema_strict(r.json_schema_strict);
  p.set_grammar(r.grammar);
  p.set_no_parallel_tool_calls(!r.parallel_tool_calls);
  if (r.enable_thinking) p.set_enable_thinking(*r.enable_thinking);
  *p.mutable_options() = ToProto(r.options);
  return p;
}

pb::CompletionRequest ToProto(const CompletionRequest& r) {
  pb::CompletionRequest p;
  p.set_model(r.model);
  p.set_prompt(r.prompt);
  *p.mutable_options() = ToProto(r.options);
  return p;
}

Result<ChatRequest> FromProto(const pb::ChatRequest& p) {
  ChatRequest r;
  r.model = p.model();
  for (int i = 0; i < p.messages_size(); ++i) {
    const pb::Message& pm = p.messages(i);
    chat::Message m;
    m.role = pm.role();
    m.content = pm.content();
    if (pm.has_reasoning_content()) m.reasoning_content = pm.reasoning_content();
    for (int j = 0; j < pm.tool_calls_size(); ++j) {
      const pb::ToolCall& pc = pm.tool_calls(j);
      const std::string field = "messages[" + std::to_string(i) + "].tool_calls[" + std::to_string(j) + "]";
      LLMUX_ASSIGN_OR_RETURN(chat::Json arguments, ParseJson(pc.arguments_json(), field + ".arguments"));
      m.tool_calls.push_back({pc.id(), pc.name(), std::move(arguments)});
    }
    m.tool_call_id = pm.tool_call_id();
    m.name = pm.name();
    r.messages.push_back(std::move(m));
  }
  for (int i = 0; i < p.tools_json_size(); ++i) {
    LLMUX_ASSIGN_OR_RETURN(chat::Json spec, ParseJson(p.tools_json(i), "tools[" + std::to_string(i) + "]"));
    r.tools.push_back({std::move(spec)});
  }
  if (!pb::ToolChoiceMode_IsValid(p.tool_choice())) {
    return InvalidArgumentError("unknown tool_choice mode").WithField("tool_choice");
  }
  r.tool_choice.mode = static_cast<ToolChoiceMode>(p.tool_choice());
  r.tool_choice.function_name = p.tool_choice_function();
  r.parallel_tool_calls = !p.no_parallel_tool_calls();
  if (!pb::ResponseFormat_IsValid(p.response_format())) {
    return InvalidArgumentError("unknown response_format").WithField("response_format");
  }
  r.response_format = static_cast<ResponseFormat>(p.response_format());
  r.json_schema = p.json_schema();
  r.json_schema_strict = p.json_schema_strict();
  r.grammar = p.grammar();
  if (p.has_enable_thinking()) r.enable_thinking = p.enable_thinking();
  r.options = FromProto(p.options());
  return r;
}

Result<CompletionRequest> FromProto(const pb::CompletionRequest& p) {
  CompletionRequest r;
  r.model = p.model();
  r.prompt = p.prompt();
  r.options = FromProto(p.options());
  return r;
}

pb::Delta ToProto(const Delta& d) {
  pb::Delta p;
  p.set_reasoning(d.reasoning);
  p.set_content(d.content);
  for (const ToolCallDelta& c : d.tool_calls) {
    pb::ToolCallDelta* pc = p.add_tool_calls();
    pc->set_index(c.index);
    pc->set_id(c.id);
    pc->set_name(c.name);
    pc->set_arguments(c.arguments);
  }
  for (const TokenLogprob& l : d.logprobs) {
    pb::TokenLogprob* pl = p.add_logprobs();
    pl->set_token(l.token);
    pl->set_logprob(l.logprob);
    for (const TopLogprob& t : l.top) {
      pb::TopLogprob* pt = pl->add_top();
      pt->set_token(t.token);
      pt->set_logprob(t.logprob);
    }
  }
  p.mutable_tokens()->Add(d.tokens.begin(), d.tokens.end());
  return p;
}

void AppendDelta(pb::Delta& into, pb::Delta&& next) {
  into.mutable_reasoning()->append(next.reasoning());
  into.mutable_content()->append(next.content());
  for (pb::ToolCallDelta& c : *next.mutable_tool_calls()) {
    const int n = into.tool_calls_size();
    if (n > 0 && into.tool_calls(n - 1).index() == c.index() && c.id().empty() && c.name().empty()) {
      into.mutable_tool_calls(n - 1)->mutable_arguments()->append(c.arguments());
    } else {
      *into.add_tool_calls() = std::move(c);
    }
  }
  for (pb::TokenLogprob& l : *next.mutable_logprobs()) *into.add_logprobs() = std::move(l);
  into.mutable_tokens()->Add(next.tokens().begin(), next.tokens().end());
}

Delta FromProto(const pb::Delta& p) {
  Delta d;
  d.reasoning = p.reasoning();
  d.content = p.content();
  for (const pb::ToolCallDelta& c : p.tool_calls()) {
    d.tool_calls.push_back({c.index(), c.id(), c.name(), c.arguments()});
  }
  for (const pb::TokenLogprob& l : p.logprobs()) {
    TokenLogprob t{l.token(), l.logprob(), {}};
    for (const pb::TopLogprob& top : l.top()) t.top.push_back({top.token(), top.logprob()});
    d.logprobs.push_back(std::move(t));
  }
  d.tokens.assign(p.tokens().begin(), p.tokens().end());
  return d;
}

pb::Finish ToProto(const Finish& f) {
  pb::Finish p;
  p.set_reason(static_cast<pb::FinishReason>(f.reason));
  p.set_prompt_tokens(f.usage.prompt_tokens);
  p.set_completion_tokens(f.usage.completion_tokens);
  p.set_cached_tokens(f.usage.cached_tokens);
  if (!f.error.ok()) *p.mutable_error() = ToProto(f.error);
  p.set_stop_sequence(f.stop_sequence);
  return p;
}

Result<Finish> FromProto(const pb::Finish& p) {
  if (!pb::FinishReason_IsValid(p.reason())) return InvalidArgumentError("unknown finish reason");
  Finish f;
  f.reason = static_cast<FinishReason>(p.reason());
  f.usage = {p.prompt_tokens(), p.completion_tokens(), p.cached_tokens()};
  if (p.has_error()) f.error = FromProto(p.error());
  f.stop_sequence = p.stop_sequence();
  return f;
}

pb::Error ToProto(const Status& status) {
  pb::Error p;
  p.set_code(static_cast<int32_t>(status.code()));
  p.set_message(status.message());
  p.set_field(status.field());
  return p;
}

Status FromProto(const pb::Error& p) {
  // A code this build does not know is an internal error, never success.
  const bool known = p.code() > static_cast<int>(StatusCode::kOk) &&
                     p.code() <= static_cast<int>(StatusCode::kPermissionDenied);
  const StatusCode code = known ? static_cast<StatusCode>(p.code()) : StatusCode::kInternal;
  Status s(code, p.message());
  return p.field().empty() ? s : s.WithField(p.field());
}

pb::ModelInfo ToProto(const ModelInfo& m) {
  pb::ModelInfo p;
  p.set_id(m.id);
  p.set_architecture(m.architecture);
  p.set_quantization(m.quantization);
  p.set_context_length(m.context_length);
  p.set_created(m.created);
  p.set_ready(m.ready);
  return p;
}

ModelInfo FromProto(const pb::ModelInfo& p) {
  ModelInfo m;
  m.id = p.id();
  m.architecture = p.architecture();
  m.quantization = p.quantization();
  m.context_length = p.context_length();
  m.created = p.created();
  m.ready = p.ready();
  return m;
}

pb::ModelStatus ToProto(const ModelStatus& s) {
  pb::ModelStatus p;
  p.set_name(s.name);
  p.set_path(s.path);
  p.set_state(static_cast<pb::ModelState>(s.state));
  p.set_reason(s.reason);
  p.set_pinned(s.pinned);
  if (s.keep_alive_s) p.set_keep_alive_s(*s.keep_alive_s);
  if (s.expires_at) p.set_expires_at(*s.expires_at);
  p.set_loaded_at(s.loaded_at);
  p.set_last_used(s.last_used);
  p.set_in_flight(s.in_flight);
  p.set_weights_bytes(s.weights_bytes);
  p.set_kv_bytes(s.kv_bytes);
  return p;
}

Result<ModelStatus> FromProto(const pb::ModelStatus& p) {
  static_assert(static_cast<int>(ModelState::kFailed) == pb::MODEL_FAILED);
  if (!pb::ModelState_IsValid(p.state()))
    return InvalidArgumentError("unknown model state").WithField("state");
  ModelStatus s;
  s.name = p.name();
  s.path = p.path();
  s.state = static_cast<ModelState>(p.state());
  s.reason = p.reason();
  s.pinned = p.pinned();
  if (p.has_keep_alive_s()) s.keep_alive_s = p.keep_alive_s();
  if (p.has_expires_at()) s.expires_at = p.expires_at();
  s.loaded_at = p.loaded_at();
  s.last_used = p.last_used();
  s.in_flight = p.in_flight();
  s.weights_bytes = p.weights_bytes();
  s.kv_bytes = p.kv_bytes();
  return s;
}

pb::EmbedRequest ToProto(const EmbedRequest& r) {
  pb::EmbedRequest p;
  p.set_model(r.model);
  for (const EmbedInput& in : r.inputs) {
    pb::EmbedInput* i = p.add_inputs();
    i->set_text(in.text);
    i->mutable_tokens()->Add(in.tokens.begin(), in.tokens.end());
  }
  p.set_dimensions(r.dimensions);
  p.set_normalize(r.normalize);
  p.set_truncate(r.truncate);
  p.set_caller_share(r.caller_share);
  return p;
}

Result<EmbedRequest> FromProto(const pb::EmbedRequest& p) {
  if (p.inputs_size() < 1 || p.inputs_size() > kMaxEmbedInputs) {
    return InvalidArgumentError("input must hold 1 to " + std::to_string(kMaxEmbedInputs) +
                                " items")
        .WithField("input");
  }
  if (p.dimensions() < 0) {
    return InvalidArgumentError("dimensions must not be negative").WithField("dimensions");
  }
  EmbedRequest r;
  r.model = p.model();
  r.inputs.reserve(static_cast<size_t>(p.inputs_size()));
  for (const pb::EmbedInput& i : p.inputs()) {
    EmbedInput& in = r.inputs.emplace_back();
    in.text = i.text();
    in.tokens.assign(i.tokens().begin(), i.tokens().end());
  }
  r.dimensions = p.dimensions();
  r.normalize = p.normalize();
  r.truncate = p.truncate();
  r.caller_share = p.caller_share();
  return r;
}

pb::EmbedResponse ToProto(const EmbedResult& result) {
  pb::EmbedResponse p;
  for (const std::vector<float>& v : result.embeddings) {
    p.add_embeddings()->mutable_values()->Add(v.begin(), v.end());
  }
  p.set_prompt_tokens(result.prompt_tokens);
  return p;
}

Result<EmbedResult> FromProto(const pb::EmbedResponse& p) {
  if (p.has_error()) return FromProto(p.error());
  EmbedResult r;
  r.embeddings.reserve(static_cast<size_t>(p.embeddings_size()));
  for (const pb::Embedding& e : p.embeddings())
    r.embeddings.emplace_back(e.values().begin(), e.values().end());
  r.prompt_tokens = p.prompt_tokens();
  return r;
}

}  // namespace llmux::serving::wire
