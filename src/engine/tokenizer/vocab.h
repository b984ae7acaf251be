// The vocabulary a tokenizer works from: the plain data a GGUF file stores (VocabData) and the
// indexed form with llama.cpp's rules for special tokens applied (Vocab).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/tokenizer/flat_map.h"

namespace llmux::tokenizer {

// tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Per-token attribute bits (llama.cpp's llama_token_attr). A token can gain kControl when
// llama.cpp's rules recognise it by its text (e.g. "<|im_end|>").
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
};

enum class VocabType {
  kBpe,  // tokenizer.ggml.model = gpt2: byte-level BPE with merges
  kSpm,  // tokenizer.ggml.model = llama: SentencePiece BPE with scores and byte fallback
};

// What a GGUF file says about its tokenizer, as plain vectors (unit tests build these by hand).
// Every optional field overrides llama.cpp's default for the model type when set.
struct VocabData {
  std::string model;                 // tokenizer.ggml.model: "gpt2" or "llama"
  std::string pre;                   // tokenizer.ggml.pre (byte-level BPE only)
  std::vector<std::string> tokens;   // tokenizer.ggml.tokens
  std::vector<float> scores;         // tokenizer.ggml.scores; empty = all 0
  std::vector<int32_t> token_types;  // tokenizer.ggml.token_type; empty = all normal
  std::vector<std::string> merges;   // tokenizer.ggml.merges, "left right", rank = index

  std::optional<int64_t> bos_id, eos_id, eot_id, eom_id, unk_id, sep_id, pad_id, mask_id;
  std::optional<int64_t> fim_pre_id, fim_suf_id, fim_mid_id, fim_pad_id, fim_rep_id, fim_sep_id;
  std::optional<bool> add_bos, add_eos, add_space_prefix;
};

class Vocab {
 public:
  // Validates and indexes `data`. Fails for an unknown model type, an empty token list, or
  // score/type arrays shorter than the token list.
  static Result<std::unique_ptr<Vocab>> Build(VocabData data);

  VocabType type() const { return type_; }
  const std::string& pre() const { return pre_; }
  int32_t size() const { return texts_.size(); }
  bool Valid(int32_t id) const { return id >= 0 && id < size(); }

  std::string_view text(int32_t id) const { return texts_.text(id); }
  float score(int32_t id) const { return scores_[id]; }
  uint32_t attr(int32_t id) const { return attrs_[id]; }
  // Token id with exactly this text, or -1. With duplicate texts the last id wins (llama.cpp).
  int32_t Find(std::string_view text) const;

  int32_t bos_id() const { return bos_; }
  int32_t eos_id() const { return eos_; }
  int32_t eot_id() const { return eot_; }
  int32_t eom_id() const { return eom_; }
  int32_t unk_id() const { return unk_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  bool ignore_merges() const { return ignore_merges_; }  // Llama 3: whole-word tokens skip BPE
  bool clean_spaces() const { return clean_spaces_; }    // clean-up pass after decoding
  const std::vector<std::string>& merges() const { return merges_; }

  // Control, user-defined and unknown tokens, longest text first: the order in which their
  // texts are cut out of the input before BPE.
  const std::vector<int32_t>& special_tokens() const { return special_tokens_; }
  bool IsEog(int32_t id) const;
  const std::vector<int32_t>& eog_ids() const { return eog_ids_; }

 private:
  Vocab() = default;
  Status Index(std::vector<std::string>& tokens);
  void ApplySpecialTokenRules();

  VocabType type_ = VocabType::kBpe;
  std::string pre_;
  TextTable texts_;  // token texts by id, indexed by text
  std::vector<float> scores_;
  std::vector<uint32_t> attrs_;
  std::vector<std::string> merges_;

  int32_t bos_ = -1, eos_ = -1, eot_ = -1, eom_ = -1, unk_ = -1, sep_ = -1, pad_ = -1, mask_ = -1;
  int32_t fim_pre_ = -1, fim_suf_ = -1, fim_mid_ = -1, fim_pad_ = -1, fim_rep_ = -1, fim_sep_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
  bool ignore_merges_ = false, clean_spaces_ = false;
  std::vector<int32_t> special_tokens_;
  std::vector<int32_t> eog_ids_;  // sorted
};

}  // namespace llmux::tokenizer
