// The dense architectures on small random models, against the double-precision reference
// pass in synthetic_model_test_util.h, plus batching, rewinding and refusal of bad input.
#include "engine/models/model.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "engine/models/synthetic_model_test_util.h"

namespace llmux::testing {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/llmux_models_" + name + ".gguf";
}

Result<std::unique_ptr<Model>> LoadFile(const std::string& path, int n_threads = 2) {
  auto f = gguf::GgufFile::Open(path);
  if (!f.ok()) return f.status();
  return Model::Load(std::shared_ptr<const gguf::GgufFile>(std::move(f).value()), n_threads);
}

std::unique_ptr<Model> WriteAndLoad(const SyntheticModel& m, const std::string& name,
                                    int n_threads = 2) {
  const std::string path = TempPath(name);
  Status s = WriteSynthetic(m, path);
  EXPECT_TRUE(s.ok()) << s.ToString();
  auto model = LoadFile(path, n_threads);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : nullptr;
}

std::vector<int32_t> Tokens(int n, int n_vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& id : t) id = static_cast<int32_t>(rng() % n_vocab);
  return t;
}

// Runs all tokens in one call with all_logits; returns the largest difference from the
// reference over every position and vocabulary entry.
double MaxDiffFromReference(Model& model, const SyntheticModel& m,
                            const std::vector<int32_t>& tokens) {
  const int n_vocab = model.config().n_vocab;
  auto cache = model.NewCache(static_cast<int>(tokens.size()));
  EXPECT_TRUE(cache.ok());
  std::vector<float> logits(tokens.size() * n_vocab);
  Status s = model.Forward(**cache, tokens, 0, logits.data(), true);
  EXPECT_TRUE(s.ok()) << s.ToString();
  const auto ref = RefForward(m, tokens);
  double worst = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    for (int i = 0; i < n_vocab; ++i) {
      worst = std::max(worst, std::abs(logits[t * n_vocab + i] - ref[t][i]));
    }
  }
  return worst;
}

TEST(DenseModelTest, LlamaWithGqaMatchesReference) {
  SyntheticSpec s;
  s.arch = "llama";
  const SyntheticModel m = MakeSynthetic(s);
  auto model = WriteAndLoad(m, "llama");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->config().rope.layout, RopeLayout::kNormal);
  EXPECT_EQ(model->config().head_dim, 8);
  EXPECT_FALSE(model->config().tied_output);
  EXPECT_LT(MaxDiffFromReference(*model, m, Tokens(20, s.n_vocab, 7)), 1e-4);
}

TEST(DenseModelTest, WrongRopeLayoutWouldBeDetected) {
  // The reference with the other layout differs clearly: the comparison has teeth.
  SyntheticSpec s;
  const SyntheticModel m = MakeSynthetic(s);
  auto model = WriteAndLoad(m, "llama_layout");
  ASSERT_NE(model, nullptr);
  SyntheticModel other = m;
  other.spec.neox = true;
  EXPECT_GT(MaxDiffFromReference(*model, other, Tokens(20, s.n_vocab, 7)), 1e-2);
}

TEST(DenseModelTest, Qwen2BiasesAndNeoxRopeMatchReference) {
  SyntheticSpec s;
  s.arch = "qwen2";
  s.qkv_bias = true;
  s.neox = true;
  s.tied = true;
  s.theta = 1e6f;
  s.eps = 1e-6f;
  const SyntheticModel m = MakeSynthetic(s);
  auto model = WriteAndLoad(m, "qwen2");
  ASSERT_NE(model, nullptr);
  EXPECT_TRUE(model->config().qkv_bias);
  EXPECT_TRUE(model->config().tied_output);
  EXPECT_EQ(model->config().rope.layout, RopeLayout::kNeox);
  EXPECT_LT(MaxDiffFromReference(*model, m, Tokens(24, s.n_vocab, 3)), 1e-4);
  // Without the biases the reference is far off, so they are really applied.
  SyntheticModel no_bias = m;
  no_bias.spec.qkv_bias = false;
  EXPECT_GT(MaxDiffFromReference(*model, no_bias, Tokens(24, s.n_vocab, 3)), 1e-2);
}

TEST(DenseModelTest, Qwen2WithoutBiasesIsRefused) {
  SyntheticSpec s;
  s.arch = "qwen2";
  auto path = TempPath("qwen2_nobias");
  ASSERT_TRUE(WriteSynthetic(MakeSynthetic(s), path).ok());
  auto model = LoadFile(path);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("missing tensor 'blk.0.attn_q.bias'"), std::string::npos)
      << model.status().ToString();
}

