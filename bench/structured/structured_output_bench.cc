// Constrained decoding cost per token: a JSON-schema grammar constraint's Mask + Accept on a
// real vocabulary, over whole constrained answers, beside the decode time per token of a model.
//
//   structured_output_bench VOCAB.gguf [MODEL.gguf] [threads]
//
// Several schemas (an invoice, strings with length bounds, patterns, and any object as
// response_format json_object asks), each with p50/p99 of Mask + Accept per token; the arg-max that
// picks the token stands for the sampler (which runs with or without a constraint) and is timed
// apart. VOCAB.gguf gives the tokenizer (e.g. /work/shared/models/qwen3-vocab.gguf). The "model"
// picks tokens with random logits (seeded), so the answers wander through strings, numbers, nesting
// and the budget steering like a real model's would, and every answer is checked to complete.
// With MODEL.gguf, single-token decode steps of that model are timed the same way `llmux bench`
// does (tg), and the mask's share of a decode step is printed.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
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

struct NamedSchema {
  const char* name;
  const char* text;
  bool strict = true;
};

// A realistic extraction schema: nested objects, enums, bounded numbers, a date, an array of
// objects, optional fields.
constexpr const char* kInvoice = R"({
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

// Strings with length bounds: the bounded repetition of a character the mask walks.
constexpr const char* kBoundedStrings = R"({
  "type": "object",
  "properties": {
    "code": {"type": "string", "minLength": 2, "maxLength": 8},
    "title": {"type": "string", "maxLength": 64},
    "summary": {"type": "string", "minLength": 10, "maxLength": 200},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 24}, "maxItems": 5}
  },
  "required": ["code", "title", "summary", "tags"]
})";

// Regular-expression patterns (ECMA-262 subset) beside formats.
constexpr const char* kPatterns = R"({
  "type": "object",
  "properties": {
    "sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4,6}$"},
    "phone": {"type": "string", "pattern": "^\\+?[0-9]{1,3}[ -]?\\(?[0-9]{3}\\)?[ -]?[0-9]{3}-[0-9]{4}$"},
    "slug": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
    "word": {"type": "string", "pattern": "^\\w{1,40}$"},
    "host": {"type": "string", "format": "ipv4"}
  },
  "required": ["sku", "phone", "slug", "word", "host"]
})";

// Any object: what response_format json_object compiles (serving/request_constraints.cc).
// Nesting, numbers and strings of every kind, no bounds.
constexpr const char* kAnyObject = R"({"type": "object"})";

const NamedSchema kSchemas[] = {{"invoice", kInvoice},
                                {"bounded-strings", kBoundedStrings},
                                {"patterns", kPatterns},
                                {"json_object", kAnyObject, /*strict=*/false}};

double ThreadCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double Percentile(const std::vector<double>& sorted, double q) {
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()))];
}

