// Text generation over one sequence: encode the prompt, prefill it in one Forward call,
// then sample and decode token by token, streaming whole UTF-8 characters to a callback.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/models/model.h"
#include "engine/runtime/sampler.h"
#include "engine/tokenizer/tokenizer.h"

namespace llmux {

struct GenerateOptions {
  int max_tokens = 128;       // tokens to generate at most
  bool ignore_eog = false;    // keep going past end-of-generation tokens
  bool add_special = true;    // add BOS/EOS as the vocabulary says
  bool parse_special = true;  // recognise special-token text in the prompt
  int n_ctx = 0;              // cache size; 0: prompt + max_tokens
};

enum class StopReason { kEndOfGeneration, kMaxTokens, kContextFull, kCallback };
const char* StopReasonName(StopReason reason);

struct GenerationResult {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> generated_ids;  // includes the end-of-generation token if one came
  std::string text;                    // the streamed text, joined
  StopReason stop = StopReason::kMaxTokens;
  double prefill_seconds = 0;
  double decode_seconds = 0;
  int decode_steps = 0;  // forward calls after the prefill
  double prefill_tokens_per_second() const;
  double decode_tokens_per_second() const;
};

// Receives text as it is produced (whole characters); return false to stop.
using PieceCallback = std::function<bool(std::string_view text)>;

class Generator {
 public:
  Generator(Model& model, const Tokenizer& tokenizer) : model_(model), tokenizer_(tokenizer) {}

  Result<GenerationResult> Generate(std::string_view prompt, const SamplerParams& sampling,
                                    const GenerateOptions& options,
                                    const PieceCallback& on_text = {});

  // As Generate, for an already tokenized prompt (at least one token).
  Result<GenerationResult> GenerateFromIds(std::vector<int32_t> prompt_ids,
                                           const SamplerParams& sampling,
                                           const GenerateOptions& options,
                                           const PieceCallback& on_text = {});

 private:
  Model& model_;
  const Tokenizer& tokenizer_;
};

}  // namespace llmux
