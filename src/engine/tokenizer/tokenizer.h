// Text <-> token ids for the models llmux runs, matching llama.cpp's tokenizer:
//  * byte-level BPE (tokenizer.ggml.model = gpt2) with the qwen2, llama-bpe (Llama 3) and
//    deepseek-v3 pre-tokenizers (plus gpt2 and default);
//  * SentencePiece BPE with byte fallback (tokenizer.ggml.model = llama, Llama 2 family).
// No Unicode normalization is applied (llama.cpp applies none either).
//
// Thread-safe: every method is const and keeps no mutable state.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/tokenizer/vocab.h"

namespace llmux {

namespace gguf {
class GgufFile;
}

namespace tokenizer {
class BpeModel;
class PreTokenizer;
class SpmModel;
}  // namespace tokenizer

class Tokenizer {
 public:
  // Reads the tokenizer.ggml.* metadata. Fails with a clear status for missing keys, an
  // unknown model or pre-tokenizer, or arrays of the wrong type or length.
  static Result<std::unique_ptr<Tokenizer>> FromGguf(const gguf::GgufFile& file);
  // Builds a tokenizer from plain vectors (tests, tools).
  static Result<std::unique_ptr<Tokenizer>> FromVocab(tokenizer::VocabData data);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // add_special: add BOS/EOS as the vocab says (tokenizer.ggml.add_bos_token / add_eos_token,
  // llama.cpp defaults). parse_special: recognise control/unknown token text in `text`;
  // user-defined tokens (e.g. Qwen3's <think>) are recognised either way, as in llama.cpp.
  // Invalid UTF-8 is tokenized as U+FFFD, as llama.cpp does.
  std::vector<int32_t> Encode(std::string_view text, bool add_special, bool parse_special) const;

  // ids -> text like llama_detokenize(remove_special=false, unparse_special=true): special
  // tokens rendered as their text, SentencePiece's leading space of the first token removed,
  // and for vocabularies that ask for it (Llama 3) the clean-up of spaces before punctuation.
  // Unknown ids render as nothing.
  std::string Decode(std::span<const int32_t> ids) const;
  // Raw bytes of one token (for streaming; may be an incomplete UTF-8 sequence).
  std::string TokenToPiece(int32_t id) const;

  int32_t n_vocab() const;
  int32_t bos_id() const;  // -1 if none
  int32_t eos_id() const;  // -1 if none
  bool add_bos() const;
  // eos, eot, eom and the tokens llama.cpp treats as end of generation by their text
  // (<|im_end|>, <|endoftext|>, <|eot_id|>, <|eom_id|>, FIM pad/repo/file-sep ...).
  bool IsEndOfGeneration(int32_t id) const;
  // The token's stored text ("" for an unknown id).
  std::string_view TokenText(int32_t id) const;
  // The id whose text is exactly `text`, or -1.
  int32_t FindToken(std::string_view text) const;
  // Control, unknown or user-defined tokens (not plain text).
  bool IsSpecial(int32_t id) const;

  const tokenizer::Vocab& vocab() const { return *vocab_; }

 private:
  Tokenizer();
  struct Fragment {
    int32_t token;  // >= 0: a special token; -1: raw text
    size_t offset;
    size_t length;
  };
  std::vector<Fragment> Partition(std::string_view text, bool parse_special) const;
  void EncodeBpeText(std::string_view text, std::vector<int32_t>& out) const;
  std::string MakePiece(int32_t id) const;

  std::unique_ptr<tokenizer::Vocab> vocab_;
  std::unique_ptr<tokenizer::PreTokenizer> pre_;
  std::unique_ptr<tokenizer::BpeModel> bpe_;
  std::unique_ptr<tokenizer::SpmModel> spm_;
  std::vector<std::string> pieces_;  // TokenToPiece of every id
};

}  // namespace llmux
