#include "engine/runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "engine/runtime/token_constraint.h"

namespace llmux {

namespace {
// A lambda rather than a function, so that the sorts inline it (a function pointer is
// called for each of the ~150k comparisons of a top-k over a large vocabulary).
constexpr auto Better = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
};
}  // namespace

SamplerParams SamplerParams::Greedy() {
  SamplerParams p;
  p.temperature = 0.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  p.presence_penalty = 0.0f;
  p.frequency_penalty = 0.0f;
  p.penalty_last_n = 0;
  p.seed = 0;
  return p;
}

Sampler::Sampler(const SamplerParams& params)
    : params_(params),
      seed_(params.seed == 0xFFFFFFFFu ? std::random_device{}() : params.seed),
      rng_(seed_) {}

void Sampler::Reset() {
  history_.clear();
  rng_.seed(seed_);
}

void Sampler::Skip() {
  // Sample draws exactly one number when it does not take the argmax.
  if (params_.temperature > 0.0f) UniformDouble();
}

void Sampler::Accept(int32_t id) {
  const int n = params_.penalty_last_n;
  if (n == 0) return;
  history_.push_back(id);
  if (n > 0) {
    while (history_.size() > static_cast<size_t>(n)) history_.pop_front();
  }
}

int32_t Sampler::Argmax(std::span<const float> logits) {
  if (logits.empty()) return -1;
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

void Sampler::ApplyPenalties(std::span<float> logits) const {
  const bool active = params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                      params_.frequency_penalty != 0.0f;
  if (!active || history_.empty()) return;
  std::unordered_map<int32_t, int> counts;
  for (int32_t id : history_) ++counts[id];
  for (const auto& [id, count] : counts) {
    if (id < 0 || static_cast<size_t>(id) >= logits.size()) continue;
    float& l = logits[id];
    if (params_.repeat_penalty != 1.0f) {
      l = l > 0.0f ? l / params_.repeat_penalty : l * params_.repeat_penalty;
    }
    l -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
  }
}

void Sampler::SortPrefix(size_t n) {
  n = std::min(n, candidates_.size());
  if (n <= sorted_) return;
  // Grow the sorted prefix geometrically so repeated requests stay cheap.
  size_t m = std::max(n, std::min(candidates_.size(), std::max<size_t>(2 * sorted_, 256)));
  std::partial_sort(candidates_.begin() + sorted_, candidates_.begin() + m, candidates_.end(),
                    Better);
  sorted_ = m;
}

double Sampler::UniformDouble() {
  // 53 random bits from two draws: portable, unlike std::uniform_real_distribution.
  const uint64_t hi = rng_() >> 5, lo = rng_() >> 6;
  return static_cast<double>(hi * 67108864ull + lo) * (1.0 / 9007199254740992.0);
}

int32_t Sampler::Sample(std::span<float> logits, TokenConstraint* constraint) {
  if (constraint == nullptr) return Sample(logits);
  constraint->Mask(logits);
  const int32_t id = Sample(logits);
  // Masked tokens have probability 0, so this only guards against rounding at the very end of
  // the cumulative sum picking a masked candidate.
  if (id < 0 || logits[id] == -INFINITY) return Argmax(logits);
  return id;
}

int32_t Sampler::Sample(std::span<float> logits) {
  if (logits.empty()) return -1;
  ApplyPenalties(logits);
  if (params_.temperature <= 0.0f) return Argmax(logits);

  sorted_ = 0;
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < logits.size()) {
    // Top-k in one pass: a heap of the k best so far, whose root is the worst of them, so
    // that most of a large vocabulary costs one comparison each.
    const size_t k = params_.top_k;
    candidates_.clear();
    for (size_t i = 0; i < logits.size(); ++i) {
      const std::pair<float, int32_t> c{logits[i], static_cast<int32_t>(i)};
      if (candidates_.size() < k) {
        candidates_.push_back(c);
        std::push_heap(candidates_.begin(), candidates_.end(), Better);
      } else if (Better(c, candidates_.front())) {
        std::pop_heap(candidates_.begin(), candidates_.end(), Better);
        candidates_.back() = c;
        std::push_heap(candidates_.begin(), candidates_.end(), Better);
      }
    }
    std::sort(candidates_.begin(), candidates_.end(), Better);
    sorted_ = k;
  } else {
    candidates_.resize(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) {
      candidates_[i] = {logits[i], static_cast<int32_t>(i)};
    }
  }

  // Top-p: the smallest prefix (by probability) whose mass reaches p.
  if (params_.top_p < 1.0f) {
    SortPrefix(1);
    const float max_logit = candidates_[0].first;
    double total = 0.0;
    for (const auto& c : candidates_) total += std::exp(static_cast<double>(c.first - max_logit));
    double cum = 0.0;
    size_t keep = candidates_.size();
    for (size_t i = 0; i < candidates_.size(); ++i) {
      SortPrefix(i + 1);
      cum += std::exp(static_cast<double>(candidates_[i].first - max_logit)) / total;
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
    SortPrefix(keep);
    candidates_.resize(keep);
  }

  // Min-p: drop tokens whose probability is below min_p times the top one's.
  if (params_.min_p > 0.0f) {
    SortPrefix(1);
    const float threshold = candidates_[0].first + std::log(params_.min_p);
    size_t w = 0;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      if (candidates_[i].first >= threshold) candidates_[w++] = candidates_[i];
    }
    candidates_.resize(std::max<size_t>(w, 1));
    sorted_ = std::min(sorted_, w);
  }

  // Temperature, softmax, draw. The candidates' order is a deterministic function of the
  // logits, so a seed fixes the outcome.
  float max_logit = -INFINITY;
  for (const auto& c : candidates_) max_logit = std::max(max_logit, c.first);
  probs_.resize(candidates_.size());
  double total = 0.0;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    probs_[i] =
        std::exp(static_cast<double>(candidates_[i].first - max_logit) / params_.temperature);
    total += probs_[i];
  }
  const double u = UniformDouble() * total;
  double cum = 0.0;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    cum += probs_[i];
    if (u < cum) return candidates_[i].second;
  }
  return candidates_.back().second;
}

}  // namespace llmux
