// ImportHfCheckpoint on small checkpoints built in the test (raw tensor bytes in a file, the
// plain HfCheckpoint records the CLI would read from JSON): FP8 block-scaled weights against
// values decoded here from the E4M3 definition, BF16/F16 decoding, and the refusals.
#include "engine/convert/hf_import.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/convert/hf_dtype.h"
#include "engine/convert/hf_metadata.h"
#include "engine/gguf/gguf_reader.h"

namespace llmux::convert {
namespace {

namespace fs = std::filesystem;

// E4M3 ("fn") by its definition: sign, 4 exponent bits (bias 7), 3 mantissa bits; exponent 0 is
// subnormal; S.1111.111 is NaN.
double E4M3ByDefinition(uint8_t v) {
  const int sign = v >> 7, e = (v >> 3) & 15, m = v & 7;
  if (e == 15 && m == 7) return NAN;
  const double mag = e == 0 ? (m / 8.0) * std::pow(2.0, -6) : (1 + m / 8.0) * std::pow(2.0, e - 7);
  return sign ? -mag : mag;
}

TEST(HfDType, E4M3MatchesItsDefinition) {
  for (int v = 0; v < 256; ++v) {
    SCOPED_TRACE(v);
    const double want = E4M3ByDefinition(static_cast<uint8_t>(v));
    const float got = DecodeE4M3(static_cast<uint8_t>(v));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got));
    } else {
      EXPECT_EQ(static_cast<double>(got), want);
    }
  }
  // Anchors from the OCP FP8 specification's table.
  EXPECT_EQ(DecodeE4M3(0x7E), 448.0f);
  EXPECT_EQ(DecodeE4M3(0xFE), -448.0f);
  EXPECT_EQ(DecodeE4M3(0x38), 1.0f);
  EXPECT_EQ(DecodeE4M3(0x08), 0.015625f);     // 2^-6, the smallest normal
  EXPECT_EQ(DecodeE4M3(0x01), 0.001953125f);  // 2^-9, the smallest subnormal
  EXPECT_TRUE(std::isnan(DecodeE4M3(0x7F)));
  EXPECT_TRUE(std::isnan(DecodeE4M3(0xFF)));
  EXPECT_TRUE(std::signbit(DecodeE4M3(0x80)));
}

// E5M2 by its definition: sign, 5 exponent bits (bias 15), 2 mantissa bits; exponent 0 is
// subnormal; exponent 31 is infinity (mantissa 0) or NaN.
double E5M2ByDefinition(uint8_t v) {
  const int sign = v >> 7, e = (v >> 2) & 31, m = v & 3;
  double mag;
  if (e == 31) {
    mag = m == 0 ? INFINITY : NAN;
  } else {
    mag = e == 0 ? (m / 4.0) * std::pow(2.0, -14) : (1 + m / 4.0) * std::pow(2.0, e - 15);
  }
  return sign ? -mag : mag;
}

TEST(HfDType, E5M2MatchesItsDefinition) {
  for (int v = 0; v < 256; ++v) {
    SCOPED_TRACE(v);
    const double want = E5M2ByDefinition(static_cast<uint8_t>(v));
    const float got = DecodeE5M2(static_cast<uint8_t>(v));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got));
    } else {
      EXPECT_EQ(static_cast<double>(got), want);
    }
  }
  // Anchors from the OCP FP8 specification's table.
  EXPECT_EQ(DecodeE5M2(0x7B), 57344.0f);  // the largest finite
  EXPECT_EQ(DecodeE5M2(0x3C), 1.0f);
  EXPECT_EQ(DecodeE5M2(0x04), 6.103515625e-05f);    // 2^-14, the smallest normal
  EXPECT_EQ(DecodeE5M2(0x01), 1.52587890625e-05f);  // 2^-16, the smallest subnormal
  EXPECT_TRUE(std::isinf(DecodeE5M2(0x7C)));
  EXPECT_TRUE(std::isinf(DecodeE5M2(0xFC)) && DecodeE5M2(0xFC) < 0);
  EXPECT_TRUE(std::isnan(DecodeE5M2(0x7D)));
}

