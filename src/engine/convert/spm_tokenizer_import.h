// SentencePiece-style BPE tokenizers (tokenizer.json with model.byte_fallback, as Hugging Face
// writes them for Llama 1/2, TinyLlama and llama2.c models) -> GGUF tokenizer.ggml.model
// "llama", the vocabulary llama.cpp and llmux tokenize with SentencePiece's rules.
//
// tokenizer.json has no SentencePiece scores. llama.cpp merges the pair whose merged piece has
// the highest score; SentencePiece BPE orders its normal pieces by score, so the ids carry the
// order: the k-th normal piece (by id) gets score -k, every other token 0 (as SentencePiece
// gives byte, control and unknown pieces). Token types: the unk token UNKNOWN, <0xXX> pieces
// BYTE, special added tokens CONTROL, other added tokens USER_DEFINED, unused ids UNUSED.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "engine/convert/tokenizer_import.h"

namespace llmux::convert {

// Adds the tokenizer.* keys; n_tokens pads the list with [PAD<id>] (0: highest id + 1).
Result<TokenizerImportSummary> AddSentencePieceMetadata(const HfTokenizer& tok, int64_t n_tokens,
                                                        gguf::GgufWriter& w);

}  // namespace llmux::convert
