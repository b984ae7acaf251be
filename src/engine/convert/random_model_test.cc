#include "engine/convert/random_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>

#include "engine/gguf/gguf_reader.h"
#include "engine/backend/cpu/kernels/kernels.h"
#include "tests/support/test_paths.h"

namespace llmux::convert {
namespace {

const std::string kModels = llmux::testing::SharedDir() + "/models/";

std::string TempPath(const std::string& name) {
  return llmux::testing::BinaryDir() + "/convert_random_model_test_" + name;
}

std::vector<uint8_t> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

RandomModelSpec TinySpec(const std::string& arch) {
  RandomModelSpec s;
  s.arch = arch;
  s.hidden = 64;
  s.layers = 2;
  s.heads = 4;
  s.kv_heads = 2;
  s.head_dim = 32;
  s.ffn = 96;
  s.vocab_path = kModels + "stories260K.gguf";  // 512 tokens
  return s;
}

std::vector<float> Values(const gguf::TensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  const int64_t ne0 = t.ne[0];
  const size_t row_bytes = *RowBytes(t.type, ne0);
  for (int64_t r = 0; r < t.n_elements() / ne0; ++r) {
    kernels::DequantizeRow(t.type, t.data + r * row_bytes, out.data() + r * ne0, ne0);
  }
  return out;
}

void MeanStd(const std::vector<float>& v, double* mean, double* std) {
  double s = 0, s2 = 0;
  for (float x : v) s += x;
  *mean = s / v.size();
  for (float x : v) s2 += (x - *mean) * (x - *mean);
  *std = std::sqrt(s2 / v.size());
}

TEST(RandomModel, Qwen3TensorsAndMetadata) {
  const std::string path = TempPath("qwen3.gguf");
  ASSERT_TRUE(CreateRandomModel(TinySpec("qwen3"), path).ok());
  auto f = gguf::GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const auto& g = **f;
  EXPECT_EQ(g.GetString("general.architecture"), "qwen3");
  EXPECT_EQ(g.GetInt("qwen3.block_count"), 2);
  EXPECT_EQ(g.GetInt("qwen3.embedding_length"), 64);
  EXPECT_EQ(g.GetInt("qwen3.feed_forward_length"), 96);
  EXPECT_EQ(g.GetInt("qwen3.attention.head_count"), 4);
  EXPECT_EQ(g.GetInt("qwen3.attention.head_count_kv"), 2);
  EXPECT_EQ(g.GetInt("qwen3.attention.key_length"), 32);
  EXPECT_EQ(g.GetInt("qwen3.attention.value_length"), 32);
  EXPECT_EQ(g.GetInt("qwen3.context_length"), 40960);
  EXPECT_EQ(g.GetFloat("qwen3.rope.freq_base"), 1e6);
  EXPECT_NEAR(*g.GetFloat("qwen3.attention.layer_norm_rms_epsilon"), 1e-6, 1e-12);
  EXPECT_EQ(g.GetInt("general.file_type"), 0);
  EXPECT_EQ(g.GetInt("general.alignment"), 32);

  // The tokenizer keys are those of the vocabulary file, unchanged.
  auto vocab = gguf::GgufFile::Open(kModels + "stories260K.gguf");
  ASSERT_TRUE(vocab.ok());
  int copied = 0;
  for (const auto& e : (*vocab)->metadata()) {
    if (e.key.rfind("tokenizer.", 0) != 0) continue;
    ASSERT_NE(g.Find(e.key), nullptr) << e.key;
    EXPECT_TRUE(*g.Find(e.key) == e.value) << e.key;
    ++copied;
  }
  EXPECT_EQ(copied, 7);

  // Tensor set and shapes (tied: no output.weight; q is 4 x 32 = 128 wide).
  std::set<std::string> names;
  for (const auto& t : g.tensors()) names.insert(t.name);
  EXPECT_EQ(names.size(), 2u + 2 * 11);
  auto shape = [&](const std::string& n) { return g.FindTensor(n) ? g.FindTensor(n)->ne : std::vector<int64_t>{}; };
  EXPECT_EQ(shape("token_embd.weight"), (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(shape("blk.1.attn_q.weight"), (std::vector<int64_t>{64, 128}));
  EXPECT_EQ(shape("blk.1.attn_k.weight"), (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(shape("blk.1.attn_v.weight"), (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(shape("blk.1.attn_output.weight"), (std::vector<int64_t>{128, 64}));
  EXPECT_EQ(shape("blk.0.attn_q_norm.weight"), (std::vector<int64_t>{32}));
  EXPECT_EQ(shape("blk.0.attn_k_norm.weight"), (std::vector<int64_t>{32}));
  EXPECT_EQ(shape("blk.0.attn_norm.weight"), (std::vector<int64_t>{64}));
  EXPECT_EQ(shape("blk.0.ffn_norm.weight"), (std::vector<int64_t>{64}));
  EXPECT_EQ(shape("blk.0.ffn_gate.weight"), (std::vector<int64_t>{64, 96}));
  EXPECT_EQ(shape("blk.0.ffn_up.weight"), (std::vector<int64_t>{64, 96}));
  EXPECT_EQ(shape("blk.0.ffn_down.weight"), (std::vector<int64_t>{96, 64}));
  EXPECT_EQ(shape("output_norm.weight"), (std::vector<int64_t>{64}));
  EXPECT_EQ(g.FindTensor("output.weight"), nullptr);
  EXPECT_EQ(g.FindTensor("blk.0.attn_q.bias"), nullptr);
  for (const auto& t : g.tensors()) EXPECT_EQ(t.type, DType::kF32) << t.name;

  // Distributions: std 1/sqrt(fan_in) for matrices, 0.02 for the embedding, 1 + N(0, 0.1) for norms.
  double mean, std;
  MeanStd(Values(*g.FindTensor("blk.0.ffn_down.weight")), &mean, &std);
  EXPECT_NEAR(std, 1 / std::sqrt(96.0), 0.05 / std::sqrt(96.0));
  EXPECT_NEAR(mean, 0, 0.01);
  MeanStd(Values(*g.FindTensor("token_embd.weight")), &mean, &std);
  EXPECT_NEAR(std, 0.02, 0.001);
  MeanStd(Values(*g.FindTensor("blk.1.ffn_norm.weight")), &mean, &std);
  EXPECT_NEAR(mean, 1.0, 0.05);
  EXPECT_NEAR(std, 0.1, 0.03);
  // Tensors are independent draws.
  EXPECT_NE(Values(*g.FindTensor("blk.0.attn_k.weight")), Values(*g.FindTensor("blk.0.attn_v.weight")));
  std::remove(path.c_str());
}

TEST(RandomModel, DeterministicFromSeed) {
  RandomModelSpec s = TinySpec("qwen3");
  const std::string a = TempPath("seed_a.gguf"), b = TempPath("seed_b.gguf"), c = TempPath("seed_c.gguf");
  ASSERT_TRUE(CreateRandomModel(s, a).ok());
  ThreadPool one(1);
  ASSERT_TRUE(CreateRandomModel(s, b, one).ok());  // thread count does not matter
  s.seed = 99;
  ASSERT_TRUE(CreateRandomModel(s, c).ok());
  auto ba = ReadWholeFile(a), bb = ReadWholeFile(b), bc = ReadWholeFile(c);
  EXPECT_EQ(ba, bb);
  ASSERT_EQ(ba.size(), bc.size());  // same layout ...
  EXPECT_NE(ba, bc);                // ... other weights (and name)
  for (const auto& p : {a, b, c}) std::remove(p.c_str());
}

TEST(RandomModel, Qwen2AndLlamaLayouts) {
  RandomModelSpec q2 = TinySpec("qwen2");
  q2.head_dim = 0;  // 64 / 4 = 16
  const std::string p2 = TempPath("qwen2.gguf");
  ASSERT_TRUE(CreateRandomModel(q2, p2).ok());
  auto f2 = gguf::GgufFile::Open(p2);
  ASSERT_TRUE(f2.ok());
  EXPECT_EQ((*f2)->GetString("general.architecture"), "qwen2");
  EXPECT_EQ((*f2)->GetInt("qwen2.attention.key_length"), 16);
  ASSERT_NE((*f2)->FindTensor("blk.1.attn_q.bias"), nullptr);
  EXPECT_EQ((*f2)->FindTensor("blk.1.attn_q.bias")->ne, (std::vector<int64_t>{64}));
  EXPECT_EQ((*f2)->FindTensor("blk.1.attn_k.bias")->ne, (std::vector<int64_t>{32}));
  EXPECT_EQ((*f2)->FindTensor("blk.1.attn_v.bias")->ne, (std::vector<int64_t>{32}));
  EXPECT_EQ((*f2)->FindTensor("blk.0.attn_q_norm.weight"), nullptr);

  RandomModelSpec ll = TinySpec("llama");
  ll.tied = false;
  ll.type = QuantizeTarget::kQ8_0;
  const std::string pl = TempPath("llama.gguf");
  ASSERT_TRUE(CreateRandomModel(ll, pl).ok());
  auto fl = gguf::GgufFile::Open(pl);
  ASSERT_TRUE(fl.ok());
  EXPECT_EQ((*fl)->GetInt("llama.rope.dimension_count"), 32);
  EXPECT_EQ((*fl)->GetInt("llama.vocab_size"), 512);
  EXPECT_EQ((*fl)->GetFloat("llama.rope.freq_base"), 10000.0);
  EXPECT_EQ((*fl)->GetInt("general.file_type"), 7);
  const gguf::TensorInfo* out = (*fl)->FindTensor("output.weight");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->ne, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(out->type, DType::kQ8_0);
  EXPECT_EQ((*fl)->FindTensor("blk.0.ffn_down.weight")->type, DType::kQ8_0);  // 96 = 3 blocks
  EXPECT_EQ((*fl)->FindTensor("blk.0.attn_norm.weight")->type, DType::kF32);
  double mean, std;
  MeanStd(Values(*out), &mean, &std);
  EXPECT_NEAR(std, 1 / 8.0, 0.01);  // output.weight is a matrix: 1/sqrt(64)
  std::remove(p2.c_str());
  std::remove(pl.c_str());
}

// The mixture-of-experts layouts against files llama.cpp's own GGUF writer (gguf-py) made for
// the same dimensions, the shared minis: the same tensors with the same shapes and types, and
// every architecture key with the same value.
void ExpectSameLayout(const RandomModelSpec& spec, const std::string& reference) {
  const std::string path = TempPath(spec.arch + "_layout.gguf");
  ASSERT_TRUE(CreateRandomModel(spec, path).ok());
  auto ours = gguf::GgufFile::Open(path);
  auto ref = gguf::GgufFile::Open(kModels + reference);
  ASSERT_TRUE(ours.ok() && ref.ok());
  std::set<std::string> ours_tensors, ref_tensors;
  for (const auto& t : (*ref)->tensors()) {
    ref_tensors.insert(t.name);
    const gguf::TensorInfo* o = (*ours)->FindTensor(t.name);
    ASSERT_NE(o, nullptr) << t.name;
    EXPECT_EQ(o->ne, t.ne) << t.name;
    EXPECT_EQ(o->type, t.type) << t.name;
  }
  for (const auto& t : (*ours)->tensors()) ours_tensors.insert(t.name);
  EXPECT_EQ(ours_tensors, ref_tensors);
  const std::string prefix = spec.arch + ".";
  int keys = 0;
  for (const auto& kv : (*ref)->metadata()) {
    if (kv.key.rfind(prefix, 0) != 0 || kv.key == prefix + "vocab_size") continue;
    ++keys;
    ASSERT_NE((*ours)->Find(kv.key), nullptr) << kv.key;
    if (auto f = (*ref)->GetFloat(kv.key)) {
      EXPECT_FLOAT_EQ(*(*ours)->GetFloat(kv.key), *f) << kv.key;
    } else if (auto b = (*ref)->GetBool(kv.key)) {
      EXPECT_EQ((*ours)->GetBool(kv.key), b) << kv.key;
    } else {
      EXPECT_EQ((*ours)->GetString(kv.key), (*ref)->GetString(kv.key)) << kv.key;
    }
  }
  EXPECT_GT(keys, 10);
  std::remove(path.c_str());
}

TEST(RandomModel, MixtureOfExpertsLayoutsMatchTheConverters) {
  RandomModelSpec q = TinySpec("qwen3moe");
  q.vocab_path = kModels + "qwen3-vocab.gguf";
  q.ffn = 192;
  q.experts = 8;
  q.experts_used = 2;
  q.expert_ffn = 64;
  q.tied = false;
  q.type = QuantizeTarget::kQ8_0;
  ExpectSameLayout(q, "qwen3moe-mini-q8_0.gguf");

  RandomModelSpec d = TinySpec("deepseek2");
  d.vocab_path = kModels + "qwen3-vocab.gguf";
  d.layers = 3;
  d.kv_heads = 1;
  d.head_dim = 0;
  d.ffn = 128;
  d.experts = 8;
  d.experts_used = 2;
  d.expert_ffn = 64;
  d.shared_experts = 1;
  d.expert_groups = 4;
  d.expert_groups_used = 2;
  d.dense_layers = 1;
  d.q_lora = 32;
  d.kv_lora = 32;
  d.qk_nope = 32;
  d.qk_rope = 16;
  d.v_head = 16;
  d.type = QuantizeTarget::kQ8_0;
  ExpectSameLayout(d, "deepseek3-mini-q8_0.gguf");
}

TEST(RandomModel, Q4KMMix) {
  RandomModelSpec s = TinySpec("qwen3");
  s.hidden = 256;
  s.head_dim = 64;
  s.ffn = 512;
  s.type = QuantizeTarget::kQ4_K_M;
  const std::string path = TempPath("q4km.gguf");
  ASSERT_TRUE(CreateRandomModel(s, path).ok());
  auto f = gguf::GgufFile::Open(path);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->GetInt("general.file_type"), 15);
  EXPECT_EQ((*f)->FindTensor("token_embd.weight")->type, DType::kQ6_K);  // tied: output rule
  EXPECT_EQ((*f)->FindTensor("blk.0.attn_q.weight")->type, DType::kQ4_K);
  EXPECT_EQ((*f)->FindTensor("blk.0.attn_v.weight")->type, DType::kQ4_K);
  EXPECT_EQ((*f)->FindTensor("blk.1.attn_v.weight")->type, DType::kQ6_K);
  EXPECT_EQ((*f)->FindTensor("blk.1.ffn_down.weight")->type, DType::kQ6_K);
  EXPECT_EQ((*f)->FindTensor("blk.0.attn_q_norm.weight")->type, DType::kF32);
  double mean, std;
  MeanStd(Values(*(*f)->FindTensor("blk.0.ffn_gate.weight")), &mean, &std);
  EXPECT_NEAR(std, 1 / 16.0, 0.1 / 16.0);  // quantized, still about 1/sqrt(256)
  std::remove(path.c_str());
}

TEST(RandomModel, RefusesBadSpecs) {
  const std::string path = TempPath("bad.gguf");
  RandomModelSpec s = TinySpec("gpt5");
  EXPECT_EQ(CreateRandomModel(s, path).code(), StatusCode::kInvalidArgument);
  s = TinySpec("qwen3");
  s.kv_heads = 3;
  EXPECT_FALSE(CreateRandomModel(s, path).ok());
  s = TinySpec("qwen3");
  s.layers = 0;
  EXPECT_FALSE(CreateRandomModel(s, path).ok());
  s = TinySpec("qwen3");
  s.vocab_path = kModels + "missing.gguf";
  EXPECT_EQ(CreateRandomModel(s, path).code(), StatusCode::kNotFound);
  s = TinySpec("qwen3");
  s.vocab_path = "";
  EXPECT_FALSE(CreateRandomModel(s, path).ok());
  EXPECT_FALSE(std::ifstream(path).good());
}

}  // namespace
}  // namespace llmux::convert
