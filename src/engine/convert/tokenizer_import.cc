#include "engine/convert/tokenizer_import.h"

#include <algorithm>

#include "engine/convert/spm_tokenizer_import.h"
#include "engine/gguf/gguf_writer.h"

namespace llmux::convert {

namespace {

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
constexpr int32_t kNormal = 1;
constexpr int32_t kControl = 3;
constexpr int32_t kUserDefined = 4;
constexpr int32_t kUnused = 5;

// Far above any real vocabulary; keeps a hostile id from allocating gigabytes.
constexpr int64_t kMaxTokens = int64_t{1} << 24;
constexpr int64_t kQwen2VocabSize = 151936;

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// Added tokens that some models do not flag as special but that are control tokens
// (llama.cpp's does_token_look_special).
bool LooksSpecial(std::string_view t) {
  if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
  if (StartsWith(t, "<|") && EndsWith(t, "|>")) return true;
  if (StartsWith(t, "<\uFF5C") && EndsWith(t, "\uFF5C>")) return true;  // fullwidth bars (DeepSeek)
  return StartsWith(t, "<unused") && EndsWith(t, ">");
}

// A merge part as GGUF stores it: spaces (only possible in non-byte-level vocabularies) become
// U+0120, the byte-level stand-in for a space, so "left right" stays splittable.
std::string MergePart(std::string_view part) {
  std::string out;
  for (char c : part) {
    if (c == ' ') {
      out += "\u0120";
    } else {
      out += c;
    }
  }
  return out;
}

struct TokenTable {
  std::vector<std::string> texts;
  std::vector<int32_t> types;
};

Result<TokenTable> BuildTokenTable(const HfTokenizer& tok, int64_t n_tokens) {
  TokenTable t;
  t.texts.resize(static_cast<size_t>(n_tokens));
  t.types.assign(static_cast<size_t>(n_tokens), 0);
  std::vector<const std::string*> model_owner(static_cast<size_t>(n_tokens), nullptr);
  for (const auto& [text, id] : tok.vocab) {
    auto& owner = model_owner[static_cast<size_t>(id)];
    if (owner != nullptr) {
      return InvalidArgumentError("model.vocab gives id " + std::to_string(id) + " to both '" +
                                  *owner + "' and '" + text + "'");
    }
    owner = &text;
    t.texts[static_cast<size_t>(id)] = text;
    t.types[static_cast<size_t>(id)] = kNormal;
  }
  std::vector<bool> added_seen(static_cast<size_t>(n_tokens), false);
  for (const auto& a : tok.added_tokens) {
    if (added_seen[static_cast<size_t>(a.id)]) {
      return InvalidArgumentError("added_tokens lists id " + std::to_string(a.id) + " twice");
    }
    added_seen[static_cast<size_t>(a.id)] = true;
    t.texts[static_cast<size_t>(a.id)] = a.content;
    t.types[static_cast<size_t>(a.id)] =
        a.special || LooksSpecial(a.content) ? kControl : kUserDefined;
  }
  for (int64_t id = 0; id < n_tokens; ++id) {
    if (t.types[static_cast<size_t>(id)] == 0) {
      t.texts[static_cast<size_t>(id)] = "[PAD" + std::to_string(id) + "]";
      t.types[static_cast<size_t>(id)] = kUnused;
    }
  }
  return t;
}

// The id of a special token named in tokenizer_config: the first added token with that
// content (as llama.cpp looks it up), else the model token with that text.
Result<int64_t> SpecialTokenId(const HfTokenizer& tok, const std::string& what,
                               const std::string& content) {
  for (const auto& a : tok.added_tokens) {
    if (a.content == content) return a.id;
  }
  for (const auto& [text, id] : tok.vocab) {
    if (text == content) return id;
  }
  return InvalidArgumentError(what + " '" + content + "' is not in the vocabulary");
}

Status CheckIds(const HfTokenizer& tok) {
  if (tok.model_type != "BPE") {
    return InvalidArgumentError("model.type is '" + tok.model_type +
                                "'; only byte-level BPE is supported");
  }
  if (tok.vocab.empty()) return InvalidArgumentError("model.vocab is empty");
  auto check = [](int64_t id, const std::string& text) -> Status {
    if (id < 0 || id >= kMaxTokens) {
      return InvalidArgumentError("token '" + text + "' has id " + std::to_string(id) +
                                  ", outside 0.." + std::to_string(kMaxTokens - 1));
    }
    return Status::Ok();
  };
  for (const auto& [text, id] : tok.vocab) LLMUX_RETURN_IF_ERROR(check(id, text));
  for (const auto& a : tok.added_tokens) LLMUX_RETURN_IF_ERROR(check(a.id, a.content));
  for (size_t i = 0; i < tok.merges.size(); ++i) {
    if (tok.merges[i].first.empty() || tok.merges[i].second.empty()) {
      return InvalidArgumentError("merge " + std::to_string(i) + " has an empty part");
    }
  }
  return Status::Ok();
}

int64_t HighestIdPlusOne(const HfTokenizer& tok) {
  int64_t n = 0;
  for (const auto& v : tok.vocab) n = std::max(n, v.second + 1);
  for (const auto& a : tok.added_tokens) n = std::max(n, a.id + 1);
  return n;
}

}  // namespace

int64_t DefaultVocabSize(const HfTokenizer& tok) {
  int64_t n = HighestIdPlusOne(tok);
  if (tok.tokenizer_class == "Qwen2Tokenizer" || tok.tokenizer_class == "Qwen2TokenizerFast") {
    n = std::max(n, kQwen2VocabSize);
  }
  return n;
}

Result<TokenizerImportSummary> AddTokenizerMetadata(const HfTokenizer& tok,
                                                    const TokenizerImportOptions& opts,
                                                    gguf::GgufWriter& w) {
  LLMUX_RETURN_IF_ERROR(CheckIds(tok));
  if (opts.pre.empty()) return InvalidArgumentError("the pre-tokenizer name is empty");
  const int64_t needed = HighestIdPlusOne(tok);
  const int64_t n_tokens = opts.vocab_size > 0 ? opts.vocab_size : DefaultVocabSize(tok);
  if (n_tokens < needed) {
    return InvalidArgumentError("vocab size " + std::to_string(n_tokens) +
                                " is below the highest token id + 1 (" + std::to_string(needed) +
                                ")");
  }
  if (n_tokens > kMaxTokens)
    return InvalidArgumentError("vocab size " + std::to_string(n_tokens) + " is too large");
  LLMUX_ASSIGN_OR_RETURN(TokenTable table, BuildTokenTable(tok, n_tokens));

  // Special ids: those named in tokenizer_config in llama.cpp's order, then the bos fallback.
  std::vector<std::pair<std::string, int64_t>> special_ids;
  const std::pair<const char*, const std::optional<std::string>*> named[] = {
      {"bos", &tok.bos_token},
      {"eos", &tok.eos_token},
      {"unknown", &tok.unk_token},
      {"padding", &tok.pad_token}};
  for (const auto& [key, value] : named) {
    if (!value->has_value()) continue;
    LLMUX_ASSIGN_OR_RETURN(int64_t id, SpecialTokenId(tok, std::string(key) + " token", **value));
    special_ids.emplace_back(std::string("tokenizer.ggml.") + key + "_token_id", id);
  }
  if (!tok.bos_token && tok.pad_token) {
    LLMUX_ASSIGN_OR_RETURN(int64_t id, SpecialTokenId(tok, "pad token", *tok.pad_token));
    special_ids.emplace_back("tokenizer.ggml.bos_token_id", id);
  }

  std::vector<std::string> merges;
  merges.reserve(tok.merges.size());
  for (const auto& [left, right] : tok.merges)
    merges.push_back(MergePart(left) + " " + MergePart(right));

  TokenizerImportSummary summary;
  summary.n_tokens = n_tokens;
  summary.n_merges = static_cast<int64_t>(merges.size());
  for (int32_t type : table.types) {
    summary.n_padding += type == kUnused;
    summary.n_control += type == kControl;
    summary.n_user_defined += type == kUserDefined;
  }

  w.SetString("tokenizer.ggml.model", "gpt2");
  w.SetString("tokenizer.ggml.pre", opts.pre);
  w.SetStringArray("tokenizer.ggml.tokens", std::move(table.texts));
  w.SetInt32Array("tokenizer.ggml.token_type", std::move(table.types));
  w.SetStringArray("tokenizer.ggml.merges", std::move(merges));
  for (const auto& [key, id] : special_ids) w.SetUint32(key, static_cast<uint32_t>(id));
  w.SetBool("tokenizer.ggml.add_bos_token", tok.add_bos_token.value_or(false));
  if (tok.add_eos_token) w.SetBool("tokenizer.ggml.add_eos_token", *tok.add_eos_token);
  for (const auto& [name, tmpl] : tok.chat_templates) {
    w.SetString(name == "default" ? "tokenizer.chat_template" : "tokenizer.chat_template." + name,
                tmpl);
  }
  return summary;
}

Result<TokenizerImportSummary> ImportTokenizer(const HfTokenizer& tok,
                                               const TokenizerImportOptions& opts,
                                               const std::string& out_path) {
  gguf::GgufWriter w;
  if (!opts.name.empty()) w.SetString("general.name", opts.name);
  LLMUX_ASSIGN_OR_RETURN(TokenizerImportSummary summary,
                         tok.byte_fallback ? AddSentencePieceMetadata(tok, opts.vocab_size, w)
                                           : AddTokenizerMetadata(tok, opts, w));
  LLMUX_RETURN_IF_ERROR(w.Write(out_path));
  return summary;
}

}  // namespace llmux::convert