TEST(DenseModelTest, Qwen3QkNormAndWideHeadsMatchReference) {
  SyntheticSpec s;
  s.arch = "qwen3";
  s.qk_norm = true;
  s.neox = true;
  s.tied = true;
  s.head_dim = 24;  // q is 96 wide with n_embd 32
  s.write_head_dim = true;
  s.theta = 1e6f;
  s.eps = 1e-6f;
  const SyntheticModel m = MakeSynthetic(s);
  auto model = WriteAndLoad(m, "qwen3");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->config().head_dim, 24);
  EXPECT_EQ(model->config().q_dim(), 96);
  EXPECT_LT(MaxDiffFromReference(*model, m, Tokens(16, s.n_vocab, 5)), 1e-4);
}

TEST(DenseModelTest, LinearRopeScaling) {
  SyntheticSpec s;
  s.linear_factor = 4.0f;
  const SyntheticModel m = MakeSynthetic(s);
  auto model = WriteAndLoad(m, "llama_linear");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->config().rope.scaling, RopeScaling::kLinear);
  EXPECT_LT(MaxDiffFromReference(*model, m, Tokens(20, s.n_vocab, 9)), 1e-4);
}

TEST(DenseModelTest, QuantizedWeightsMatchDequantizedReference) {
  // Q8_0 and Q4_K matrices; the reference uses the dequantized weights in double. The
  // engine rounds activations to Q8_0 / Q8_K blocks like ggml, so allow that error.
  for (DType type : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ6_K}) {
    SyntheticSpec s;
    s.matrix_type = type;
    const bool k_quant = type == DType::kQ4_K || type == DType::kQ6_K;
    s.n_embd = k_quant ? 256 : 64;
    s.n_ff = k_quant ? 512 : 96;
    s.head_dim = s.n_embd / s.n_head;
    const SyntheticModel m = MakeSynthetic(s);
    auto model = WriteAndLoad(m, std::string("q_") + std::string(Traits(type).name));
    ASSERT_NE(model, nullptr);
    const auto tokens = Tokens(12, s.n_vocab, 11);
    const double d = MaxDiffFromReference(*model, m, tokens);
    double scale = 0;
    for (const auto& row : RefForward(m, tokens)) {
      for (double v : row) scale = std::max(scale, std::abs(v));
    }
    // Activation rounding moves logits by ~1% of their range; a wrong block layout or
    // a skipped scale would move them by their whole range.
    EXPECT_LT(d, 0.03 * scale) << Traits(type).name << " logit range " << scale;
    EXPECT_GT(d, 0.0) << Traits(type).name;
  }
}

TEST(DenseModelTest, BatchedIncrementalAndChunkedRunsAgree) {
  SyntheticSpec s;
  s.arch = "qwen3";
  s.qk_norm = true;
  s.neox = true;
  s.write_head_dim = true;
  const SyntheticModel m = MakeSynthetic(s);
  auto model = WriteAndLoad(m, "qwen3_batch");
  ASSERT_NE(model, nullptr);
  const int n = model->max_batch() + 77;  // forces an internal split
  const auto tokens = Tokens(n, s.n_vocab, 13);
  const int n_vocab = model->config().n_vocab;

  auto c1 = model->NewCache(n);
  ASSERT_TRUE(c1.ok());
  std::vector<float> all(static_cast<size_t>(n) * n_vocab);
  ASSERT_TRUE(model->Forward(**c1, tokens, 0, all.data(), true).ok());
  EXPECT_EQ((*c1)->n_past(), n);

  // Last-token logits of the same call equal the last row of all_logits.
  auto c2 = model->NewCache(n);
  std::vector<float> last(n_vocab);
  ASSERT_TRUE(model->Forward(**c2, tokens, 0, last.data(), false).ok());
  for (int i = 0; i < n_vocab; ++i) {
    EXPECT_NEAR(last[i], all[static_cast<size_t>(n - 1) * n_vocab + i], 1e-5);
  }

  // Token by token for the first 40 positions, then a 300-token piece, then the rest.
  auto c3 = model->NewCache(n);
  std::vector<float> step(n_vocab);
  const std::span<const int32_t> ts(tokens);
  double worst = 0;
  for (int p = 0; p < 40; ++p) {
    ASSERT_TRUE(model->Forward(**c3, ts.subspan(p, 1), p, step.data(), false).ok());
    for (int i = 0; i < n_vocab; ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(step[i]) - all[p * n_vocab + i]));
    }
  }
  ASSERT_TRUE(model->Forward(**c3, ts.subspan(40, 300), 40, nullptr, false).ok());
  ASSERT_TRUE(model->Forward(**c3, ts.subspan(340), 340, step.data(), false).ok());
  for (int i = 0; i < n_vocab; ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(step[i]) - last[i]));
  }
  EXPECT_LT(worst, 1e-4);
  // Results do not depend on the thread count.
  auto single = WriteAndLoad(m, "qwen3_batch1", 1);
  ASSERT_NE(single, nullptr);
  auto c4 = single->NewCache(n);
  std::vector<float> last1(n_vocab);
  ASSERT_TRUE(single->Forward(**c4, tokens, 0, last1.data(), false).ok());
  for (int i = 0; i < n_vocab; ++i) EXPECT_NEAR(last1[i], last[i], 1e-4);
}