TEST(HfDType, SafetensorsSizes) {
  EXPECT_EQ(SafetensorsDTypeSize("F32"), 4u);
  EXPECT_EQ(SafetensorsDTypeSize("BF16"), 2u);
  EXPECT_EQ(SafetensorsDTypeSize("F8_E4M3"), 1u);
  EXPECT_EQ(SafetensorsDTypeSize("I64"), 8u);
  EXPECT_FALSE(SafetensorsDTypeSize("F12"));
}

// A tiny qwen3 checkpoint: hidden 8, 1 layer, 2 heads of 4, 1 kv head, FFN 8, vocab 4, tied.
class TinyCheckpoint {
 public:
  TinyCheckpoint() {
    dir_ = fs::temp_directory_path() /
           ("llmux_hf_import_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    auto set = [&](const char* k, int64_t v) { ck.config.values[k] = {HfScalar::Kind::kInt, v}; };
    ck.config.values["architectures.0"] = {HfScalar::Kind::kString, 0, 0, false,
                                           "Qwen3ForCausalLM"};
    set("hidden_size", 8);
    set("num_hidden_layers", 1);
    set("num_attention_heads", 2);
    set("num_key_value_heads", 1);
    set("head_dim", 4);
    set("intermediate_size", 8);
    set("vocab_size", 4);
    ck.config.values["tie_word_embeddings"] = {HfScalar::Kind::kBool, 0, 0, true};
    ck.dir = dir_.string();
    HfTokenizer tok;
    tok.vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"d", 3}};
    ck.tokenizer = tok;
    const std::pair<const char*, std::vector<int64_t>> tensors[] = {
        {"model.embed_tokens.weight", {4, 8}},
        {"model.norm.weight", {8}},
        {"model.layers.0.input_layernorm.weight", {8}},
        {"model.layers.0.post_attention_layernorm.weight", {8}},
        {"model.layers.0.self_attn.q_proj.weight", {8, 8}},
        {"model.layers.0.self_attn.k_proj.weight", {4, 8}},
        {"model.layers.0.self_attn.v_proj.weight", {4, 8}},
        {"model.layers.0.self_attn.o_proj.weight", {8, 8}},
        {"model.layers.0.self_attn.q_norm.weight", {4}},
        {"model.layers.0.self_attn.k_norm.weight", {4}},
        {"model.layers.0.mlp.gate_proj.weight", {8, 8}},
        {"model.layers.0.mlp.up_proj.weight", {8, 8}},
        {"model.layers.0.mlp.down_proj.weight", {8, 8}},
    };
    for (const auto& [name, shape] : tensors) {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      std::vector<float> v(static_cast<size_t>(n));
      for (size_t i = 0; i < v.size(); ++i) v[i] = 0.01f * static_cast<float>(i % 17) - 0.05f;
      Add(name, "F32", shape, std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
    }
  }
  ~TinyCheckpoint() { fs::remove_all(dir_); }

  // Appends a tensor's bytes to the data file.
  void Add(const std::string& name, const std::string& dtype, std::vector<int64_t> shape,
           const std::string& bytes) {
    const std::string file = (dir_ / "data.bin").string();
    std::ofstream(file, std::ios::binary | std::ios::app)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    HfTensor t{name, dtype, std::move(shape), file, size_, bytes.size()};
    size_ += bytes.size();
    for (auto& old : ck.tensors) {
      if (old.name == name) {
        old = t;
        return;
      }
    }
    ck.tensors.push_back(std::move(t));
  }
  void Remove(const std::string& name) {
    std::erase_if(ck.tensors, [&](const HfTensor& t) { return t.name == name; });
  }
  std::string Out() const { return (dir_ / "out.gguf").string(); }

  Result<HfImportSummary> Import(HfImportOptions o = {}) {
    ThreadPool pool(1);
    return ImportHfCheckpoint(ck, Out(), pool, o);
  }

