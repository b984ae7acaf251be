#include "engine/tokenizer/vocab.h"

#include <algorithm>
#include <initializer_list>

namespace llmux::tokenizer {
namespace {

uint32_t AttrFromType(int32_t type) {
  switch (static_cast<TokenType>(type)) {
    case TokenType::kNormal:
      return kAttrNormal;
    case TokenType::kUnknown:
      return kAttrUnknown;
    case TokenType::kControl:
      return kAttrControl;
    case TokenType::kUserDefined:
      return kAttrUserDefined;
    case TokenType::kUnused:
      return kAttrUnused;
    case TokenType::kByte:
      return kAttrByte;
    default:
      return kAttrUndefined;
  }
}

bool IsLlama3Pre(std::string_view pre) {
  return pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe";
}

// Texts that llama.cpp treats as end-of-generation whatever the metadata says.
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<\xef\xbd\x9c"
    "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",  // <｜end▁of▁sentence｜>
};

}  // namespace

Result<std::unique_ptr<Vocab>> Vocab::Build(VocabData data) {
  std::unique_ptr<Vocab> v(new Vocab());
  if (data.model == "llama") {
    v->type_ = VocabType::kSpm;
    v->bos_ = 1;
    v->eos_ = 2;
    v->unk_ = 0;
    v->add_space_prefix_ = true;
    v->add_bos_ = true;
  } else if (data.model == "gpt2") {
    v->type_ = VocabType::kBpe;
    v->bos_ = 11;  // llama.cpp's defaults for BPE vocabularies without these keys
    v->eos_ = 11;
    v->clean_spaces_ = true;
    if (IsLlama3Pre(data.pre)) {
      v->ignore_merges_ = true;
      v->add_bos_ = true;
    } else if (data.pre == "qwen2" || data.pre == "deepseek-r1-qwen" || data.pre == "deepseek-v3") {
      v->clean_spaces_ = false;
    }
    v->pre_ = data.pre;
    v->merges_ = std::move(data.merges);
  } else {
    return UnimplementedError("unsupported tokenizer model '" + data.model + "'");
  }
  if (data.add_space_prefix) v->add_space_prefix_ = *data.add_space_prefix;

  const size_t n = data.tokens.size();
  if (n == 0) return InvalidArgumentError("tokenizer has no tokens");
  if (n > static_cast<size_t>(INT32_MAX - 1)) return InvalidArgumentError("too many tokens");
  if (!data.scores.empty() && data.scores.size() < n) {
    return DataLossError("tokenizer scores: " + std::to_string(data.scores.size()) +
                         " entries for " + std::to_string(n) + " tokens");
  }
  if (!data.token_types.empty() && data.token_types.size() < n) {
    return DataLossError("tokenizer token types: " + std::to_string(data.token_types.size()) +
                         " entries for " + std::to_string(n) + " tokens");
  }
  LLMUX_RETURN_IF_ERROR(v->Index(data.tokens));
  v->scores_.assign(n, 0.0f);
  if (!data.scores.empty()) std::copy_n(data.scores.begin(), n, v->scores_.begin());
  v->attrs_.assign(n, kAttrNormal);
  if (!data.token_types.empty()) {
    for (size_t i = 0; i < n; ++i) v->attrs_[i] = AttrFromType(data.token_types[i]);
  }

  // Special ids: a key out of range keeps the default (llama.cpp warns and does the same).
  auto set_id = [&](const std::optional<int64_t>& key, int32_t& id) {
    if (key && *key >= 0 && *key < static_cast<int64_t>(n)) id = static_cast<int32_t>(*key);
    if (id >= static_cast<int32_t>(n)) id = -1;
  };
  set_id(data.bos_id, v->bos_);
  set_id(data.eos_id, v->eos_);
  set_id(data.eot_id, v->eot_);
  set_id(data.eom_id, v->eom_);
  set_id(data.unk_id, v->unk_);
  set_id(data.sep_id, v->sep_);
  set_id(data.pad_id, v->pad_);
  set_id(data.mask_id, v->mask_);
  set_id(data.fim_pre_id, v->fim_pre_);
  set_id(data.fim_suf_id, v->fim_suf_);
  set_id(data.fim_mid_id, v->fim_mid_);
  set_id(data.fim_pad_id, v->fim_pad_);
  set_id(data.fim_rep_id, v->fim_rep_);
  set_id(data.fim_sep_id, v->fim_sep_);
  if (data.add_bos) v->add_bos_ = *data.add_bos;
  if (data.add_eos) v->add_eos_ = *data.add_eos;

  v->ApplySpecialTokenRules();
  return v;
}

