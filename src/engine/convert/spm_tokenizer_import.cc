#include "engine/convert/spm_tokenizer_import.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/gguf/gguf_writer.h"

namespace llmux::convert {

namespace {

// llama.cpp's llama_token_type values.
constexpr int32_t kNormal = 1;
constexpr int32_t kUnknown = 2;
constexpr int32_t kControl = 3;
constexpr int32_t kUserDefined = 4;
constexpr int32_t kUnused = 5;
constexpr int32_t kByte = 6;

constexpr int64_t kMaxTokens = int64_t{1} << 24;

bool IsBytePiece(const std::string& t) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

Result<int64_t> IdOf(const HfTokenizer& tok, const std::string& what, const std::string& text) {
  for (const auto& a : tok.added_tokens) {
    if (a.content == text) return a.id;
  }
  for (const auto& [t, id] : tok.vocab) {
    if (t == text) return id;
  }
  return InvalidArgumentError(what + " '" + text + "' is not in the vocabulary");
}

}  // namespace

Result<TokenizerImportSummary> AddSentencePieceMetadata(const HfTokenizer& tok, int64_t n_tokens,
                                                        gguf::GgufWriter& w) {
  if (tok.vocab.empty()) return InvalidArgumentError("model.vocab is empty");
  int64_t needed = 0;
  auto check = [&](int64_t id, const std::string& text) -> Status {
    if (id < 0 || id >= kMaxTokens) {
      return InvalidArgumentError("token '" + text + "' has id " + std::to_string(id) +
                                  ", outside 0.." + std::to_string(kMaxTokens - 1));
    }
    needed = std::max(needed, id + 1);
    return Status::Ok();
  };
  for (const auto& [text, id] : tok.vocab) LLMUX_RETURN_IF_ERROR(check(id, text));
  for (const auto& a : tok.added_tokens) LLMUX_RETURN_IF_ERROR(check(a.id, a.content));
  n_tokens = std::max(n_tokens, needed);
  if (n_tokens > kMaxTokens) return InvalidArgumentError("vocab size is too large");

  const auto n = static_cast<size_t>(n_tokens);
  std::vector<std::string> texts(n);
  std::vector<int32_t> types(n, 0);
  for (const auto& [text, id] : tok.vocab) {
    if (types[static_cast<size_t>(id)] != 0) {
      return InvalidArgumentError("model.vocab gives id " + std::to_string(id) + " twice");
    }
    texts[static_cast<size_t>(id)] = text;
    types[static_cast<size_t>(id)] = IsBytePiece(text) ? kByte : kNormal;
  }
  for (const auto& a : tok.added_tokens) {
    texts[static_cast<size_t>(a.id)] = a.content;
    types[static_cast<size_t>(a.id)] = a.special ? kControl : kUserDefined;
  }
  TokenizerImportSummary summary;
  summary.n_tokens = n_tokens;
  std::vector<std::pair<std::string, int64_t>> special_ids;
  const std::pair<const char*, const std::optional<std::string>*> named[] = {
      {"bos", &tok.bos_token},
      {"eos", &tok.eos_token},
      {"unknown", &tok.unk_token},
      {"padding", &tok.pad_token}};
  for (const auto& [key, value] : named) {
    if (!value->has_value()) continue;
    LLMUX_ASSIGN_OR_RETURN(int64_t id, IdOf(tok, std::string(key) + " token", **value));
    special_ids.emplace_back(std::string("tokenizer.ggml.") + key + "_token_id", id);
    if (std::string(key) == "unknown") types[static_cast<size_t>(id)] = kUnknown;
  }

  // SentencePiece merges the adjacent pair whose joined piece scores highest; Hugging Face's
  // BPE applies merges by rank. A piece's score is therefore minus the rank of the first merge
  // that makes it, so both pick the same merges. Pieces no merge makes (single characters)
  // rank after all merges, in id order; without merges, id order alone.
  std::vector<float> scores(n, 0.0f);
  std::vector<bool> scored(n, false);
  if (!tok.merges.empty()) {
    std::unordered_map<std::string, int64_t> id_of;
    id_of.reserve(tok.vocab.size());
    for (const auto& [text, id] : tok.vocab) id_of.emplace(text, id);
    for (size_t rank = 0; rank < tok.merges.size(); ++rank) {
      const auto& [left, right] = tok.merges[rank];
      auto it = id_of.find(left + right);
      if (it == id_of.end()) continue;
      const auto id = static_cast<size_t>(it->second);
      if (types[id] == kNormal && !scored[id]) {
        scores[id] = -static_cast<float>(rank);
        scored[id] = true;
      }
    }
  }
  auto rank = static_cast<int64_t>(tok.merges.size());
  for (size_t id = 0; id < n; ++id) {
    if (types[id] == kNormal && !scored[id]) scores[id] = -static_cast<float>(rank++);
    if (types[id] == 0) {
      texts[id] = "[PAD" + std::to_string(id) + "]";
      types[id] = kUnused;
    }
    summary.n_padding += types[id] == kUnused;
    summary.n_control += types[id] == kControl;
    summary.n_user_defined += types[id] == kUserDefined;
  }

  w.SetString("tokenizer.ggml.model", "llama");
  w.SetStringArray("tokenizer.ggml.tokens", std::move(texts));
  w.SetFloat32Array("tokenizer.ggml.scores", std::move(scores));
  w.SetInt32Array("tokenizer.ggml.token_type", std::move(types));
  for (const auto& [key, id] : special_ids) w.SetUint32(key, static_cast<uint32_t>(id));
  if (tok.add_bos_token) w.SetBool("tokenizer.ggml.add_bos_token", *tok.add_bos_token);
  if (tok.add_eos_token) w.SetBool("tokenizer.ggml.add_eos_token", *tok.add_eos_token);
  w.SetBool("tokenizer.ggml.add_space_prefix", tok.add_space_prefix);
  for (const auto& [name, tmpl] : tok.chat_templates) {
    w.SetString(name == "default" ? "tokenizer.chat_template" : "tokenizer.chat_template." + name,
                tmpl);
  }
  return summary;
}

}  // namespace llmux::convert
