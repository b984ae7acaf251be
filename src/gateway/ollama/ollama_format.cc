#include "gateway/ollama/ollama_format.h"

#include <openssl/sha.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

namespace llmux::gateway {

namespace {

using Json = nlohmann::ordered_json;

// Invalid UTF-8 (a token cut inside a character) is replaced, never a throw.
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// What Ollama shows for a model kept loaded forever (keep_alive < 0): now + Go's longest
// duration lands in the year 2318.
constexpr const char* kNeverExpires = "2318-01-01T00:00:00Z";

// Ollama's arguments are an object; a call whose arguments are not JSON keeps them as text.
Json ToolCallJson(const serving::ToolCallDelta& c) {
  Json args = Json::parse(c.arguments.empty() ? std::string("{}") : c.arguments, nullptr,
                          /*allow_exceptions=*/false);
  if (args.is_discarded()) args = c.arguments;
  return Json{{"function", {{"index", c.index}, {"name", c.name}, {"arguments", args}}}};
}

Json MessageJson(const OllamaPiece& piece) {
  Json m = {{"role", "assistant"}, {"content", piece.content}};
  if (!piece.thinking.empty()) m["thinking"] = piece.thinking;
  if (!piece.tool_calls.empty()) {
    Json calls = Json::array();
    for (const auto& c : piece.tool_calls) calls.push_back(ToolCallJson(c));
    m["tool_calls"] = calls;
  }
  return m;
}

Json Head(const OllamaMeta& meta) {
  return {{"model", meta.model}, {"created_at", meta.created_at}};
}

// Ollama says "stop" for a natural end (tool calls included) and "length" at the limit.
const char* DoneReason(serving::FinishReason r) {
  return r == serving::FinishReason::kLength ? "length" : "stop";
}

void AddDone(Json& j, const serving::Finish& finish, const OllamaTimings& t) {
  j["done"] = true;
  j["done_reason"] = DoneReason(finish.reason);
  j["total_duration"] = t.total_ns;
  j["load_duration"] = t.load_ns;
  j["prompt_eval_count"] = finish.usage.prompt_tokens;
  j["prompt_eval_duration"] = t.prompt_eval_ns;
  j["eval_count"] = finish.usage.completion_tokens;
  j["eval_duration"] = t.eval_ns;
}

std::string Digest(const serving::ModelInfo& m) {
  // Not the file's SHA-256 (hashing gigabytes per listing is too dear): that of what
  // identifies this load of the model, so it changes when the model is reloaded.
  const std::string identity = m.id + "\n" + m.architecture + "\n" + m.quantization + "\n" +
                               std::to_string(m.size_bytes) + "\n" + std::to_string(m.created);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(identity.data()), identity.size(), digest);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

Json Details(const serving::ModelInfo& m) {
  return {{"parent_model", ""},
          {"format", "gguf"},
          {"family", m.architecture},
          {"families", Json::array({m.architecture})},
          {"parameter_size", ParameterSizeText(m.parameter_count)},
          {"quantization_level", m.quantization}};
}

}  // namespace

void OllamaPiece::Add(const serving::Delta& d) {
  content += d.content;
  thinking += d.reasoning;
  for (const auto& c : d.tool_calls) {
    if (c.index < 0) continue;
    if (c.index >= static_cast<int>(tool_calls.size())) tool_calls.resize(c.index + 1);
    serving::ToolCallDelta& t = tool_calls[c.index];
    t.index = c.index;
    if (!c.id.empty()) t.id = c.id;
    t.name += c.name;
    t.arguments += c.arguments;
  }
}

std::string OllamaChatLine(const OllamaMeta& meta, const OllamaPiece& piece) {
  Json j = Head(meta);
  j["message"] = MessageJson(piece);
  j["done"] = false;
  return Dump(j) + "\n";
}

std::string OllamaChatDoneLine(const OllamaMeta& meta, const OllamaPiece& piece,
                               const serving::Finish& finish, const OllamaTimings& timings) {
  Json j = Head(meta);
  j["message"] = MessageJson(piece);
  AddDone(j, finish, timings);
  return Dump(j) + "\n";
}

std::string OllamaGenerateLine(const OllamaMeta& meta, const OllamaPiece& piece) {
  Json j = Head(meta);
  j["response"] = piece.content;
  if (!piece.thinking.empty()) j["thinking"] = piece.thinking;
  j["done"] = false;
  return Dump(j) + "\n";
}

std::string OllamaGenerateDoneLine(const OllamaMeta& meta, const OllamaPiece& piece,
                                   const serving::Finish& finish, const OllamaTimings& timings) {
  Json j = Head(meta);
  j["response"] = piece.content;
  if (!piece.thinking.empty()) j["thinking"] = piece.thinking;
  AddDone(j, finish, timings);
  return Dump(j) + "\n";
}

std::string OllamaLoadedLine(const OllamaMeta& meta, bool chat) {
  Json j = Head(meta);
  if (chat) {
    j["message"] = {{"role", "assistant"}, {"content", ""}};
  } else {
    j["response"] = "";
  }
  j["done_reason"] = "load";
  j["done"] = true;
  return Dump(j) + "\n";
}

std::string OllamaErrorJson(const std::string& message) { return Dump(Json{{"error", message}}); }

std::string OllamaErrorLine(const std::string& message) { return OllamaErrorJson(message) + "\n"; }

std::string OllamaEmbedJson(const std::string& model, const serving::EmbedResult& result,
                            int64_t total_ns) {
  Json j{{"model", OllamaModelName(model)},
         {"embeddings", result.embeddings},
         {"total_duration", total_ns},
         {"load_duration", 0},
         {"prompt_eval_count", result.prompt_tokens}};
  return Dump(j);
}

std::string OllamaLegacyEmbeddingJson(const serving::EmbedResult& result) {
  return Dump(Json{
      {"embedding", result.embeddings.empty() ? std::vector<float>{} : result.embeddings.front()}});
}

std::string OllamaTagsJson(const std::vector<serving::ModelInfo>& models) {
  Json list = Json::array();
  for (const auto& m : models) {
    const std::string name = OllamaModelName(m.id);
    list.push_back({{"name", name},
                    {"model", name},
                    {"modified_at", Rfc3339Utc(m.created)},
                    {"size", m.size_bytes},
                    {"digest", Digest(m)},
                    {"details", Details(m)}});
  }
  return Dump(Json{{"models", list}});
}

std::string OllamaPsJson(const std::vector<serving::ModelInfo>& models,
                         const std::map<std::string, OllamaExpiry>& expiry) {
  Json list = Json::array();
  for (const auto& m : models) {
    if (!m.ready) continue;
    const std::string name = OllamaModelName(m.id);
    std::string expires_at = kNeverExpires;
    int64_t size = m.size_bytes;
    if (auto it = expiry.find(m.id); it != expiry.end()) {
      if (it->second.expires_at) {
        const double at = *it->second.expires_at;
        const auto whole = static_cast<int64_t>(std::floor(at));
        expires_at = Rfc3339Utc(whole, static_cast<int64_t>((at - whole) * 1e9));
      }
      if (it->second.size_bytes > 0) size = it->second.size_bytes;
    }
    list.push_back({{"name", name},
                    {"model", name},
                    {"size", size},
                    {"digest", Digest(m)},
                    {"details", Details(m)},
                    {"expires_at", expires_at},
                    {"size_vram", 0}});
  }
  return Dump(Json{{"models", list}});
}

std::string OllamaShowJson(const serving::ModelInfo& m) {
  Json info = Json::object();
  info["general.architecture"] = m.architecture;
  if (m.parameter_count > 0) info["general.parameter_count"] = m.parameter_count;
  if (!m.architecture.empty() && m.context_length > 0) {
    info[m.architecture + ".context_length"] = m.context_length;
  }
  Json j = {{"modelfile", "# Modelfile generated by llmux\nFROM " + OllamaModelName(m.id) + "\n"},
            {"parameters", "num_ctx " + std::to_string(m.context_length)},
            {"details", Details(m)},
            {"model_info", info},
            {"capabilities", Json::array({"completion"})},
            {"modified_at", Rfc3339Utc(m.created)}};
  return Dump(j);
}

std::string OllamaVersionJson(const std::string& version, const std::string& llmux_version) {
  Json j = {{"version", version}};
  if (!llmux_version.empty()) j["llmux_version"] = llmux_version;
  return Dump(j);
}

std::string Rfc3339Utc(int64_t unix_seconds, int64_t nanos) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (nanos > 0) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(nanos % 1000000000));
    out += frac;
  }
  return out + "Z";
}

std::string Rfc3339Now() {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return Rfc3339Utc(ns / 1000000000, ns % 1000000000);
}

std::string ParameterSizeText(int64_t n) {
  if (n <= 0) return "";
  // Ollama's format.HumanNumber: whole numbers bare, else one decimal for B, two for M.
  auto fmt = [](double v, const char* unit, int decimals) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f%s", v == std::floor(v) ? 0 : decimals, v, unit);
    return std::string(buf);
  };
  if (n >= 1000000000) return fmt(static_cast<double>(n) / 1e9, "B", 1);
  if (n >= 1000000) return fmt(static_cast<double>(n) / 1e6, "M", 2);
  if (n >= 1000) return fmt(static_cast<double>(n) / 1e3, "K", 0);
  return std::to_string(n);
}

std::string OllamaModelName(const std::string& served) {
  return served.find(':') == std::string::npos ? served + ":latest" : served;
}

}  // namespace llmux::gateway
