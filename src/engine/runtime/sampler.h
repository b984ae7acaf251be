// Token sampling from logits, llama.cpp style. The chain, in llama.cpp's default order:
//   penalties (repetition, presence, frequency over the last penalty_last_n tokens)
//   -> greedy argmax when temperature <= 0 (lowest id wins exact ties)
//   -> top-k -> top-p -> min-p -> temperature -> softmax -> draw with a seeded mt19937.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <utility>
#include <vector>

namespace llmux {

class TokenConstraint;

struct SamplerParams {
  float temperature = 0.8f;        // <= 0: greedy
  int top_k = 40;                  // <= 0: off
  float top_p = 0.95f;             // >= 1: off
  float min_p = 0.05f;             // <= 0: off; keeps p >= min_p * p_max
  float repeat_penalty = 1.0f;     // 1: off; positive logits divided, negative multiplied
  float presence_penalty = 0.0f;   // subtracted once from every token seen in the window
  float frequency_penalty = 0.0f;  // subtracted once per occurrence in the window
  int penalty_last_n = 64;         // window of recent tokens for penalties; 0: off, -1: all
  uint32_t seed = 0xFFFFFFFFu;     // 0xFFFFFFFF: a random seed

  // Greedy decoding (temperature 0, no penalties).
  static SamplerParams Greedy();
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& params);

  // Picks a token. Applies the penalties to `logits` in place (as llama.cpp does).
  int32_t Sample(std::span<float> logits);
  // As Sample(logits), after `constraint` (when not null) has masked the logits: the result
  // is a token the constraint allows. The caller still passes it to constraint->Accept().
  int32_t Sample(std::span<float> logits, TokenConstraint* constraint);

  // Advances the random generator as one Sample call would, for a token chosen elsewhere
  // (a resumed stream); the caller still passes the token to Accept().
  void Skip();

  // Records a token (prompt or generated) for the penalty window.
  void Accept(int32_t id);

  // Forgets the history and reseeds the generator with the original seed.
  void Reset();

  const SamplerParams& params() const { return params_; }
  uint32_t seed() const { return seed_; }

  // Index of the largest value; the lowest index wins exact ties. -1 if empty.
  static int32_t Argmax(std::span<const float> logits);

 private:
  void ApplyPenalties(std::span<float> logits) const;
  // Sorts candidates_ (logit descending, id ascending) far enough that the first
  // `n` entries are final.
  void SortPrefix(size_t n);
  double UniformDouble();

  SamplerParams params_;
  uint32_t seed_;
  std::mt19937 rng_;
  std::deque<int32_t> history_;
  std::vector<std::pair<float, int32_t>> candidates_;  // reused across calls
  size_t sorted_ = 0;                                  // candidates_[0, sorted_) are final
  std::vector<double> probs_;
};

}  // namespace llmux