TEST(DenseModelTest, RewindingOverwritesTheCache) {
  SyntheticSpec s;
  const SyntheticModel m = MakeSynthetic(s);
  auto model = WriteAndLoad(m, "llama_rewind");
  ASSERT_NE(model, nullptr);
  const auto a = Tokens(10, s.n_vocab, 1);
  auto b = a;
  b[6] = (b[6] + 1) % s.n_vocab;
  b[7] = (b[7] + 5) % s.n_vocab;
  const int n_vocab = model->config().n_vocab;
  auto cache = model->NewCache(16);
  std::vector<float> la(n_vocab), lb(n_vocab), fresh(n_vocab);
  ASSERT_TRUE(model->Forward(**cache, a, 0, la.data(), false).ok());
  // Rewind to position 6 and continue with b's tail: equals a fresh run of b.
  ASSERT_TRUE(
      model->Forward(**cache, std::span<const int32_t>(b).subspan(6), 6, lb.data(), false).ok());
  auto c2 = model->NewCache(16);
  ASSERT_TRUE(model->Forward(**c2, b, 0, fresh.data(), false).ok());
  for (int i = 0; i < n_vocab; ++i) EXPECT_FLOAT_EQ(lb[i], fresh[i]);
}

TEST(DenseModelTest, ForwardRefusesBadCalls) {
  SyntheticSpec s;
  const SyntheticModel m = MakeSynthetic(s);
  auto model = WriteAndLoad(m, "llama_bad_calls");
  ASSERT_NE(model, nullptr);
  std::vector<float> logits(model->config().n_vocab);
  auto cache = model->NewCache(8);
  ASSERT_TRUE(cache.ok());
  const std::vector<int32_t> ok_tokens = {1, 2, 3};
  EXPECT_EQ(model->Forward(**cache, std::vector<int32_t>{1, 64}, 0, logits.data(), false).code(),
            StatusCode::kInvalidArgument);  // id == n_vocab
  EXPECT_EQ(model->Forward(**cache, std::vector<int32_t>{-1}, 0, logits.data(), false).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(model->Forward(**cache, {}, 0, logits.data(), false).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(model->Forward(**cache, ok_tokens, 2, logits.data(), false).code(),
            StatusCode::kInvalidArgument);  // gap: the cache holds nothing yet
  EXPECT_EQ(model->Forward(**cache, std::vector<int32_t>(9, 1), 0, logits.data(), false).code(),
            StatusCode::kOutOfRange);  // 9 tokens into n_ctx 8
  EXPECT_TRUE(model->Forward(**cache, ok_tokens, 0, logits.data(), false).ok());
  EXPECT_EQ(model->NewCache(0).status().code(), StatusCode::kInvalidArgument);

  SyntheticSpec other = s;
  other.n_layer = 3;
  auto model3 = WriteAndLoad(MakeSynthetic(other), "llama_3layers");
  ASSERT_NE(model3, nullptr);
  auto cache3 = model3->NewCache(8);
  EXPECT_EQ(model->Forward(**cache3, ok_tokens, 0, logits.data(), false).code(),
            StatusCode::kInvalidArgument);
}

// Writes m with one tensor replaced (or removed when ne is empty) and returns the load status.
Status LoadWithTensor(const SyntheticModel& m, const std::string& name, DType type,
                      std::vector<int64_t> ne, const std::string& file) {
  gguf::GgufWriter w;
  SyntheticModel copy = m;
  copy.w.erase(name);
  copy.shapes.erase(name);
  std::vector<std::vector<uint8_t>> keep;
  keep.reserve(copy.w.size() + 1);
  FillWriter(copy, w, keep);
  if (!ne.empty()) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    keep.emplace_back(*RowBytes(type, ne[0]) * (n / ne[0]), 0);
    w.AddTensor(name, type, ne, keep.back().data(), keep.back().size());
  }
  const std::string path = TempPath(file);
  LLMUX_RETURN_IF_ERROR(w.Write(path));
  auto model = LoadFile(path);
  return model.status();
}

TEST(DenseModelTest, MalformedModelsAreRefusedWithTheReason) {
  SyntheticSpec s;
  const SyntheticModel m = MakeSynthetic(s);
  Status st = LoadWithTensor(m, "blk.1.attn_k.weight", DType::kF32, {32, 8}, "bad_shape");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("tensor 'blk.1.attn_k.weight' has shape {32, 8}, expected {32, 16}"),
            std::string::npos)
      << st.ToString();

  st = LoadWithTensor(m, "blk.0.ffn_up.weight", DType::kF32, {}, "missing");
  EXPECT_NE(st.message().find("missing tensor 'blk.0.ffn_up.weight'"), std::string::npos)
      << st.ToString();

  st = LoadWithTensor(m, "blk.0.ffn_up.weight", DType::kQ4_1, {32, 48}, "bad_type");
  EXPECT_EQ(st.code(), StatusCode::kUnimplemented) << st.ToString();
  EXPECT_NE(st.message().find("blk.0.ffn_up.weight"), std::string::npos) << st.ToString();

  st = LoadWithTensor(m, "output_norm.weight", DType::kF16, {32}, "bad_norm_type");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("output_norm.weight"), std::string::npos) << st.ToString();

  st = LoadWithTensor(m, "token_embd.weight", DType::kF32, {31, 64}, "bad_embd");
  EXPECT_NE(st.message().find("token_embd.weight"), std::string::npos) << st.ToString();
}

