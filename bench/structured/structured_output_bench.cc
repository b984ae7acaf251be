// Constrained decoding cost per token: a JSON-schema grammar constraint's Mask + Accept on a
// real vocabulary, over whole constrained answers, beside the decode time per token of a model.
//
//   structured_output_bench VOCAB.gguf [MODEL.gguf] [threads]
//
// VOCAB.gguf gives the tokenizer (e.g. /work/shared/models/qwen3-vocab.gguf). The "model" picks
// tokens with random logits (seeded), so the answers wander through strings, numbers, nesting
// and the budget steering like a real model's would, and every answer is checked to complete.
// With MODEL.gguf, single-token decode steps of that model are timed the same way `llmux bench`
// does (tg), and the mask's share of a decode step is printed.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.h"
#include "engine/models/model.h"
#include "engine/runtime/constraint_vocab.h"
#include "engine/runtime/grammar_constraint.h"
#include "engine/tokenizer/tokenizer.h"
#include "serving/json_schema_grammar.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// A realistic extraction schema: nested objects, enums, bounded numbers, a date, an array of
// objects, optional fields.
constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "invoice_id": {"type": "string", "format": "uuid"},
    "issued": {"type": "string", "format": "date"},
    "customer": {
      "type": "object",
      "properties": {
        "name": {"type": "string"},
        "email": {"type": "string", "format": "email"},
        "tier": {"enum": ["free", "pro", "enterprise"]}
      },
      "required": ["name", "tier"]
    },
    "lines": {
      "type": "array",
      "items": {
        "type": "object",
        "properties": {
          "sku": {"type": "string", "maxLength": 16},
          "description": {"type": "string"},
          "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
          "unit_price": {"type": "number", "minimum": 0, "maximum": 100000}
        },
        "required": ["sku", "quantity", "unit_price"]
      },
      "minItems": 1, "maxItems": 4
    },
    "paid": {"type": "boolean"},
    "notes": {"type": ["string", "null"]}
  },
  "required": ["invoice_id", "issued", "customer", "lines", "paid"]
})";

}  // namespace

int main(int argc, char** argv) {
  using namespace llmux;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s VOCAB.gguf [MODEL.gguf] [threads]\n", argv[0]);
    return 2;
  }
  auto file = gguf::GgufFile::Open(argv[1]);
  if (!file.ok()) {
    std::fprintf(stderr, "%s\n", file.status().ToString().c_str());
    return 1;
  }
  auto tok = Tokenizer::FromGguf(**file);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", tok.status().ToString().c_str());
    return 1;
  }
  auto t0 = Clock::now();
  auto vocab = ConstraintVocab::Build(**tok);
  auto t1 = Clock::now();
  auto g = serving::CompileJsonSchema(kSchema, /*strict=*/true);
  auto t2 = Clock::now();
  if (!g.ok()) {
    std::fprintf(stderr, "%s\n", g.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "vocabulary: %d tokens (ConstraintVocab::Build %.1f ms); schema compiled in %.2f ms "
      "(%zu rules, %zu elements)\n",
      vocab->n_vocab(), Ms(t0, t1), Ms(t1, t2), (*g)->rules.size(), (*g)->elements.size());

  // Answers with random logits and a budget, as a server runs them.
  const int kAnswers = 20, kBudget = 400;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(vocab->n_vocab());
  std::vector<double> step_ms;
  int completed = 0;
  for (int a = 0; a < kAnswers; ++a) {
    auto c = MakeGrammarConstraint(vocab, *g);
    for (int used = 0; used < kBudget; ++used) {
      for (float& l : logits) l = normal(rng);
      auto s0 = Clock::now();
      c->SetTokensLeft(kBudget - used);
      c->Mask(logits);
      const int32_t pick =
          static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      c->Accept(pick);
      step_ms.push_back(Ms(s0, Clock::now()));
      if (vocab->is_eog(pick)) break;
    }
    completed += c->Complete();
  }
  std::sort(step_ms.begin(), step_ms.end());
  double sum = 0;
  for (double v : step_ms) sum += v;
  const double mean = sum / step_ms.size();
  std::printf(
      "mask+accept over %zu tokens (%d answers, %d completed): mean %.3f ms, p50 %.3f ms, "
      "p90 %.3f ms, p99 %.3f ms, max %.3f ms\n",
      step_ms.size(), kAnswers, completed, mean, step_ms[step_ms.size() / 2],
      step_ms[step_ms.size() * 9 / 10], step_ms[step_ms.size() * 99 / 100], step_ms.back());

  if (argc >= 3) {
    const int threads = argc >= 4 ? std::atoi(argv[3]) : 2;
    auto mf = gguf::GgufFile::Open(argv[2]);
    if (!mf.ok()) {
      std::fprintf(stderr, "%s\n", mf.status().ToString().c_str());
      return 1;
    }
    std::shared_ptr<const gguf::GgufFile> shared = std::move(*mf);
    auto model = Model::Load(shared, threads);
    if (!model.ok()) {
      std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
      return 1;
    }
    const int n = 64;
    std::vector<float> out((*model)->config().n_vocab);
    auto cache = (*model)->NewCache(n + 1);
    if (!cache.ok()) return 1;
    int32_t token = 0;
    // One warm-up step, then n timed ones.
    if (!(*model)
             ->Forward(**cache, std::span<const int32_t>(&token, 1), 0, out.data(), false)
             .ok()) {
      return 1;
    }
    auto d0 = Clock::now();
    for (int i = 1; i <= n; ++i) {
      if (!(*model)
               ->Forward(**cache, std::span<const int32_t>(&token, 1), i, out.data(), false)
               .ok()) {
        return 1;
      }
    }
    const double decode_ms = Ms(d0, Clock::now()) / n;
    std::printf(
        "decode %s, %d threads: %.2f ms per token; mask+accept mean is %.2f%% of it "
        "(p90 %.2f%%)\n",
        argv[2], threads, decode_ms, 100.0 * mean / decode_ms,
        100.0 * step_ms[step_ms.size() * 9 / 10] / decode_ms);
  }
  return 0;
}
