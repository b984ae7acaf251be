#include "engine/convert/tensor_types.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "engine/gguf/gguf_reader.h"
#include "tests/support/test_paths.h"

namespace llmux::convert {
namespace {

const std::string kModels = llmux::testing::SharedDir() + "/models/";

TEST(TensorTypes, TargetNames) {
  EXPECT_EQ(ParseQuantizeTarget("Q4_K_M"), QuantizeTarget::kQ4_K_M);
  EXPECT_EQ(ParseQuantizeTarget("bf16"), QuantizeTarget::kBF16);
  EXPECT_FALSE(ParseQuantizeTarget("q5_k_m").has_value());
  EXPECT_EQ(std::string(QuantizeTargetName(QuantizeTarget::kQ8_0)), "q8_0");
  // llama.cpp's llama_ftype numbers.
  EXPECT_EQ(FileTypeOf(QuantizeTarget::kF32), 0u);
  EXPECT_EQ(FileTypeOf(QuantizeTarget::kF16), 1u);
  EXPECT_EQ(FileTypeOf(QuantizeTarget::kQ4_0), 2u);
  EXPECT_EQ(FileTypeOf(QuantizeTarget::kQ8_0), 7u);
  EXPECT_EQ(FileTypeOf(QuantizeTarget::kQ4_K_M), 15u);
  EXPECT_EQ(FileTypeOf(QuantizeTarget::kBF16), 32u);
}

TEST(TensorTypes, Quantizable) {
  EXPECT_TRUE(IsQuantizable("blk.0.attn_q.weight", {64, 64}));
  EXPECT_TRUE(IsQuantizable("token_embd.weight", {64, 512}));
  EXPECT_TRUE(IsQuantizable("blk.0.ffn_up_exps.weight", {64, 64, 8}));
  EXPECT_FALSE(IsQuantizable("blk.0.attn_norm.weight", {64}));
  EXPECT_FALSE(IsQuantizable("blk.0.attn_q_norm.weight", {32}));
  EXPECT_FALSE(IsQuantizable("blk.0.attn_q.bias", {64}));
  EXPECT_FALSE(IsQuantizable("blk.0.ffn_gate_inp.weight", {64, 8}));
  EXPECT_FALSE(IsQuantizable("blk.0.attn_q.weight", {64, 1}));  // one non-trivial dimension
  EXPECT_FALSE(IsQuantizable("blk.1.exp_probs_b.bias", {8}));
}

TEST(TensorTypes, Order) {
  EXPECT_TRUE(LlamaCppTensorOrder("output_norm.weight", "token_embd.weight"));
  EXPECT_TRUE(LlamaCppTensorOrder("token_embd.weight", "blk.0.attn_k.weight"));
  EXPECT_TRUE(LlamaCppTensorOrder("blk.2.ffn_up.weight", "blk.10.attn_k.weight"));
  EXPECT_TRUE(LlamaCppTensorOrder("blk.0.attn_k.weight", "blk.0.attn_k_norm.weight"));
  EXPECT_EQ(LayerOf("blk.17.attn_q.weight"), 17);
  EXPECT_EQ(LayerOf("blk.x.attn_q.weight"), -1);
  EXPECT_EQ(LayerOf("output.weight"), -1);
}

// The shared Q4_K_M model was made by llama-quantize with --token-embedding-type q4_k; our
// rules must pick the same type for each of its tensors.
TEST(TensorTypes, MatchesLlamaQuantizeOnKmini) {
  auto f = gguf::GgufFile::Open(kModels + "qwen3-kmini-q4_k_m.gguf");
  ASSERT_TRUE(f.ok());
  std::vector<TensorShape> shapes;
  for (const auto& t : (*f)->tensors()) shapes.push_back({t.name, t.ne, DType::kF32});
  QuantizeOptions opt;
  opt.token_embedding_type = DType::kQ4_K;
  std::vector<DType> types = PlanTensorTypes(shapes, QuantizeTarget::kQ4_K_M, opt, 2, 0);
  ASSERT_EQ(types.size(), (*f)->tensors().size());
  for (size_t i = 0; i < types.size(); ++i) {
    EXPECT_EQ(types[i], (*f)->tensors()[i].type) << (*f)->tensors()[i].name;
  }
  // Without the override the tied embedding is the output matrix: Q6_K (see models/README.md).
  types = PlanTensorTypes(shapes, QuantizeTarget::kQ4_K_M, {}, 2, 0);
  EXPECT_EQ(types[1], DType::kQ6_K);
  EXPECT_EQ(shapes[1].name, "token_embd.weight");
}

std::vector<TensorShape> DenseModel(int n_layer, int64_t n_embd, int64_t n_ff, bool tied) {
  std::vector<TensorShape> t;
  if (!tied) t.push_back({"output.weight", {n_embd, 1000}, DType::kF32});
  t.push_back({"output_norm.weight", {n_embd}, DType::kF32});
  t.push_back({"token_embd.weight", {n_embd, 1000}, DType::kF32});
  for (int l = 0; l < n_layer; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    t.push_back({p + "attn_k.weight", {n_embd, n_embd / 2}, DType::kF32});
    t.push_back({p + "attn_norm.weight", {n_embd}, DType::kF32});
    t.push_back({p + "attn_output.weight", {n_embd, n_embd}, DType::kF32});
    t.push_back({p + "attn_q.weight", {n_embd, n_embd}, DType::kF32});
    t.push_back({p + "attn_v.weight", {n_embd, n_embd / 2}, DType::kF32});
    t.push_back({p + "ffn_down.weight", {n_ff, n_embd}, DType::kF32});
    t.push_back({p + "ffn_gate.weight", {n_embd, n_ff}, DType::kF32});
    t.push_back({p + "ffn_up.weight", {n_embd, n_ff}, DType::kF32});
  }
  return t;
}

std::map<std::string, DType> ByName(const std::vector<TensorShape>& t, const std::vector<DType>& types) {
  std::map<std::string, DType> m;
  for (size_t i = 0; i < t.size(); ++i) m[t[i].name] = types[i];
  return m;
}

TEST(TensorTypes, Q4KMMoreBitsLayers) {
  // 8 layers: n/8 = 1 and 7n/8 = 7, so layers 0 and 7 plus (i - 1) % 3 == 2: 3 and 6.
  auto t = DenseModel(8, 512, 1024, /*tied=*/false);
  auto m = ByName(t, PlanTensorTypes(t, QuantizeTarget::kQ4_K_M, {}, 8, 0));
  for (int l = 0; l < 8; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    bool more = l == 0 || l == 3 || l == 6 || l == 7;
    DType want = more ? DType::kQ6_K : DType::kQ4_K;
    EXPECT_EQ(m[p + "attn_v.weight"], want) << l;
    EXPECT_EQ(m[p + "ffn_down.weight"], want) << l;
    EXPECT_EQ(m[p + "attn_q.weight"], DType::kQ4_K);
    EXPECT_EQ(m[p + "attn_k.weight"], DType::kQ4_K);
    EXPECT_EQ(m[p + "ffn_up.weight"], DType::kQ4_K);
    EXPECT_EQ(m[p + "attn_norm.weight"], DType::kF32);
  }
  EXPECT_EQ(m["output.weight"], DType::kQ6_K);
  EXPECT_EQ(m["token_embd.weight"], DType::kQ4_K);
  EXPECT_EQ(m["output_norm.weight"], DType::kF32);
}

TEST(TensorTypes, FallbacksForShortRows) {
  // n_embd 64: no K-quant fits. Q4_K -> Q5_0, Q6_K -> Q8_0; ffn 96 (3 blocks of 32) still fits Q5_0/Q8_0.
  auto t = DenseModel(2, 64, 96, /*tied=*/true);
  auto m = ByName(t, PlanTensorTypes(t, QuantizeTarget::kQ4_K_M, {}, 2, 0));
  EXPECT_EQ(m["blk.0.attn_q.weight"], DType::kQ5_0);
  EXPECT_EQ(m["blk.1.attn_v.weight"], DType::kQ8_0);  // more bits (last layer): Q6_K -> Q8_0
  EXPECT_EQ(m["blk.0.ffn_down.weight"], DType::kQ5_0);
  EXPECT_EQ(m["token_embd.weight"], DType::kQ8_0);    // tied: output rule, 64 % 256 != 0

  // Rows of 48 fit no 32-block type: F16.
  std::vector<TensorShape> odd = {{"blk.0.attn_q.weight", {48, 16}, DType::kF32}};
  EXPECT_EQ(PlanTensorTypes(odd, QuantizeTarget::kQ8_0, {}, 1, 0)[0], DType::kF16);
  EXPECT_EQ(PlanTensorTypes(odd, QuantizeTarget::kBF16, {}, 1, 0)[0], DType::kBF16);
}

TEST(TensorTypes, NonKTargets) {
  auto t = DenseModel(2, 64, 128, /*tied=*/true);
  auto q8 = ByName(t, PlanTensorTypes(t, QuantizeTarget::kQ8_0, {}, 2, 0));
  EXPECT_EQ(q8["token_embd.weight"], DType::kQ8_0);
  EXPECT_EQ(q8["blk.1.ffn_down.weight"], DType::kQ8_0);
  // q4_0: the tied embedding is the output matrix: Q6_K, which does not fit 64 -> Q8_0.
  auto q4 = ByName(t, PlanTensorTypes(t, QuantizeTarget::kQ4_0, {}, 2, 0));
  EXPECT_EQ(q4["token_embd.weight"], DType::kQ8_0);
  EXPECT_EQ(q4["blk.0.attn_v.weight"], DType::kQ4_0);
  QuantizeOptions pure;
  pure.pure = true;
  auto q4p = ByName(t, PlanTensorTypes(t, QuantizeTarget::kQ4_0, pure, 2, 0));
  EXPECT_EQ(q4p["token_embd.weight"], DType::kQ4_0);
  auto f16 = ByName(t, PlanTensorTypes(t, QuantizeTarget::kF16, {}, 2, 0));
  EXPECT_EQ(f16["token_embd.weight"], DType::kF16);
  EXPECT_EQ(f16["blk.0.ffn_norm.weight"], DType::kF32);
  // Source types of non-quantizable tensors are kept.
  std::vector<TensorShape> norm = {{"blk.0.attn_norm.weight", {64}, DType::kF16}};
  EXPECT_EQ(PlanTensorTypes(norm, QuantizeTarget::kQ8_0, {}, 1, 0)[0], DType::kF16);
}

TEST(TensorTypes, EightExpertMoE) {
  std::vector<TensorShape> t = {
      {"blk.0.attn_k.weight", {256, 128}, DType::kF32},
      {"blk.0.attn_output.weight", {256, 256}, DType::kF32},
      {"blk.0.attn_v.weight", {256, 128}, DType::kF32},
      {"blk.0.ffn_down_exps.weight", {256, 256, 8}, DType::kF32},
      {"blk.0.ffn_gate_exps.weight", {256, 256, 8}, DType::kF32},
      {"blk.0.ffn_gate_inp.weight", {256, 8}, DType::kF32},
  };
  auto q4 = ByName(t, PlanTensorTypes(t, QuantizeTarget::kQ4_0, {}, 4, 8));
  EXPECT_EQ(q4["blk.0.attn_k.weight"], DType::kQ8_0);
  EXPECT_EQ(q4["blk.0.attn_v.weight"], DType::kQ8_0);
  EXPECT_EQ(q4["blk.0.attn_output.weight"], DType::kQ4_0);
  EXPECT_EQ(q4["blk.0.ffn_gate_exps.weight"], DType::kQ4_0);
  EXPECT_EQ(q4["blk.0.ffn_gate_inp.weight"], DType::kF32);
  auto km = ByName(t, PlanTensorTypes(t, QuantizeTarget::kQ4_K_M, {}, 8, 8));
  EXPECT_EQ(km["blk.0.attn_output.weight"], DType::kQ6_K);
  EXPECT_EQ(km["blk.0.ffn_down_exps.weight"], DType::kQ6_K);  // layer 0 of 8: more bits
  auto km4 = ByName(t, PlanTensorTypes(t, QuantizeTarget::kQ4_K_M, {}, 4, 8));
  EXPECT_EQ(km4["blk.0.ffn_down_exps.weight"], DType::kQ4_K);  // 4 layers: 4/8 = 0, so not layer 0
  EXPECT_EQ(km["blk.0.ffn_gate_exps.weight"], DType::kQ4_K);
}

}  // namespace
}  // namespace llmux::convert