  HfCheckpoint ck;

 private:
  fs::path dir_;
  uint64_t size_ = 0;
};

TEST(HfImport, Fp8WeightsAreDequantizedWithTheirBlockScales) {
  TinyCheckpoint c;
  // Blocks of 3 x 5 over an 8 x 8 weight: a 3 x 2 grid with partial blocks at the edges.
  c.ck.config.values["quantization_config.weight_block_size.0"] = {HfScalar::Kind::kInt, 3};
  c.ck.config.values["quantization_config.weight_block_size.1"] = {HfScalar::Kind::kInt, 5};
  std::string q(64, '\0');
  const uint8_t special[] = {0x00, 0x80, 0x01, 0x07, 0x08, 0x7E, 0xFE, 0x38, 0xB8, 0x77};
  for (size_t i = 0; i < q.size(); ++i) {
    uint8_t b = i < sizeof(special) ? special[i] : static_cast<uint8_t>((i * 37 + 11) % 256);
    if ((b & 0x7F) == 0x7F) b = 0x30;  // keep NaN out of a weight
    q[i] = static_cast<char>(b);
  }
  const std::vector<float> scale = {0.5f, 2.0f, 0.25f, 1.0f, 3.0f, 0.125f};  // 3 x 2
  c.Add("model.layers.0.self_attn.q_proj.weight", "F8_E4M3", {8, 8}, q);
  c.Add("model.layers.0.self_attn.q_proj.weight_scale_inv", "F32", {3, 2},
        std::string(reinterpret_cast<const char*>(scale.data()), scale.size() * 4));
  auto r = c.Import();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->target, QuantizeTarget::kF32);  // the embedding is F32
  auto f = gguf::GgufFile::Open(c.Out());
  ASSERT_TRUE(f.ok());
  const gguf::TensorInfo* t = (*f)->FindTensor("blk.0.attn_q.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, DType::kF32);
  EXPECT_EQ(t->ne, (std::vector<int64_t>{8, 8}));
  EXPECT_EQ((*f)->FindTensor("blk.0.attn_q.weight_scale_inv"), nullptr);
  EXPECT_EQ((*f)->tensors().size(), 13u);  // the 13 weights: no output.weight (tied), no scale
  const float* got = reinterpret_cast<const float*>(t->data);
  for (int r = 0; r < 8; ++r) {
    for (int col = 0; col < 8; ++col) {
      const double want =
          E4M3ByDefinition(static_cast<uint8_t>(q[r * 8 + col])) * scale[(r / 3) * 2 + col / 5];
      EXPECT_EQ(static_cast<double>(got[r * 8 + col]), want) << r << "," << col;
    }
  }
}

TEST(HfImport, E5M2WeightsAreDequantizedWithTheirBlockScales) {
  TinyCheckpoint c;
  c.ck.config.values["quantization_config.weight_block_size.0"] = {HfScalar::Kind::kInt, 4};
  c.ck.config.values["quantization_config.weight_block_size.1"] = {HfScalar::Kind::kInt, 4};
  std::string q(64, '\0');
  for (size_t i = 0; i < q.size(); ++i) {
    uint8_t b = static_cast<uint8_t>((i * 53 + 7) % 256);
    if ((b & 0x7C) == 0x7C) b = 0x3D;  // keep infinities and NaN out of a weight
    q[i] = static_cast<char>(b);
  }
  const std::vector<float> scale = {0.5f, 2.0f, 0.25f, 4.0f};  // 2 x 2
  c.Add("model.layers.0.self_attn.q_proj.weight", "F8_E5M2", {8, 8}, q);
  c.Add("model.layers.0.self_attn.q_proj.weight_scale_inv", "F32", {2, 2},
        std::string(reinterpret_cast<const char*>(scale.data()), scale.size() * 4));
  auto r = c.Import();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto f = gguf::GgufFile::Open(c.Out());
  ASSERT_TRUE(f.ok());
  const gguf::TensorInfo* t = (*f)->FindTensor("blk.0.attn_q.weight");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->type, DType::kF32);
  const float* got = reinterpret_cast<const float*>(t->data);
  for (int r = 0; r < 8; ++r) {
    for (int col = 0; col < 8; ++col) {
      const double want =
          E5M2ByDefinition(static_cast<uint8_t>(q[r * 8 + col])) * scale[(r / 4) * 2 + col / 4];
      EXPECT_EQ(static_cast<double>(got[r * 8 + col]), want) << r << "," << col;
    }
  }
}