// Mean decode step of MODEL (single tokens, as `llmux bench` tg does); 0 on failure.
double DecodeMs(const char* path, int threads) {
  using namespace llmux;
  auto mf = gguf::GgufFile::Open(path);
  if (!mf.ok()) {
    std::fprintf(stderr, "%s\n", mf.status().ToString().c_str());
    return 0;
  }
  std::shared_ptr<const gguf::GgufFile> shared = std::move(*mf);
  auto model = Model::Load(shared, threads);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 0;
  }
  const int n = 64;
  std::vector<float> out((*model)->config().n_vocab);
  auto cache = (*model)->NewCache(n + 1);
  if (!cache.ok()) return 0;
  int32_t token = 0;
  // One warm-up step, then n timed ones.
  if (!(*model)->Forward(**cache, std::span<const int32_t>(&token, 1), 0, out.data(), false).ok()) {
    return 0;
  }
  auto d0 = Clock::now();
  for (int i = 1; i <= n; ++i) {
    if (!(*model)
             ->Forward(**cache, std::span<const int32_t>(&token, 1), i, out.data(), false)
             .ok()) {
      return 0;
    }
  }
  return Ms(d0, Clock::now()) / n;
}

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
  std::printf("vocabulary: %d tokens (ConstraintVocab::Build %.1f ms)\n", vocab->n_vocab(),
              Ms(t0, Clock::now()));

  double decode_ms = 0;
  if (argc >= 3) {
    const int threads = argc >= 4 ? std::atoi(argv[3]) : 2;
    decode_ms = DecodeMs(argv[2], threads);
    if (decode_ms <= 0) return 1;
    std::printf("decode %s, %d threads: %.2f ms per token\n", argv[2], threads, decode_ms);
  }

  // Answers with random logits and a budget, as a server runs them; every answer must complete.
  auto run = [&](const char* name, const std::string& about,
                 const std::function<std::unique_ptr<TokenConstraint>()>& make) {
    const int kAnswers = 20, kBudget = 400;
    std::mt19937 rng(42);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    std::vector<float> logits(vocab->n_vocab());
    std::vector<double> step_ms, step_cpu_ms;
    double pick_ms = 0;  // arg-max, all steps
    int completed = 0;
    for (int a = 0; a < kAnswers; ++a) {
      auto c = make();
      for (int used = 0; used < kBudget; ++used) {
        for (float& l : logits) l = normal(rng);
        // The arg-max stands for the sampler, which runs with or without a constraint: it is
        // timed apart, and the step is Mask + Accept.
        const double cpu0 = ThreadCpuMs();
        auto s0 = Clock::now();
        c->SetTokensLeft(kBudget - used);
        c->Mask(logits);
        const auto s1 = Clock::now();
        const double cpu1 = ThreadCpuMs();
        const int32_t pick =
            static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        const auto s2 = Clock::now();
        const double cpu2 = ThreadCpuMs();
        c->Accept(pick);
        step_ms.push_back(Ms(s0, s1) + Ms(s2, Clock::now()));
        step_cpu_ms.push_back(cpu1 - cpu0 + ThreadCpuMs() - cpu2);
        pick_ms += Ms(s1, s2);
        if (vocab->is_eog(pick)) break;
      }
      completed += c->Complete();
    }
    std::sort(step_ms.begin(), step_ms.end());
    std::sort(step_cpu_ms.begin(), step_cpu_ms.end());
    double sum = 0;
    for (double v : step_ms) sum += v;
    const double mean = sum / step_ms.size();
    const double p50 = Percentile(step_ms, 0.5), p99 = Percentile(step_ms, 0.99);
    std::printf(
        "%s (%s): Mask + Accept over %zu tokens (%d answers, %d completed): mean %.3f ms, "
        "p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms; thread CPU p50 %.3f ms, p99 %.3f ms "
        "(arg-max apart: %.3f ms)\n",
        name, about.c_str(), step_ms.size(), kAnswers, completed, mean, p50,
        Percentile(step_ms, 0.9), p99, step_ms.back(), Percentile(step_cpu_ms, 0.5),
        Percentile(step_cpu_ms, 0.99), pick_ms / step_ms.size());
    if (decode_ms > 0) {
      std::printf("  share of a decode step: mean %.2f%%, p50 %.2f%%, p99 %.2f%%\n",
                  100.0 * mean / decode_ms, 100.0 * p50 / decode_ms, 100.0 * p99 / decode_ms);
    }
    return completed == kAnswers;
  };

  int failures = 0;
  for (const NamedSchema& schema : kSchemas) {
    auto c0 = Clock::now();
    auto g = serving::CompileJsonSchema(schema.text, schema.strict);
    const double compile_ms = Ms(c0, Clock::now());
    if (!g.ok()) {
      std::fprintf(stderr, "%s: %s\n", schema.name, g.status().ToString().c_str());
      ++failures;
      continue;
    }
    char about[128];
    std::snprintf(about, sizeof(about), "compiled in %.2f ms, %zu rules, %zu elements", compile_ms,
                  (*g)->rules.size(), (*g)->elements.size());
    failures += !run(schema.name, about, [&] { return MakeGrammarConstraint(vocab, *g); });
  }
  return failures == 0 ? 0 : 1;
}
