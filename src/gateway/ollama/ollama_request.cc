#include "gateway/ollama/ollama_request.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "gateway/request/request_fields.h"
#include "serving/request_validation.h"

namespace llmux::gateway {

namespace {

using Json = request_fields::Json;
using request_fields::Field;

// Ollama's error wording (as its Go server words them).
constexpr request_fields::FieldReader kFields({
    .type_error = "invalid type for '{0}': expected {1}, got {2}",
    .out_of_range = "{0} is out of range, got {1}",
    .not_json = "invalid JSON in the request body",
    .not_object = "the request body must be a JSON object",
});

// Go's largest duration (time.ParseDuration refuses longer ones), in seconds.
constexpr double kMaxKeepAliveSeconds = 9223372036.0;

Status RequireModel(const Json& body, std::string& model) {
  LLMUX_ASSIGN_OR_RETURN(auto m, kFields.GetString(body, "model", "model"));
  if (!m || m->empty()) return kFields.Invalid("model", "model is required");
  model = ServedModelName(*m);
  return Status::Ok();
}

Status RefuseImages(const Json& obj, const std::string& path) {
  const Json* images = Field(obj, "images");
  if (!images) return Status::Ok();
  if (!images->is_array()) return kFields.TypeError(path, "an array", *images);
  if (!images->empty())
    return kFields.Invalid(path, "images are not supported: llmux serves text-only models");
  return Status::Ok();
}

Result<KeepAlive> ParseKeepAlive(const Json& body) {
  const Json* v = Field(body, "keep_alive");
  if (!v) return KeepAlive();
  if (v->is_string()) {
    LLMUX_ASSIGN_OR_RETURN(int64_t s, ParseKeepAliveText(v->get<std::string>()));
    return KeepAlive(s);
  }
  if (!v->is_number())
    return kFields.TypeError("keep_alive", "a duration string or a number of seconds", *v);
  const double d = v->get<double>();
  if (!std::isfinite(d) || d > kMaxKeepAliveSeconds) {
    return kFields.Invalid("keep_alive", "keep_alive is out of range, got " + v->dump());
  }
  if (d < 0) return KeepAlive(-1);
  return KeepAlive(d > 0 && d < 1 ? 1 : static_cast<int64_t>(d));
}

Result<bool> ParseStream(const Json& body) {
  LLMUX_ASSIGN_OR_RETURN(auto stream, kFields.GetBool(body, "stream", "stream"));
  return stream.value_or(true);
}

// `options`: the sampling and length settings llmux has; the others Ollama knows (num_ctx,
// num_gpu, mirostat, ...) are about its runner and are ignored, as unknown ones are.
Status ParseOptions(const Json& body, serving::GenerationOptions& o) {
  const Json* opts = Field(body, "options");
  if (!opts) return Status::Ok();
  if (!opts->is_object()) return kFields.TypeError("options", "an object", *opts);
  serving::SamplingOptions& s = o.sampling;
  LLMUX_ASSIGN_OR_RETURN(s.temperature,
                         kFields.GetFloat(*opts, "temperature", "options.temperature"));
  LLMUX_ASSIGN_OR_RETURN(s.top_p, kFields.GetFloat(*opts, "top_p", "options.top_p"));
  LLMUX_ASSIGN_OR_RETURN(s.min_p, kFields.GetFloat(*opts, "min_p", "options.min_p"));
  LLMUX_ASSIGN_OR_RETURN(auto repeat,
                         kFields.GetFloat(*opts, "repeat_penalty", "options.repeat_penalty"));
  if (repeat) s.repetition_penalty = *repeat;
  LLMUX_ASSIGN_OR_RETURN(auto presence,
                         kFields.GetFloat(*opts, "presence_penalty", "options.presence_penalty"));
  if (presence) s.presence_penalty = *presence;
  LLMUX_ASSIGN_OR_RETURN(auto frequency,
                         kFields.GetFloat(*opts, "frequency_penalty", "options.frequency_penalty"));
  if (frequency) s.frequency_penalty = *frequency;
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  LLMUX_ASSIGN_OR_RETURN(auto top_k,
                         kFields.GetInteger(*opts, "top_k", "options.top_k", 0, kIntMax));
  if (top_k) s.top_k = static_cast<int>(*top_k);
  // Ollama's seed is any integer; -1 (its default) means a random one.
  LLMUX_ASSIGN_OR_RETURN(auto seed, kFields.GetInteger(*opts, "seed", "options.seed",
                                                       std::numeric_limits<int64_t>::min(),
                                                       std::numeric_limits<int64_t>::max()));
  if (seed && *seed >= 0) s.seed = static_cast<uint32_t>(*seed);
  // num_predict: -1 generates until the end, -2 until the context is full; both mean no limit.
  LLMUX_ASSIGN_OR_RETURN(auto num_predict, kFields.GetInteger(*opts, "num_predict",
                                                              "options.num_predict", -2, kIntMax));
  if (num_predict && *num_predict == 0) {
    return kFields.Invalid("options.num_predict",
                           "options.num_predict must be positive, or -1 for no limit");
  }
  if (num_predict && *num_predict > 0) o.max_tokens = static_cast<int>(*num_predict);
  if (const Json* stop = Field(*opts, "stop")) {
    if (stop->is_string()) {
      o.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (const Json& e : *stop) {
        if (!e.is_string()) return kFields.TypeError("options.stop", "an array of strings", e);
        o.stop.push_back(e.get<std::string>());
      }
    } else {
      return kFields.TypeError("options.stop", "an array of strings", *stop);
    }
  }
  return Status::Ok();
}

// format: "json" constrains the answer to one JSON object, a JSON schema (an object) to a value
// valid against it; "" or absent: free text. `schema` gets the schema's text, key order kept.
Status ParseFormat(const Json& body, serving::ResponseFormat& format, std::string& schema) {
  const Json* f = Field(body, "format");
  if (!f) return Status::Ok();
  if (f->is_string()) {
    const std::string s = f->get<std::string>();
    if (s.empty()) return Status::Ok();
    if (s == "json") {
      format = serving::ResponseFormat::kJsonObject;
      return Status::Ok();
    }
    return kFields.Invalid("format", "format must be \"json\", got \"" + s.substr(0, 64) + "\"");
  }
  if (f->is_object()) {
    format = serving::ResponseFormat::kJsonSchema;
    schema = f->dump(-1, ' ', false, Json::error_handler_t::replace);
    return Status::Ok();
  }
  return kFields.TypeError("format", "\"json\" or a JSON schema", *f);
}

// think: true/false switches the model's reasoning on or off (where its template can).
Status ParseThink(const Json& body, std::optional<bool>& enable_thinking) {
  const Json* t = Field(body, "think");
  if (!t) return Status::Ok();
  if (t->is_boolean()) {
    enable_thinking = t->get<bool>();
    return Status::Ok();
  }
  // Newer Ollama takes an effort level for some models: any level means "think".
  if (t->is_string()) {
    const std::string s = t->get<std::string>();
    if (s == "low" || s == "medium" || s == "high") {
      enable_thinking = true;
      return Status::Ok();
    }
    return kFields.Invalid("think", "think must be true, false, \"low\", \"medium\" or \"high\"");
  }
  return kFields.TypeError("think", "a boolean", *t);
}

Result<chat::ToolCall> ParseToolCall(const Json& j, const std::string& path) {
  if (!j.is_object()) return kFields.TypeError(path, "an object", j);
  const Json* fn = Field(j, "function");
  if (!fn || !fn->is_object())
    return kFields.Invalid(path + ".function", "a tool call needs 'function'");
  chat::ToolCall call;
  LLMUX_ASSIGN_OR_RETURN(auto name, kFields.GetString(*fn, "name", path + ".function.name"));
  if (!name || name->empty())
    return kFields.Invalid(path + ".function.name", "a tool call needs 'function.name'");
  call.name = *name;
  const Json* args = Field(*fn, "arguments");
  if (!args) {
    call.arguments = Json::object();
  } else if (args->is_object() || args->is_string()) {
    call.arguments = *args;
  } else {
    return kFields.TypeError(path + ".function.arguments", "an object", *args);
  }
  return call;
}

Result<std::vector<chat::Message>> ParseMessages(const Json& body) {
  std::vector<chat::Message> out;
  const Json* msgs = Field(body, "messages");
  if (!msgs) return out;
  if (!msgs->is_array()) return kFields.TypeError("messages", "an array", *msgs);
  for (size_t i = 0; i < msgs->size(); ++i) {
    const Json& m = (*msgs)[i];
    const std::string path = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return kFields.TypeError(path, "an object", m);
    chat::Message msg;
    LLMUX_ASSIGN_OR_RETURN(auto role, kFields.GetString(m, "role", path + ".role"));
    if (!role) return kFields.Invalid(path + ".role", path + ".role is required");
    msg.role = *role;
    LLMUX_ASSIGN_OR_RETURN(auto content, kFields.GetString(m, "content", path + ".content"));
    msg.content = content.value_or("");
    LLMUX_ASSIGN_OR_RETURN(msg.reasoning_content,
                           kFields.GetString(m, "thinking", path + ".thinking"));
    LLMUX_ASSIGN_OR_RETURN(auto tool_name, kFields.GetString(m, "tool_name", path + ".tool_name"));
    LLMUX_ASSIGN_OR_RETURN(auto name, kFields.GetString(m, "name", path + ".name"));
    msg.name = tool_name ? *tool_name : name.value_or("");
    LLMUX_RETURN_IF_ERROR(RefuseImages(m, path + ".images"));
    if (const Json* calls = Field(m, "tool_calls")) {
      if (!calls->is_array()) return kFields.TypeError(path + ".tool_calls", "an array", *calls);
      for (size_t k = 0; k < calls->size(); ++k) {
        LLMUX_ASSIGN_OR_RETURN(
            chat::ToolCall call,
            ParseToolCall((*calls)[k], path + ".tool_calls[" + std::to_string(k) + "]"));
        msg.tool_calls.push_back(std::move(call));
      }
    }
    out.push_back(std::move(msg));
  }
  return out;
}

// Ollama's tools have OpenAI's shape: {"type": "function", "function": {name, description,
// parameters}}.
Result<std::vector<chat::Tool>> ParseTools(const Json& body) {
  std::vector<chat::Tool> tools;
  const Json* t = Field(body, "tools");
  if (!t) return tools;
  if (!t->is_array()) return kFields.TypeError("tools", "an array", *t);
  for (size_t i = 0; i < t->size(); ++i) {
    const Json& tool = (*t)[i];
    const std::string path = "tools[" + std::to_string(i) + "]";
    if (!tool.is_object()) return kFields.TypeError(path, "an object", tool);
    auto type = tool.find("type");
    if (type != tool.end() && (!type->is_string() || *type != "function")) {
      return kFields.Invalid(path + ".type", "only tools of type \"function\" are supported");
    }
    const Json* fn = Field(tool, "function");
    if (!fn || !fn->is_object())
      return kFields.Invalid(path + ".function", "a tool needs 'function'");
    const Json* name = Field(*fn, "name");
    if (!name || !name->is_string() || name->get<std::string>().empty()) {
      return kFields.Invalid(path + ".function.name", "a tool needs 'function.name'");
    }
    if (const Json* params = Field(*fn, "parameters"); params && !params->is_object()) {
      return kFields.TypeError(path + ".function.parameters", "an object (a JSON Schema)", *params);
    }
    Json spec = tool;
    if (type == tool.end()) spec["type"] = "function";
    tools.push_back(chat::Tool{std::move(spec)});
  }
  return tools;
}

// The serving core's checks name OpenAI's fields; an Ollama client sent them in `options`.
Status InOllamaTerms(Status s) {
  if (s.ok()) return s;
  const std::string& f = s.field();
  if (f == "max_tokens") return s.WithField("options.num_predict");
  if (f == "repetition_penalty") return s.WithField("options.repeat_penalty");
  if (f == "temperature" || f == "top_p" || f == "top_k" || f == "min_p" ||
      f == "presence_penalty" || f == "frequency_penalty" || f == "stop") {
    return s.WithField("options." + f);
  }
  return s;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::string ServedModelName(std::string_view name) {
  constexpr std::string_view kLatest = ":latest";
  if (name.size() > kLatest.size() && name.substr(name.size() - kLatest.size()) == kLatest) {
    name.remove_suffix(kLatest.size());
  }
  return std::string(name);
}

Result<int64_t> ParseKeepAliveText(std::string_view text) {
  auto bad = [&] {
    return kFields.Invalid(
        "keep_alive", "keep_alive must be a duration such as \"5m\", \"1h30m\" or \"-1\", got \"" +
                          std::string(text.substr(0, 64)) + "\"");
  };
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 64) return bad();
  double seconds = 0;
  if (AllDigits(s)) {
    seconds = std::stod(std::string(s));  // a plain number: seconds
  } else {
    // Go's time.ParseDuration: one or more <decimal><unit>, units ns us µs ms s m h.
    while (!s.empty()) {
      size_t n = 0;
      while (n < s.size() && ((s[n] >= '0' && s[n] <= '9') || s[n] == '.')) ++n;
      const std::string number(s.substr(0, n));
      if (number.empty() || number == "." || number.find('.') != number.rfind('.')) return bad();
      s.remove_prefix(n);
      size_t u = 0;
      while (u < s.size() && !((s[u] >= '0' && s[u] <= '9') || s[u] == '.')) ++u;
      const std::string_view unit = s.substr(0, u);
      s.remove_prefix(u);
      double scale = 0;
      if (unit == "h") {
        scale = 3600;
      } else if (unit == "m") {
        scale = 60;
      } else if (unit == "s") {
        scale = 1;
      } else if (unit == "ms") {
        scale = 1e-3;
      } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
        scale = 1e-6;
      } else if (unit == "ns") {
        scale = 1e-9;
      } else if (unit.empty() && number.find_first_not_of("0.") == std::string::npos && s.empty()) {
        scale = 0;  // "0" needs no unit
      } else {
        return bad();
      }
      seconds += std::stod(number) * scale;
    }
  }
  if (!std::isfinite(seconds) || seconds > kMaxKeepAliveSeconds) return bad();
  if (negative && seconds > 0) return int64_t{-1};
  if (seconds > 0 && seconds < 1) return int64_t{1};
  return static_cast<int64_t>(seconds);
}

Result<OllamaChatCall> ParseOllamaChatRequest(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(Json body, kFields.ParseBody(text));
  OllamaChatCall out;
  serving::ChatRequest& r = out.request;
  LLMUX_RETURN_IF_ERROR(RequireModel(body, r.model));
  LLMUX_ASSIGN_OR_RETURN(r.messages, ParseMessages(body));
  LLMUX_ASSIGN_OR_RETURN(r.tools, ParseTools(body));
  LLMUX_RETURN_IF_ERROR(ParseOptions(body, r.options));
  LLMUX_RETURN_IF_ERROR(ParseFormat(body, r.response_format, r.json_schema));
  LLMUX_RETURN_IF_ERROR(ParseThink(body, r.enable_thinking));
  LLMUX_ASSIGN_OR_RETURN(out.stream, ParseStream(body));
  LLMUX_ASSIGN_OR_RETURN(out.keep_alive, ParseKeepAlive(body));
  out.load_only = r.messages.empty();
  if (out.load_only) {
    LLMUX_RETURN_IF_ERROR(InOllamaTerms(serving::ValidateGenerationOptions(r.options)));
    return out;
  }
  LLMUX_RETURN_IF_ERROR(InOllamaTerms(serving::ValidateChatRequest(r)));
  return out;
}

Result<OllamaGenerateCall> ParseOllamaGenerateRequest(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(Json body, kFields.ParseBody(text));
  OllamaGenerateCall out;
  std::string model;
  LLMUX_RETURN_IF_ERROR(RequireModel(body, model));
  LLMUX_ASSIGN_OR_RETURN(auto prompt, kFields.GetString(body, "prompt", "prompt"));
  LLMUX_ASSIGN_OR_RETURN(auto system, kFields.GetString(body, "system", "system"));
  LLMUX_ASSIGN_OR_RETURN(auto raw, kFields.GetBool(body, "raw", "raw"));
  out.raw = raw.value_or(false);
  LLMUX_RETURN_IF_ERROR(RefuseImages(body, "images"));
  LLMUX_ASSIGN_OR_RETURN(auto tmpl, kFields.GetString(body, "template", "template"));
  if (tmpl && !tmpl->empty()) {
    return kFields.Invalid(
        "template", "a template override is not supported; the model's own chat template is used");
  }
  LLMUX_ASSIGN_OR_RETURN(auto suffix, kFields.GetString(body, "suffix", "suffix"));
  if (suffix && !suffix->empty())
    return kFields.Invalid("suffix", "suffix (fill-in-the-middle) is not supported");
  if (const Json* context = Field(body, "context")) {
    if (!context->is_array()) return kFields.TypeError("context", "an array", *context);
    if (!context->empty()) {
      return kFields.Invalid(
          "context", "context (token ids of an earlier answer) is not supported; use /api/chat");
    }
  }
  LLMUX_ASSIGN_OR_RETURN(out.stream, ParseStream(body));
  LLMUX_ASSIGN_OR_RETURN(out.keep_alive, ParseKeepAlive(body));
  out.load_only = !prompt || prompt->empty();

  serving::GenerationOptions options;
  LLMUX_RETURN_IF_ERROR(ParseOptions(body, options));
  serving::ResponseFormat format = serving::ResponseFormat::kText;
  std::string schema;
  LLMUX_RETURN_IF_ERROR(ParseFormat(body, format, schema));
  std::optional<bool> think;
  LLMUX_RETURN_IF_ERROR(ParseThink(body, think));
  if (out.raw) {
    if (format != serving::ResponseFormat::kText) {
      return kFields.Invalid("format",
                             "format needs the chat template; it is not supported with raw");
    }
    out.completion.model = model;
    out.completion.prompt = prompt.value_or("");
    out.completion.options = std::move(options);
    LLMUX_RETURN_IF_ERROR(
        InOllamaTerms(out.load_only ? serving::ValidateGenerationOptions(out.completion.options)
                                    : serving::ValidateCompletionRequest(out.completion)));
    return out;
  }
  serving::ChatRequest& c = out.chat;
  c.model = model;
  if (system && !system->empty()) {
    chat::Message& m = c.messages.emplace_back();
    m.role = "system";
    m.content = *system;
  }
  chat::Message& user = c.messages.emplace_back();
  user.role = "user";
  user.content = prompt.value_or("");
  c.options = std::move(options);
  c.response_format = format;
  c.json_schema = std::move(schema);
  c.enable_thinking = think;
  LLMUX_RETURN_IF_ERROR(InOllamaTerms(out.load_only ? serving::ValidateGenerationOptions(c.options)
                                                    : serving::ValidateChatRequest(c)));
  return out;
}

Result<OllamaEmbedCall> ParseOllamaEmbedRequest(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(Json body, kFields.ParseBody(text));
  OllamaEmbedCall call;
  serving::EmbedRequest& r = call.request;
  LLMUX_RETURN_IF_ERROR(RequireModel(body, r.model));
  const Json* input = Field(body, "input");
  if (!input) return kFields.Invalid("input", "input is required");
  if (input->is_string()) {
    r.inputs.push_back({input->get<std::string>(), {}});
  } else if (input->is_array() && !input->empty()) {
    if (input->size() > static_cast<size_t>(serving::kMaxEmbedInputs)) {
      return kFields.Invalid("input",
                             "input holds " + std::to_string(input->size()) + " items; at most " +
                                 std::to_string(serving::kMaxEmbedInputs) + " are allowed");
    }
    for (size_t i = 0; i < input->size(); ++i) {
      const Json& item = (*input)[i];
      if (!item.is_string()) {
        return kFields.TypeError("input[" + std::to_string(i) + "]", "a string", item);
      }
      r.inputs.push_back({item.get<std::string>(), {}});
    }
  } else {
    return kFields.TypeError("input", "a string or a non-empty array of strings", *input);
  }
  LLMUX_ASSIGN_OR_RETURN(auto truncate, kFields.GetBool(body, "truncate", "truncate"));
  r.truncate = truncate.value_or(true);
  LLMUX_ASSIGN_OR_RETURN(auto dimensions,
                         kFields.GetInteger(body, "dimensions", "dimensions", 1, int64_t{1} << 20));
  if (dimensions) r.dimensions = static_cast<int>(*dimensions);
  LLMUX_ASSIGN_OR_RETURN(call.keep_alive, ParseKeepAlive(body));
  return call;
}

Result<OllamaEmbedCall> ParseOllamaLegacyEmbeddingsRequest(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(Json body, kFields.ParseBody(text));
  OllamaEmbedCall call;
  serving::EmbedRequest& r = call.request;
  LLMUX_RETURN_IF_ERROR(RequireModel(body, r.model));
  LLMUX_ASSIGN_OR_RETURN(auto prompt, kFields.GetString(body, "prompt", "prompt"));
  if (!prompt || prompt->empty()) return kFields.Invalid("prompt", "prompt is required");
  r.inputs.push_back({std::move(*prompt), {}});
  r.normalize = false;
  r.truncate = true;
  LLMUX_ASSIGN_OR_RETURN(call.keep_alive, ParseKeepAlive(body));
  return call;
}

Result<std::string> ParseOllamaShowRequest(std::string_view text) {
  LLMUX_ASSIGN_OR_RETURN(Json body, kFields.ParseBody(text));
  LLMUX_ASSIGN_OR_RETURN(auto model, kFields.GetString(body, "model", "model"));
  if (!model || model->empty()) {
    LLMUX_ASSIGN_OR_RETURN(model, kFields.GetString(body, "name", "name"));
  }
  if (!model || model->empty()) return kFields.Invalid("model", "model is required");
  return ServedModelName(*model);
}

}  // namespace llmux::gateway
