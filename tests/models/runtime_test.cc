// Loading errors on the shared files, text generation and perplexity with real tokenizers.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/gguf/gguf_writer.h"
#include "engine/runtime/generator.h"
#include "engine/runtime/perplexity.h"
#include "engine/runtime/utf8_stream.h"
#include "engine/tokenizer/tokenizer.h"
#include "test_support.h"

namespace llmux::testing {
namespace {

std::string ReadText(const std::string& rel) {
  std::ifstream in(SharedPath(rel), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Loaded {
  std::shared_ptr<const gguf::GgufFile> file;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

Loaded LoadWithTokenizer(const std::string& rel, int n_threads = 1) {
  Loaded l;
  l.file = OpenShared(rel);
  if (!l.file) return l;
  auto m = Model::Load(l.file, n_threads);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (m.ok()) l.model = std::move(m).value();
  auto t = Tokenizer::FromGguf(*l.file);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (t.ok()) l.tokenizer = std::move(t).value();
  return l;
}

TEST(ModelLoadErrors, VocabOnlyFileIsRefused) {
  auto file = OpenShared("models/qwen3-vocab.gguf");
  ASSERT_NE(file, nullptr);
  auto m = Model::Load(file, 2);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("missing tensor 'token_embd.weight'"), std::string::npos)
      << m.status().ToString();
}

// stories260K's tensors under an architecture name the engine does not have.
TEST(ModelLoadErrors, UnsupportedArchitecturesAreNamed) {
  auto src = OpenShared("models/stories260K.gguf");
  ASSERT_NE(src, nullptr);
  gguf::GgufWriter w;
  for (const auto& kv : src->metadata()) w.CopyValue(kv.key, kv.value);
  w.SetString("general.architecture", "gemma3");
  for (const auto& t : src->tensors()) w.AddTensor(t.name, t.type, t.ne, t.data, t.nbytes);
  const std::string path = ::testing::TempDir() + "/llmux_gemma3_named.gguf";
  ASSERT_TRUE(w.Write(path).ok());
  auto file = gguf::GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto m = Model::Load(std::shared_ptr<const gguf::GgufFile>(std::move(file).value()), 1);
  std::remove(path.c_str());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(m.status().message().find("unsupported architecture 'gemma3'"), std::string::npos)
      << m.status().ToString();
}

TEST(ModelLoadErrors, CopyWithAMisShapedTensorIsRefused) {
  // stories260K with blk.3.attn_v.weight cut to half its rows.
  auto src = OpenShared("models/stories260K.gguf");
  ASSERT_NE(src, nullptr);
  gguf::GgufWriter w;
  for (const auto& kv : src->metadata()) w.CopyValue(kv.key, kv.value);
  for (const auto& t : src->tensors()) {
    if (t.name == "blk.3.attn_v.weight") {
      w.AddTensor(t.name, t.type, {t.ne[0], t.ne[1] / 2}, t.data, t.nbytes / 2);
    } else {
      w.AddTensor(t.name, t.type, t.ne, t.data, t.nbytes);
    }
  }
  const std::string path = ::testing::TempDir() + "/llmux_stories_bad_shape.gguf";
  ASSERT_TRUE(w.Write(path).ok());
  auto file = gguf::GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto m = Model::Load(std::shared_ptr<const gguf::GgufFile>(std::move(file).value()), 2);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("tensor 'blk.3.attn_v.weight' has shape {64, 16}, "
                                      "expected {64, 32}"),
            std::string::npos)
      << m.status().ToString();
}

// qwen3moe-mini with one thing wrong: the reason names it, and nothing crashes.
Result<std::unique_ptr<Model>> LoadBrokenCopy(const std::string& model, const std::string& name,
                                              const std::string& bad_key, uint32_t bad_value,
                                              const std::string& cut_tensor) {
  auto src = OpenShared(model);
  EXPECT_NE(src, nullptr);
  gguf::GgufWriter w;
  for (const auto& kv : src->metadata()) w.CopyValue(kv.key, kv.value);
  if (!bad_key.empty()) w.SetUint32(bad_key, bad_value);
  for (const auto& t : src->tensors()) {
    if (t.name == cut_tensor && t.ne.size() < 3) continue;  // a matrix missing
    if (t.name == cut_tensor) {  // one expert (or head) fewer
      w.AddTensor(t.name, t.type, {t.ne[0], t.ne[1], t.ne[2] - 1}, t.data, t.nbytes / t.ne[2] * (t.ne[2] - 1));
    } else {
      w.AddTensor(t.name, t.type, t.ne, t.data, t.nbytes);
    }
  }
  const std::string path = ::testing::TempDir() + "/llmux_" + name + ".gguf";
  EXPECT_TRUE(w.Write(path).ok());
  auto file = gguf::GgufFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  return Model::Load(std::shared_ptr<const gguf::GgufFile>(std::move(file).value()), 1);
}

Result<std::unique_ptr<Model>> LoadBrokenMoe(const std::string& name, const std::string& bad_key,
                                             uint32_t bad_value, const std::string& cut_tensor) {
  return LoadBrokenCopy("models/qwen3moe-mini-q8_0.gguf", name, bad_key, bad_value, cut_tensor);
}

TEST(ModelLoadErrors, BrokenMixtureOfExpertsFilesAreRefusedWithTheReason) {
  auto used = LoadBrokenMoe("moe_used", "qwen3moe.expert_used_count", 9, "");
  ASSERT_FALSE(used.ok());
  EXPECT_NE(used.status().message().find("'qwen3moe.expert_used_count' = 9 is out of range [1, 8]"),
            std::string::npos)
      << used.status().ToString();
  auto none = LoadBrokenMoe("moe_none", "qwen3moe.expert_count", 0, "");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("expert_count"), std::string::npos) << none.status().ToString();
  auto cut = LoadBrokenMoe("moe_cut", "", 0, "blk.1.ffn_down_exps.weight");
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.status().message().find("tensor 'blk.1.ffn_down_exps.weight' has shape {64, 64, 7}, "
                                        "expected {64, 64, 8}"),
            std::string::npos)
      << cut.status().ToString();
}

// deepseek3-mini with one thing wrong.
TEST(ModelLoadErrors, BrokenLatentAttentionFilesAreRefusedWithTheReason) {
  const std::string ds = "models/deepseek3-mini-q8_0.gguf";
  auto rank = LoadBrokenCopy(ds, "ds_rank", "deepseek2.attention.kv_lora_rank", 24, "");
  ASSERT_FALSE(rank.ok());
  EXPECT_NE(rank.status().message().find("key_length 48, value_length 32"), std::string::npos)
      << rank.status().ToString();
  auto groups = LoadBrokenCopy(ds, "ds_groups", "deepseek2.expert_group_count", 3, "");
  ASSERT_FALSE(groups.ok());
  EXPECT_NE(groups.status().message().find("does not split into 3 groups"), std::string::npos)
      << groups.status().ToString();
  auto heads = LoadBrokenCopy(ds, "ds_heads", "", 0, "blk.2.attn_k_b.weight");
  ASSERT_FALSE(heads.ok());
  EXPECT_NE(heads.status().message().find("tensor 'blk.2.attn_k_b.weight' has shape {32, 32, 3}"),
            std::string::npos)
      << heads.status().ToString();
  auto shared = LoadBrokenCopy(ds, "ds_shared", "", 0, "blk.1.ffn_up_shexp.weight");
  ASSERT_FALSE(shared.ok());
  EXPECT_NE(shared.status().message().find("missing tensor 'blk.1.ffn_up_shexp.weight'"),
            std::string::npos)
      << shared.status().ToString();
}

TEST(Generator, Stories260KGreedyStory) {
  Loaded l = LoadWithTokenizer("models/stories260K.gguf", /*n_threads=*/2);
  ASSERT_TRUE(l.model && l.tokenizer);
  const auto ref = LoadJson("vectors/stories260K.json");
  Generator gen(*l.model, *l.tokenizer);
  for (const auto& p : ref["prompts"]) {
    GenerateOptions opt;
    opt.max_tokens = 64;
    opt.ignore_eog = true;
    std::string streamed;
    int pieces = 0;
    auto r = gen.Generate(p["text"].get<std::string>(), SamplerParams::Greedy(), opt,
                          [&](std::string_view s) {
                            streamed += s;
                            ++pieces;
                            return true;
                          });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->prompt_ids, p["prompt_ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(r->generated_ids,
              p["llama_cpp"]["precise"]["generated_ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(streamed, r->text);
    EXPECT_GT(pieces, 10);
    EXPECT_EQ(r->stop, StopReason::kMaxTokens);
    EXPECT_EQ(r->decode_steps, 63);
    EXPECT_GT(r->decode_tokens_per_second(), 0.0);
    if (p["name"] == "s0_once") {
      const std::string story = p["text"].get<std::string>() + r->text;
      EXPECT_EQ(story.rfind("Once upon a time, there was a little girl named Lily.", 0), 0u)
          << story;
      std::printf("%s\n", story.c_str());
    }
  }
}

TEST(Generator, StopsOnCallbackAndFullContext) {
  // (Stopping at end-of-generation tokens is covered by runtime/generator_test.cc: the
  // stories model ends its stories with BOS, which is no end-of-generation token.)
  Loaded l = LoadWithTokenizer("models/stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  Generator gen(*l.model, *l.tokenizer);
  GenerateOptions opt;
  opt.max_tokens = 400;
  int calls = 0;
  auto stopped = gen.Generate("Once upon a time", SamplerParams::Greedy(), opt,
                              [&](std::string_view) { return ++calls < 3; });
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->stop, StopReason::kCallback);
  EXPECT_EQ(calls, 3);

  GenerateOptions small = opt;
  small.n_ctx = 10;
  auto full = gen.Generate("Once upon a time", SamplerParams::Greedy(), small);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->stop, StopReason::kContextFull);
  EXPECT_EQ(full->prompt_ids.size() + full->generated_ids.size(), 11u);
}

TEST(Generator, SeededSamplingIsReproducible) {
  Loaded l = LoadWithTokenizer("models/stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  Generator gen(*l.model, *l.tokenizer);
  SamplerParams sp;
  sp.temperature = 1.0f;
  sp.top_k = 40;
  sp.top_p = 0.95f;
  sp.seed = 7;
  GenerateOptions opt;
  opt.max_tokens = 40;
  opt.ignore_eog = true;
  auto a = gen.Generate("Lily and Tom", sp, opt);
  auto b = gen.Generate("Lily and Tom", sp, opt);
  sp.seed = 8;
  auto c = gen.Generate("Lily and Tom", sp, opt);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->generated_ids, b->generated_ids);
  EXPECT_NE(a->generated_ids, c->generated_ids);
  EXPECT_NE(
      a->generated_ids,
      std::vector<int32_t>(
          LoadJson(
              "vectors/stories260K.json")["prompts"][1]["llama_cpp"]["precise"]["generated_ids"]
              .get<std::vector<int32_t>>()));
}

TEST(Generator, StreamsWholeUtf8Characters) {
  Loaded l = LoadWithTokenizer("models/qwen3-mini-f32.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  Generator gen(*l.model, *l.tokenizer);
  GenerateOptions opt;
  opt.max_tokens = 32;
  opt.ignore_eog = true;
  std::vector<std::string> chunks;
  auto r =
      gen.Generate("你好，请介绍一下你自己", SamplerParams::Greedy(), opt, [&](std::string_view s) {
        chunks.emplace_back(s);
        return true;
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto ref = LoadJson("vectors/qwen3-mini-f32.json");
  EXPECT_EQ(r->prompt_ids, ref["prompts"][2]["prompt_ids"].get<std::vector<int32_t>>());
  std::string joined;
  for (const auto& c : chunks) {
    EXPECT_EQ(CompleteUtf8Prefix(c), c.size());
    joined += c;
  }
  EXPECT_EQ(joined, l.tokenizer->Decode(r->generated_ids));
}

// How far our perplexity may be from llama-perplexity's figure in perplexity.json, as
// |ln(ours / llama.cpp's)| (the difference of the mean negative log-likelihoods).
//
// F32 weights: 1e-4 (0.01%), as issue 12 asks. llama-perplexity ran with its default F16 KV
// cache, as ComputePerplexity does: measured 4e-8 on qwen3-mini-f32 (8.5e-6 with an F32
// cache) and 3e-5 on stories260K (whose reference has 4 decimals: 1.3e-5).
//
// Quantized weights: llama.cpp rounds activations to Q8 blocks before each product, and so do
// we, but not bit for bit: one flipped rounding moves later logits by a step. The vectors'
// measured_summary gives the size of such arithmetic noise on this very file: the median over
// positions of the full-vocabulary max |logit difference| between llama.cpp's own configs
// (`precise` vs `default`, `precise` vs `dequantized_f32`; the larger of the two medians, m).
// That is a maximum over n_vocab roughly Gaussian differences, so one logit moves by about
// sigma = m / sqrt(2 ln n_vocab). A token's NLL = logsumexp - logit(target) moves by at most
// 2 sigma (both terms), and the mean over n_scored tokens, whose noise is independent from
// token to token, by 2 sigma / sqrt(n_scored): allow 4 of those. With 126 scored tokens of
// mixed.txt: q8_0 1.9e-3, q4_0 1.9e-3, q4_k_m 5.2e-3 (measured: 6.9e-5, 1.0e-4, 2.6e-4; our
// own quantized-vs-dequantized runs differ per token by at most 0.27 m rms, below the 2 sigma
// = 0.41 m assumed). A uniform distribution, PPL = n_vocab, is 2.9e-3, 3.6e-3 and 5.8e-2 away,
// so it fails (test below); the 1% tolerance this replaces let it pass.
//
// model: "models/X.gguf", whose reference vectors are "vectors/X.json".
double PerplexityTolerance(const std::string& model, const gguf::GgufFile& file, int n_vocab,
                           int64_t n_scored) {
  bool all_f32 = true;
  for (const auto& t : file.tensors()) all_f32 = all_f32 && t.type == DType::kF32;
  if (all_f32) return 1e-4;
  const std::string stem =
      model.substr(model.find('/') + 1, model.rfind('.') - model.find('/') - 1);
  const auto summary = LoadJson("vectors/" + stem + ".json")["measured_summary"];
  const double m = std::max(summary["precise_vs_default"]["p50"].get<double>(),
                            summary["precise_vs_dequantized_f32"]["p50"].get<double>());
  const double sigma = m / std::sqrt(2 * std::log(static_cast<double>(n_vocab)));
  return 4 * 2 * sigma / std::sqrt(static_cast<double>(n_scored));
}

// Whether a perplexity agrees with llama.cpp's within the tolerance above.
::testing::AssertionResult PerplexityAgrees(double ppl, double reference, double tolerance) {
  const double d = std::abs(std::log(ppl / reference));
  if (d <= tolerance) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "PPL " << ppl << " vs llama.cpp " << reference
                                       << ": |ln ratio| " << d << " > " << tolerance;
}

// Tokens llama-perplexity scores (perplexity.json's method): floor(n_tokens / ctx) chunks,
// positions ctx/2 .. ctx-2 of each.
int64_t ScoredTokens(int64_t n_tokens, int ctx) { return n_tokens / ctx * (ctx - 1 - ctx / 2); }

TEST(Perplexity, MatchesLlamaCpp) {
  const auto cases = LoadJson("vectors/perplexity.json")["cases"];
  ASSERT_EQ(cases.size(), 5u);
  for (const auto& c : cases) {
    const std::string model = c["model"];
    const int ctx = c["ctx"].get<int>();
    Loaded l = LoadWithTokenizer(model);
    ASSERT_TRUE(l.model && l.tokenizer);
    int progress_calls = 0;
    auto r = ComputePerplexity(*l.model, *l.tokenizer, ReadText(c["text"].get<std::string>()), ctx,
                               [&](int, double) { ++progress_calls; });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(progress_calls, r->n_chunks);
    EXPECT_EQ(static_cast<int>(r->running.size()), r->n_chunks);
    EXPECT_EQ(r->n_scored, ScoredTokens(r->n_tokens, ctx)) << model;
    EXPECT_DOUBLE_EQ(r->running.back(), r->ppl);
    EXPECT_TRUE(PerplexityAgrees(
        r->ppl, c["ppl"].get<double>(),
        PerplexityTolerance(model, *l.file, l.model->config().n_vocab, r->n_scored)))
        << model;
  }
}

// The check above must fail for flat logits, PPL = n_vocab, on every case.
TEST(Perplexity, ToleranceRejectsAUniformDistribution) {
  const auto cases = LoadJson("vectors/perplexity.json")["cases"];
  ASSERT_EQ(cases.size(), 5u);
  for (const auto& c : cases) {
    const std::string model = c["model"];
    Loaded l = LoadWithTokenizer(model);
    ASSERT_TRUE(l.model && l.tokenizer);
    const auto tokens = l.tokenizer->Encode(ReadText(c["text"].get<std::string>()), true, false);
    const int64_t n_scored = ScoredTokens(static_cast<int64_t>(tokens.size()), c["ctx"].get<int>());
    ASSERT_GT(n_scored, 0) << model;
    const int n_vocab = l.model->config().n_vocab;
    EXPECT_FALSE(PerplexityAgrees(n_vocab, c["ppl"].get<double>(),
                                  PerplexityTolerance(model, *l.file, n_vocab, n_scored)))
        << model;
  }
}

// The mixture-of-experts minis, which perplexity.json does not cover. References: llama.cpp's
// llama-perplexity at the vectors' commit 81ff7ab, built beside this repo (Release, GGML_NATIVE,
// on an AMD EPYC Zen 4), `llama-perplexity -m M -f texts/mixed.txt -c 128 -t 2`; that build
// gives perplexity.json's qwen3-mini-q8_0 figure (152376.7678) to the last digit. The issue
// asks for agreement within 0.5%; a uniform distribution (PPL = n_vocab) is 2.3% and 36% away.
TEST(Perplexity, MixtureOfExpertsMatchLlamaCpp) {
  struct Case {
    const char* model;
    double ppl;
  };
  for (const Case& c : {Case{"models/qwen3moe-mini-q8_0.gguf", 216963.7456},
                        Case{"models/deepseek3-mini-q8_0.gguf", 155394.2582}}) {
    Loaded l = LoadWithTokenizer(c.model);
    ASSERT_TRUE(l.model && l.tokenizer);
    auto r = ComputePerplexity(*l.model, *l.tokenizer, ReadText("texts/mixed.txt"), 128);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->n_scored, 126) << c.model;
    EXPECT_TRUE(PerplexityAgrees(r->ppl, c.ppl, 0.005)) << c.model;
    EXPECT_FALSE(PerplexityAgrees(l.model->config().n_vocab, c.ppl, 0.005)) << c.model;
  }
}

TEST(Perplexity, RefusesShortText) {
  Loaded l = LoadWithTokenizer("models/stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  auto r = ComputePerplexity(*l.model, *l.tokenizer, "Once upon a time", 128);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("needs at least 256 tokens"), std::string::npos)
      << r.status().ToString();
}

}  // namespace
}  // namespace llmux::testing
