// Perplexity the way llama.cpp's llama-perplexity computes it:
//  * the whole text is tokenized once (BOS first when the vocabulary adds BOS);
//  * it is cut into floor(n_tokens / n_ctx) consecutive chunks of n_ctx tokens;
//  * when the vocabulary adds BOS, the first token of every chunk is replaced by BOS;
//  * each chunk runs from position 0 in a fresh cache, F16 by default like llama-perplexity's
//    (its default -ctk/-ctv f16; an F32 cache moves the PPL of qwen3-mini-f32 by 8.5e-6 of
//    llama.cpp's figure, an F16 one by 4e-8);
//  * the logits at positions n_ctx/2 .. n_ctx-2 are scored against the next token;
//  * PPL = exp(mean negative log-likelihood over all scored tokens).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/models/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace llmux {

struct PerplexityResult {
  int n_tokens = 0;  // tokens in the text
  int n_ctx = 0;
  int n_chunks = 0;
  int64_t n_scored = 0;         // tokens scored over all chunks
  std::vector<double> running;  // estimate after each chunk (llama-perplexity's [i]x.xxxx)
  double ppl = 0;               // final estimate
  double ppl_error = 0;         // its standard error (as llama-perplexity prints after +/-)
  double seconds = 0;
};

// Called after each chunk with its index (0-based) and the running estimate.
using PerplexityProgress = std::function<void(int chunk, double running_ppl)>;

// Fails if the text has fewer than 2 * n_ctx tokens (llama-perplexity's requirement).
// kv_type: the KV cache type, any that Model::NewCache accepts.
Result<PerplexityResult> ComputePerplexity(Model& model, const Tokenizer& tokenizer,
                                           std::string_view text, int n_ctx,
                                           const PerplexityProgress& progress = {},
                                           DType kv_type = DType::kF16);

// As above over tokens; bos_id >= 0 replaces each chunk's first token with it.
Result<PerplexityResult> ComputePerplexityFromTokens(Model& model, std::span<const int32_t> tokens,
                                                     int n_ctx, int32_t bos_id,
                                                     const PerplexityProgress& progress = {},
                                                     DType kv_type = DType::kF16);

}  // namespace llmux