TEST(HfImport, HalfPrecisionWeightsKeepTheirType) {
  TinyCheckpoint c;
  // BF16 and F16 encodings of 1.5 and -0.25 (and so on) written by hand.
  std::string bf16, f16;
  const uint16_t bf[] = {0x3FC0 /*1.5*/, 0xBE80 /*-0.25*/};
  const uint16_t hf[] = {0x3E00 /*1.5*/, 0xB400 /*-0.25*/};
  for (int i = 0; i < 32; ++i) {
    bf16.append(reinterpret_cast<const char*>(&bf[i % 2]), 2);
    f16.append(reinterpret_cast<const char*>(&hf[i % 2]), 2);
  }
  c.Add("model.embed_tokens.weight", "BF16", {4, 8}, bf16);
  c.Add("model.layers.0.self_attn.k_proj.weight", "F16", {4, 8}, f16);
  auto r = c.Import();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->target, QuantizeTarget::kBF16);  // from the embedding
  auto f = gguf::GgufFile::Open(c.Out());
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->GetInt("general.file_type"), 32);
  const gguf::TensorInfo* k = (*f)->FindTensor("blk.0.attn_k.weight");
  ASSERT_EQ(k->type, DType::kBF16);
  const uint16_t* kv = reinterpret_cast<const uint16_t*>(k->data);
  EXPECT_EQ(kv[0], 0x3FC0);
  EXPECT_EQ(kv[1], 0xBE80);
  EXPECT_EQ((*f)->FindTensor("blk.0.attn_norm.weight")->type, DType::kF32);  // 1-D stays F32
}

TEST(HfImport, MissingTensorIsNamed) {
  TinyCheckpoint c;
  c.Remove("model.layers.0.self_attn.k_proj.weight");
  auto r = c.Import();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("missing tensor 'model.layers.0.self_attn.k_proj.weight'"),
            std::string::npos)
      << r.status().message();
  EXPECT_FALSE(fs::exists(c.Out()));
}

TEST(HfImport, UnsupportedArchitectureIsNamed) {
  TinyCheckpoint c;
  c.ck.config.values["architectures.0"].s = "MistralForCausalLM";
  auto r = c.Import();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "unsupported architecture 'MistralForCausalLM' (config.json architectures[0]); "
            "supported: LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, "
            "Qwen3MoeForCausalLM, DeepseekV3ForCausalLM");
}

TEST(HfImport, OtherRefusals) {
  {
    TinyCheckpoint c;
    c.Add("model.layers.0.self_attn.q_proj.weight", "F8_E4M3", {8, 8}, std::string(64, '\x38'));
    auto r = c.Import();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(
                  "is F8_E4M3 but 'model.layers.0.self_attn.q_proj.weight_scale_inv' is missing"),
              std::string::npos)
        << r.status().message();
  }
  {
    TinyCheckpoint c;
    c.Add("model.layers.0.mlp.mystery.weight", "F32", {2}, std::string(8, '\0'));
    auto r = c.Import();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("tensor 'model.layers.0.mlp.mystery.weight' in '"),
              std::string::npos);
    EXPECT_NE(r.status().message().find("has no GGUF name for architecture qwen3"),
              std::string::npos);
  }
  {
    TinyCheckpoint c;
    c.Add("model.layers.0.self_attn.k_proj.weight", "I64", {4, 8}, std::string(256, '\0'));
    auto r = c.Import();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(
                  "has dtype I64; only F32, F16, BF16, F8_E4M3 and F8_E5M2 weights are imported"),
              std::string::npos)
        << r.status().message();
  }
}

