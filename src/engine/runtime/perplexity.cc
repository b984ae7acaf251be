#include "engine/runtime/perplexity.h"

#include <chrono>
#include <cmath>
#include <string>

namespace llmux {

namespace {

// -log softmax(logits)[target], with the sum in double like llama-perplexity.
double NegLogLikelihood(const float* logits, int n_vocab, int32_t target) {
  float max = logits[0];
  for (int i = 1; i < n_vocab; ++i) max = logits[i] > max ? logits[i] : max;
  double sum = 0.0;
  for (int i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
  return std::log(sum) - static_cast<double>(logits[target] - max);
}

}  // namespace

Result<PerplexityResult> ComputePerplexity(Model& model, const Tokenizer& tokenizer,
                                           std::string_view text, int n_ctx,
                                           const PerplexityProgress& progress, DType kv_type) {
  const std::vector<int32_t> tokens = tokenizer.Encode(text, /*add_special=*/true,
                                                       /*parse_special=*/false);
  const bool add_bos = tokenizer.add_bos() && tokenizer.bos_id() >= 0;
  return ComputePerplexityFromTokens(model, tokens, n_ctx, add_bos ? tokenizer.bos_id() : -1,
                                     progress, kv_type);
}

Result<PerplexityResult> ComputePerplexityFromTokens(Model& model, std::span<const int32_t> tokens,
                                                     int n_ctx, int32_t bos_id,
                                                     const PerplexityProgress& progress,
                                                     DType kv_type) {
  if (n_ctx < 4) return InvalidArgumentError("perplexity needs a context of at least 4 tokens");
  const int64_t n_tokens = static_cast<int64_t>(tokens.size());
  if (n_tokens < 2 * static_cast<int64_t>(n_ctx)) {
    return InvalidArgumentError("perplexity with a context of " + std::to_string(n_ctx) +
                                " needs at least " + std::to_string(2 * n_ctx) +
                                " tokens; the text has " + std::to_string(n_tokens));
  }
  const int n_vocab = model.config().n_vocab;
  const int first = n_ctx / 2;
  const int n_scored_per_chunk = n_ctx - 1 - first;
  LLMUX_ASSIGN_OR_RETURN(std::unique_ptr<KvCache> cache, model.NewCache(n_ctx, kv_type));
  std::vector<float> logits(static_cast<size_t>(n_scored_per_chunk) * n_vocab);
  std::vector<int32_t> chunk(n_ctx);

  PerplexityResult r;
  r.n_tokens = static_cast<int>(n_tokens);
  r.n_ctx = n_ctx;
  r.n_chunks = static_cast<int>(n_tokens / n_ctx);
  const auto t0 = std::chrono::steady_clock::now();
  double nll = 0.0, nll2 = 0.0;
  for (int c = 0; c < r.n_chunks; ++c) {
    const int64_t start = static_cast<int64_t>(c) * n_ctx;
    for (int i = 0; i < n_ctx; ++i) chunk[i] = tokens[start + i];
    if (bos_id >= 0) chunk[0] = bos_id;
    cache->Clear();
    // First half without logits; then positions first .. n_ctx-2 with logits for each.
    const std::span<const int32_t> all(chunk);
    LLMUX_RETURN_IF_ERROR(model.Forward(*cache, all.subspan(0, first), 0, nullptr, false));
    LLMUX_RETURN_IF_ERROR(
        model.Forward(*cache, all.subspan(first, n_scored_per_chunk), first, logits.data(), true));
    for (int j = 0; j < n_scored_per_chunk; ++j) {
      const int32_t target = tokens[start + first + j + 1];
      const double v =
          NegLogLikelihood(logits.data() + static_cast<size_t>(j) * n_vocab, n_vocab, target);
      nll += v;
      nll2 += v * v;
    }
    r.n_scored += n_scored_per_chunk;
    r.running.push_back(std::exp(nll / r.n_scored));
    if (progress) progress(c, r.running.back());
  }
  const double mean = nll / r.n_scored;
  r.ppl = std::exp(mean);
  if (r.n_scored > 1) {
    const double var = (nll2 / r.n_scored - mean * mean) / (r.n_scored - 1);
    r.ppl_error = var > 0 ? r.ppl * std::sqrt(var) : 0.0;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace llmux