TEST(DenseModelTest, BadMetadataIsRefused) {
  SyntheticSpec s;
  const SyntheticModel m = MakeSynthetic(s);
  auto load_with = [&](const std::function<void(gguf::GgufWriter&)>& edit,
                       const std::string& file) -> Status {
    gguf::GgufWriter w;
    std::vector<std::vector<uint8_t>> keep;
    keep.reserve(m.w.size());
    FillWriter(m, w, keep);
    edit(w);
    const std::string path = TempPath(file);
    LLMUX_RETURN_IF_ERROR(w.Write(path));
    return LoadFile(path).status();
  };
  Status st =
      load_with([](gguf::GgufWriter& w) { w.SetString("general.architecture", "mamba"); }, "arch");
  EXPECT_EQ(st.code(), StatusCode::kUnimplemented);
  EXPECT_NE(st.message().find("unsupported architecture 'mamba'"), std::string::npos);

  st = load_with([](gguf::GgufWriter& w) { w.Remove("llama.embedding_length"); }, "no_embd");
  EXPECT_NE(st.message().find("missing key 'llama.embedding_length'"), std::string::npos)
      << st.ToString();

  st = load_with([](gguf::GgufWriter& w) { w.SetUint32("llama.attention.head_count_kv", 3); },
                 "kv3");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("head_count"), std::string::npos) << st.ToString();

  st = load_with([](gguf::GgufWriter& w) { w.SetUint32("llama.attention.head_count", 0); },
                 "heads0");
  EXPECT_FALSE(st.ok());

  st =
      load_with([](gguf::GgufWriter& w) { w.SetString("llama.block_count", "two"); }, "layers_str");
  EXPECT_NE(st.message().find("llama.block_count"), std::string::npos) << st.ToString();

  // block_count larger than the file's layers: the first missing layer is named.
  st = load_with([](gguf::GgufWriter& w) { w.SetUint32("llama.block_count", 3); }, "layers3");
  EXPECT_NE(st.message().find("missing tensor 'blk.2.attn_norm.weight'"), std::string::npos)
      << st.ToString();

  st = load_with([](gguf::GgufWriter& w) { w.SetString("llama.rope.scaling.type", "longrope"); },
                 "longrope");
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace llmux::testing
