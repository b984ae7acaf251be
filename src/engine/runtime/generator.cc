#include "engine/runtime/generator.h"

#include <chrono>
#include <span>

#include "engine/runtime/utf8_stream.h"

namespace llmux {

namespace {
double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kEndOfGeneration:
      return "eog";
    case StopReason::kMaxTokens:
      return "length";
    case StopReason::kContextFull:
      return "context";
    case StopReason::kCallback:
      return "callback";
  }
  return "?";
}

double GenerationResult::prefill_tokens_per_second() const {
  return prefill_seconds > 0 ? prompt_ids.size() / prefill_seconds : 0.0;
}

double GenerationResult::decode_tokens_per_second() const {
  return decode_seconds > 0 ? decode_steps / decode_seconds : 0.0;
}

Result<GenerationResult> Generator::Generate(std::string_view prompt, const SamplerParams& sampling,
                                             const GenerateOptions& options,
                                             const PieceCallback& on_text) {
  std::vector<int32_t> ids = tokenizer_.Encode(prompt, options.add_special, options.parse_special);
  return GenerateFromIds(std::move(ids), sampling, options, on_text);
}

Result<GenerationResult> Generator::GenerateFromIds(std::vector<int32_t> prompt_ids,
                                                    const SamplerParams& sampling,
                                                    const GenerateOptions& options,
                                                    const PieceCallback& on_text) {
  if (prompt_ids.empty()) return InvalidArgumentError("empty prompt: nothing to condition on");
  if (options.max_tokens < 0) return InvalidArgumentError("max_tokens must be >= 0");
  const int n_prompt = static_cast<int>(prompt_ids.size());
  const int n_ctx = options.n_ctx > 0 ? options.n_ctx : n_prompt + options.max_tokens;
  if (n_prompt > n_ctx) {
    return OutOfRangeError("prompt of " + std::to_string(n_prompt) +
                           " tokens does not fit the context of " + std::to_string(n_ctx));
  }
  LLMUX_ASSIGN_OR_RETURN(std::unique_ptr<KvCache> cache, model_.NewCache(n_ctx));
  std::vector<float> logits(model_.config().n_vocab);
  Sampler sampler(sampling);
  for (int32_t id : prompt_ids) sampler.Accept(id);

  GenerationResult result;
  result.prompt_ids = std::move(prompt_ids);
  result.stop = StopReason::kMaxTokens;
  if (options.max_tokens == 0) return result;

  auto t0 = std::chrono::steady_clock::now();
  LLMUX_RETURN_IF_ERROR(model_.Forward(*cache, result.prompt_ids, 0, logits.data(), false));
  result.prefill_seconds = SecondsSince(t0);

  Utf8Stream stream;
  auto emit = [&](const std::string& text) {
    if (text.empty()) return true;
    result.text += text;
    return on_text ? on_text(text) : true;
  };
  int pos = n_prompt;
  t0 = std::chrono::steady_clock::now();
  for (;;) {
    const int32_t id = sampler.Sample(logits);
    sampler.Accept(id);
    result.generated_ids.push_back(id);
    const bool eog = tokenizer_.IsEndOfGeneration(id);
    if (eog && !options.ignore_eog) {
      result.stop = StopReason::kEndOfGeneration;
      break;
    }
    if (!emit(stream.Push(tokenizer_.TokenToPiece(id)))) {
      result.stop = StopReason::kCallback;
      break;
    }
    if (static_cast<int>(result.generated_ids.size()) >= options.max_tokens) break;
    if (pos >= n_ctx) {
      result.stop = StopReason::kContextFull;
      break;
    }
    LLMUX_RETURN_IF_ERROR(
        model_.Forward(*cache, std::span<const int32_t>(&id, 1), pos, logits.data(), false));
    ++pos;
    ++result.decode_steps;
  }
  result.decode_seconds = SecondsSince(t0);
  if (result.stop != StopReason::kCallback) emit(stream.Flush());
  return result;
}

}  // namespace llmux
