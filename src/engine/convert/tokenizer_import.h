// Turns a Hugging Face byte-level BPE tokenizer (tokenizer.json + tokenizer_config.json) into
// the GGUF tokenizer metadata llama.cpp's convert_hf_to_gguf.py writes for gpt2-type
// vocabularies, so a model made from it tokenizes exactly like a converted one.
//
// The engine reads no JSON: the caller (the CLI) parses the two files into HfTokenizer.
//
// Rules, as llama.cpp's converter applies them:
//  * ids 0..n-1; an added token replaces the model token of the same id; an id nobody uses
//    becomes "[PAD<id>]" with type UNUSED (this also pads up to vocab_size);
//  * types: NORMAL for model tokens; CONTROL for added tokens marked special or that look
//    special (<|...|>, <｜...｜>, <pad>, <mask>, <unused...>); USER_DEFINED for the other added
//    tokens (e.g. Qwen3's <think>);
//  * merges "left right", in rank order; a space inside a part is stored as U+0120;
//  * bos/eos/unk/pad ids: the token named in tokenizer_config (added tokens first, then the
//    model vocabulary). When bos_token is null (Qwen), bos falls back to the pad token, as
//    Qwen's config.json does (bos_token_id = <|endoftext|>); add_bos_token keeps it unused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace llmux::gguf {
class GgufWriter;
}

namespace llmux::convert {

struct HfAddedToken {
  int64_t id = 0;
  std::string content;
  bool special = false;
};

// What tokenizer.json and tokenizer_config.json say, as plain data.
struct HfTokenizer {
  // tokenizer.json
  std::string model_type = "BPE";                           // model.type
  bool byte_fallback = false;  // model.byte_fallback: SentencePiece-style (spm_tokenizer_import.h)
  bool add_space_prefix =
      false;  // SentencePiece-style: "▁" goes before the text (Llama 2, not Gemma)
  std::vector<std::pair<std::string, int64_t>> vocab;       // model.vocab (text, id)
  std::vector<std::pair<std::string, std::string>> merges;  // model.merges, by rank
  std::vector<HfAddedToken> added_tokens;                   // added_tokens
  // tokenizer_config.json
  std::optional<std::string> bos_token, eos_token, unk_token, pad_token;
  std::optional<bool> add_bos_token, add_eos_token;
  std::string tokenizer_class;  // e.g. "Qwen2Tokenizer"; "" if absent
  // chat_template: a single template is named "default" (-> tokenizer.chat_template); others
  // go to tokenizer.chat_template.<name>.
  std::vector<std::pair<std::string, std::string>> chat_templates;
};

struct TokenizerImportOptions {
  std::string pre = "qwen2";  // tokenizer.ggml.pre: the pre-tokenizer llmux and llama.cpp apply
  // Token count written. 0: DefaultVocabSize(). Must be at least the highest id + 1.
  int64_t vocab_size = 0;
  std::string name;  // general.name; empty: none written
};

// What was written, for the command's summary line.
struct TokenizerImportSummary {
  int64_t n_tokens = 0;   // including padding
  int64_t n_padding = 0;  // UNUSED [PAD] entries
  int64_t n_control = 0;
  int64_t n_user_defined = 0;
  int64_t n_merges = 0;
};

// The highest id + 1, raised to 151,936 for Qwen2Tokenizer vocabularies (the embedding size of
// Qwen3 and the smaller Qwen2/2.5 models, which llama.cpp pads the token list to).
int64_t DefaultVocabSize(const HfTokenizer& tok);

// Adds the tokenizer.* keys to `w` in llama.cpp's order: ggml.model (gpt2), ggml.pre,
// ggml.tokens, ggml.token_type, ggml.merges, the special ids, add_bos/add_eos, chat templates.
// Fails with InvalidArgument for a non-BPE model, an empty or inconsistent vocabulary
// (negative, duplicate or too-large ids), empty merge parts, a vocab_size too small, or a
// special token that is not in the vocabulary.
Result<TokenizerImportSummary> AddTokenizerMetadata(const HfTokenizer& tok,
                                                    const TokenizerImportOptions& opts,
                                                    gguf::GgufWriter& w);

// Writes a vocabulary-only GGUF (no tensors): general.name (if set) and the tokenizer keys.
Result<TokenizerImportSummary> ImportTokenizer(const HfTokenizer& tok,
                                               const TokenizerImportOptions& opts,
                                               const std::string& out_path);

}  // namespace llmux::convert