// Llama 3.1-8B's rope (theta 500000, head_dim 128, factor 8, low/high 1/4 over 8192 positions):
// pair i has wavelength 2*pi*500000^(i/64). It is below 8192/4 for i <= 28 (ln(2048/2pi) /
// ln(500000) * 64 = 28.2), so those keep 1; above 8192 for i >= 35 (34.98), so those get 8;
// the six between are blended and grow with i.
TEST(HfImport, Llama3RopeFactorsFollowTheWavelengthBands) {
  HfConfig c;
  auto num = [&](const char* k, double v) { c.values[k] = {HfScalar::Kind::kFloat, 0, v}; };
  c.values["rope_scaling.rope_type"] = {HfScalar::Kind::kString, 0, 0, false, "llama3"};
  num("rope_theta", 500000);
  num("rope_scaling.factor", 8);
  num("rope_scaling.low_freq_factor", 1);
  num("rope_scaling.high_freq_factor", 4);
  num("rope_scaling.original_max_position_embeddings", 8192);
  c.values["hidden_size"] = {HfScalar::Kind::kInt, 4096};
  HfModelShape s;
  s.arch = "llama";
  s.n_head = 32;
  const std::vector<float> f = Llama3RopeFactors(c, s);
  ASSERT_EQ(f.size(), 64u);
  for (int i = 0; i <= 28; ++i) EXPECT_EQ(f[i], 1.0f) << i;
  for (int i = 35; i < 64; ++i) EXPECT_EQ(f[i], 8.0f) << i;
  for (int i = 29; i <= 34; ++i) {
    EXPECT_GT(f[i], f[i - 1]) << i;
    EXPECT_LT(f[i], 8.0f) << i;
  }
  // Not llama 3's rope, or not llama: no factors.
  c.values["rope_scaling.rope_type"].s = "linear";
  EXPECT_TRUE(Llama3RopeFactors(c, s).empty());
  c.values["rope_scaling.rope_type"].s = "llama3";
  s.arch = "qwen2";
  EXPECT_TRUE(Llama3RopeFactors(c, s).empty());
}

// The tiny checkpoint as llama with llama 3's rope over 64 positions: head_dim 4 gives pairs of
// wavelength 2*pi (below 64/4: factor 1) and 200*pi (above 64: factor 8), written as
// rope_freqs.weight; without the rope type there is no such tensor.
TEST(HfImport, Llama3RopeWritesRopeFreqs) {
  TinyCheckpoint c;
  c.ck.config.values["architectures.0"].s = "LlamaForCausalLM";
  c.Remove("model.layers.0.self_attn.q_norm.weight");
  c.Remove("model.layers.0.self_attn.k_norm.weight");
  auto r = c.Import();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  {
    auto f = gguf::GgufFile::Open(c.Out());
    ASSERT_TRUE(f.ok());
    EXPECT_EQ((*f)->FindTensor("rope_freqs.weight"), nullptr);
  }
  c.ck.config.values["rope_scaling.rope_type"] = {HfScalar::Kind::kString, 0, 0, false, "llama3"};
  c.ck.config.values["rope_scaling.factor"] = {HfScalar::Kind::kFloat, 0, 8.0};
  c.ck.config.values["rope_scaling.original_max_position_embeddings"] = {HfScalar::Kind::kInt, 64};
  r = c.Import();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto f = gguf::GgufFile::Open(c.Out());
  ASSERT_TRUE(f.ok());
  const gguf::TensorInfo* t = (*f)->FindTensor("rope_freqs.weight");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->ne, (std::vector<int64_t>{2}));
  ASSERT_EQ(t->type, DType::kF32);
  float v[2];
  std::memcpy(v, t->data, sizeof v);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], 8.0f);
}

}  // namespace
}  // namespace llmux::convert