Status Vocab::Index(std::vector<std::string>& tokens) {
  const size_t n = tokens.size();
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (tokens[i].empty()) tokens[i] = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp
    total += tokens[i].size();
  }
  if (total > UINT32_MAX) return InvalidArgumentError("token texts too large");
  texts_.Reserve(n, total);
  for (const auto& t : tokens) texts_.Add(t);
  return Status::Ok();
}

int32_t Vocab::Find(std::string_view t) const { return texts_.Find(t); }

bool Vocab::IsEog(int32_t id) const {
  return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

// llama.cpp finds end-of-turn, FIM and end-of-generation tokens by their text when the metadata
// does not name them, and marks every such token as a control token.
void Vocab::ApplySpecialTokenRules() {
  const int32_t n = size();
  struct Detect {
    int32_t* slot;
    std::initializer_list<std::string_view> texts;
  };
  const Detect detects[] = {
      {&eot_,
       {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
        "<EOT>", "_<EOT>", "[EOT]",
        "<\xef\xbd\x9c"
        "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
        "<end_of_utterance>"}},
      {&eom_, {"<|eom_id|>"}},
      {&fim_pre_,
       {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
        "<\xef\xbd\x9c"
        "fim\xe2\x96\x81"
        "begin\xef\xbd\x9c>",
        "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>"}},
      {&fim_suf_,
       {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
        "<\xef\xbd\x9c"
        "fim\xe2\x96\x81hole\xef\xbd\x9c>",
        "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>"}},
      {&fim_mid_,
       {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
        "<\xef\xbd\x9c"
        "fim\xe2\x96\x81"
        "end\xef\xbd\x9c>",
        "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>"}},
      {&fim_pad_, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}},
      {&fim_rep_, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}},
      {&fim_sep_, {"<|file_sep|>"}},
  };
  // A text names the id it maps to (the last token with that text). Where several listed
  // texts exist, the lowest such id wins, as if scanning the vocabulary in id order.
  for (const auto& d : detects) {
    if (*d.slot != -1) continue;
    int32_t found = -1;
    for (std::string_view t : d.texts) {
      const int32_t id = Find(t);
      if (id >= 0 && (found < 0 || id < found)) found = id;
    }
    if (found >= 0) {
      *d.slot = found;
      attrs_[found] |= kAttrControl;
    }
  }

  std::vector<int32_t> eog;
  for (int32_t id : {fim_pad_, fim_rep_, fim_sep_}) {
    if (id >= 0) eog.push_back(id);
  }
  for (std::string_view t : kEogTexts) {
    const int32_t id = Find(t);
    if (id >= 0) {
      eog.push_back(id);
      attrs_[id] |= kAttrControl;
    }
  }
  for (int32_t id : {eos_, eot_, eom_}) {
    if (id >= 0) eog.push_back(id);
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());

  // llama.cpp's workarounds: gpt-oss/solar-open "<|end|>" and gemma4 "</s>" are not EOG there.
  auto find_eog = [&](std::string_view t) -> int32_t {
    for (int32_t id : eog) {
      if (text(id) == t) return id;
    }
    return -1;
  };
  const bool has_call = find_eog("<|call|>") >= 0 || find_eog("<|calls|>") >= 0;
  const int32_t end_id = find_eog("<|end|>");
  if (end_id >= 0 && has_call && (find_eog("<|return|>") >= 0 || find_eog("<|flush|>") >= 0)) {
    eog.erase(std::find(eog.begin(), eog.end(), end_id));
    attrs_[end_id] = kAttrUserDefined;
  }
  const int32_t s_id = find_eog("</s>");
  if (s_id >= 0 && find_eog("<|tool_response>") >= 0) {
    eog.erase(std::find(eog.begin(), eog.end(), s_id));
    attrs_[s_id] = kAttrNormal;
  }
  eog_ids_ = std::move(eog);

  for (int32_t id = 0; id < n; ++id) {
    if (attrs_[id] & (kAttrControl | kAttrUserDefined | kAttrUnknown))
      special_tokens_.push_back(id);
  }
  std::stable_sort(special_tokens_.begin(), special_tokens_.end(),
                   [&](int32_t a, int32_t b) { return text(a).size() > text(b).size(); });
}

}  // namespace llmux::tokenizer
