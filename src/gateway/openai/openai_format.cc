#include "gateway/openai/openai_format.h"

#include <bit>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>

#include "auth/base64url.h"

namespace llmux::gateway {

namespace {

using Json = nlohmann::ordered_json;

std::string Sse(const Json& j) {
  // Invalid UTF-8 (a token cut inside a character) is replaced, never a throw.
  return "data: " + j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
}

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json Bytes(const std::string& s) {
  Json a = Json::array();
  for (unsigned char c : s) a.push_back(static_cast<int>(c));
  return a;
}

Json ChatLogprobs(const std::vector<serving::TokenLogprob>& lps) {
  Json content = Json::array();
  for (const auto& lp : lps) {
    Json top = Json::array();
    for (const auto& t : lp.top) {
      top.push_back({{"token", t.token}, {"logprob", t.logprob}, {"bytes", Bytes(t.token)}});
    }
    content.push_back(
        {{"token", lp.token}, {"logprob", lp.logprob}, {"bytes", Bytes(lp.token)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

Json CompletionLogprobs(const std::vector<serving::TokenLogprob>& lps, size_t text_offset) {
  Json tokens = Json::array(), token_logprobs = Json::array(), top = Json::array(),
       offsets = Json::array();
  for (const auto& lp : lps) {
    tokens.push_back(lp.token);
    token_logprobs.push_back(lp.logprob);
    Json alt = Json::object();
    for (const auto& t : lp.top) alt[t.token] = t.logprob;
    top.push_back(alt);
    offsets.push_back(text_offset);
    text_offset += lp.token.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top},
          {"text_offset", offsets}};
}

Json UsageJson(const serving::Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.total_tokens()},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

Json ToolCallJson(const serving::ToolCallDelta& c, bool with_index) {
  Json j = Json::object();
  if (with_index) j["index"] = c.index;
  if (!c.id.empty()) {
    j["id"] = c.id;
    j["type"] = "function";
  }
  Json fn = Json::object();
  if (!c.name.empty()) fn["name"] = c.name;
  fn["arguments"] = c.arguments;
  j["function"] = fn;
  return j;
}

Json Envelope(const ResponseMeta& meta, const char* object) {
  return {{"id", meta.id}, {"object", object}, {"created", meta.created}, {"model", meta.model}};
}

// Cancelled requests report "stop" (the client asked us to stop); errors never reach here.
const char* FinishName(serving::FinishReason r) {
  return r == serving::FinishReason::kCancelled ? "stop" : serving::FinishReasonName(r);
}

const char* ErrorType(int http_status) {
  switch (http_status) {
    case 400:
    case 404:
    case 405:
    case 408:
    case 409:
    case 413:
    case 431:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 429:
      return "rate_limit_exceeded";
    case 503:
      return "service_unavailable";
    default:
      return "server_error";
  }
}

}  // namespace

std::string NewResponseId(const char* prefix) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* kHex = "0123456789abcdef";
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id += kHex[rng() & 15];
  return id;
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void ResponseAccumulator::Add(const serving::Delta& d) {
  reasoning_ += d.reasoning;
  content_ += d.content;
  for (const auto& c : d.tool_calls) {
    if (c.index >= static_cast<int>(tool_calls_.size())) tool_calls_.resize(c.index + 1);
    serving::ToolCallDelta& t = tool_calls_[c.index];
    t.index = c.index;
    if (!c.id.empty()) t.id = c.id;
    t.name += c.name;
    t.arguments += c.arguments;
  }
  logprobs_.insert(logprobs_.end(), d.logprobs.begin(), d.logprobs.end());
}

std::string ResponseAccumulator::ChatCompletionJson(const ResponseMeta& meta,
                                                    const serving::Finish& finish,
                                                    bool logprobs) const {
  Json message = {{"role", "assistant"}};
  message["content"] = content_.empty() && !tool_calls_.empty() ? Json(nullptr) : Json(content_);
  if (!reasoning_.empty()) message["reasoning_content"] = reasoning_;
  if (!tool_calls_.empty()) {
    Json calls = Json::array();
    for (const auto& c : tool_calls_) calls.push_back(ToolCallJson(c, false));
    message["tool_calls"] = calls;
  }
  Json choice = {{"index", 0}, {"message", message}};
  choice["logprobs"] = logprobs ? ChatLogprobs(logprobs_) : Json(nullptr);
  choice["finish_reason"] = FinishName(finish.reason);
  Json j = Envelope(meta, "chat.completion");
  j["choices"] = Json::array({choice});
  j["usage"] = UsageJson(finish.usage);
  return Dump(j);
}

std::string ResponseAccumulator::CompletionJson(const ResponseMeta& meta,
                                                const serving::Finish& finish, bool logprobs,
                                                const std::string& echo_prefix) const {
  Json choice = {{"text", echo_prefix + content_}, {"index", 0}};
  choice["logprobs"] = logprobs ? CompletionLogprobs(logprobs_, echo_prefix.size()) : Json(nullptr);
  choice["finish_reason"] = FinishName(finish.reason);
  Json j = Envelope(meta, "text_completion");
  j["choices"] = Json::array({choice});
  j["usage"] = UsageJson(finish.usage);
  return Dump(j);
}

std::string ChatChunkEvent(const ResponseMeta& meta, const serving::Delta& d, bool first,
                           bool logprobs) {
  Json delta = Json::object();
  if (first) delta["role"] = "assistant";
  if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
  if (!d.content.empty() || (first && d.reasoning.empty() && d.tool_calls.empty())) {
    delta["content"] = d.content;
  }
  std::string more;
  if (!d.tool_calls.empty()) {
    Json calls = Json::array();
    serving::Delta rest;
    for (const auto& c : d.tool_calls) {
      if (!c.id.empty() && !c.arguments.empty()) {
        // As OpenAI does: a call opens with empty arguments, which follow in the next chunk.
        serving::ToolCallDelta head = c;
        head.arguments.clear();
        calls.push_back(ToolCallJson(head, true));
        rest.tool_calls.push_back(serving::ToolCallDelta{c.index, "", "", c.arguments});
      } else {
        calls.push_back(ToolCallJson(c, true));
      }
    }
    delta["tool_calls"] = calls;
    if (!rest.tool_calls.empty()) more = ChatChunkEvent(meta, rest, false, false);
  }
  Json choice = {{"index", 0}, {"delta", delta}};
  choice["logprobs"] = logprobs && !d.logprobs.empty() ? ChatLogprobs(d.logprobs) : Json(nullptr);
  choice["finish_reason"] = nullptr;
  Json j = Envelope(meta, "chat.completion.chunk");
  j["choices"] = Json::array({choice});
  return Sse(j) + more;
}

std::string ChatFinishEvent(const ResponseMeta& meta, const serving::Finish& finish) {
  Json choice = {{"index", 0}, {"delta", Json::object()}, {"logprobs", nullptr},
                 {"finish_reason", FinishName(finish.reason)}};
  Json j = Envelope(meta, "chat.completion.chunk");
  j["choices"] = Json::array({choice});
  return Sse(j);
}

std::string CompletionChunkEvent(const ResponseMeta& meta, const serving::Delta& d, bool logprobs) {
  Json choice = {{"text", d.content}, {"index", 0}};
  choice["logprobs"] = logprobs && !d.logprobs.empty() ? CompletionLogprobs(d.logprobs, 0) : Json(nullptr);
  choice["finish_reason"] = nullptr;
  Json j = Envelope(meta, "text_completion");
  j["choices"] = Json::array({choice});
  return Sse(j);
}

std::string CompletionFinishEvent(const ResponseMeta& meta, const serving::Finish& finish) {
  Json choice = {{"text", ""}, {"index", 0}, {"logprobs", nullptr},
                 {"finish_reason", FinishName(finish.reason)}};
  Json j = Envelope(meta, "text_completion");
  j["choices"] = Json::array({choice});
  return Sse(j);
}

std::string UsageEvent(const ResponseMeta& meta, const char* object, const serving::Usage& usage) {
  Json j = Envelope(meta, object);
  j["choices"] = Json::array();
  j["usage"] = UsageJson(usage);
  return Sse(j);
}

std::string ErrorEvent(const Status& status) { return "data: " + ErrorJson(status) + "\n\n"; }

std::string TokenizeJson(const std::vector<int32_t>& tokens, int max_model_len) {
  return Dump(Json{{"tokens", tokens},
                   {"count", static_cast<int64_t>(tokens.size())},
                   {"max_model_len", max_model_len}});
}

std::string EmbeddingsJson(const std::string& model, const serving::EmbedResult& result,
                           bool base64) {
  static_assert(std::endian::native == std::endian::little, "base64 embeddings are little-endian");
  Json data = Json::array();
  for (size_t i = 0; i < result.embeddings.size(); ++i) {
    const std::vector<float>& v = result.embeddings[i];
    Json item{{"object", "embedding"}, {"index", static_cast<int64_t>(i)}};
    if (base64) {
      item["embedding"] = auth::Base64Encode(
          std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    } else {
      item["embedding"] = v;
    }
    data.push_back(std::move(item));
  }
  return Dump(
      Json{{"object", "list"},
           {"data", std::move(data)},
           {"model", model},
           {"usage",
            {{"prompt_tokens", result.prompt_tokens}, {"total_tokens", result.prompt_tokens}}}});
}

std::string DetokenizeJson(const std::string& prompt) { return Dump(Json{{"prompt", prompt}}); }

std::string ModelListJson(const std::vector<serving::ModelInfo>& models) {
  Json data = Json::array();
  for (const auto& m : models) {
    data.push_back({{"id", m.id},
                    {"object", "model"},
                    {"created", m.created},
                    {"owned_by", "llmux"},
                    {"architecture", m.architecture},
                    {"quantization", m.quantization},
                    {"context_length", m.context_length}});
  }
  return Dump(Json{{"object", "list"}, {"data", data}});
}

std::string ErrorJson(const Status& status) {
  const int http = HttpStatusFor(status);
  Json err = {{"message", status.message()}, {"type", ErrorType(http)}};
  err["param"] = status.field().empty() ? Json(nullptr) : Json(status.field());
  if (status.code() == StatusCode::kNotFound && status.field() == "model") {
    err["code"] = "model_not_found";
  } else if (http == 429) {
    err["code"] = "rate_limit_exceeded";
  } else if (http == 401) {
    err["code"] = "invalid_api_key";
  } else if (http == 403) {
    err["code"] = "permission_denied";
  } else if (http == 400 && !status.field().empty()) {
    err["code"] = "invalid_value";
  } else {
    err["code"] = nullptr;
  }
  return Dump(Json{{"error", err}});
}

std::string ErrorJson(int http_status, const std::string& message) {
  Json err = {{"message", message}, {"type", ErrorType(http_status)}, {"param", nullptr},
              {"code", nullptr}};
  return Dump(Json{{"error", err}});
}

}  // namespace llmux::gateway
