#include "engine/convert/quantize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>

#include "engine/convert/row_convert.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/backend/cpu/kernels/blocks.h"
#include "engine/backend/cpu/kernels/half.h"
#include "engine/backend/cpu/kernels/kernels.h"
#include "tests/support/test_paths.h"

namespace llmux::convert {
namespace {

const std::string kModels = llmux::testing::SharedDir() + "/models/";

std::string TempPath(const std::string& name) {
  return llmux::testing::BinaryDir() + "/convert_quantize_test_" + name;
}

std::vector<uint8_t> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::vector<float> Dequantize(const gguf::TensorInfo& t) {
  const int64_t ne0 = t.ne[0];
  const int64_t rows = t.n_elements() / ne0;
  const size_t row_bytes = *RowBytes(t.type, ne0);
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  for (int64_t r = 0; r < rows; ++r) {
    kernels::DequantizeRow(t.type, t.data + r * row_bytes, out.data() + r * ne0, ne0);
  }
  return out;
}

// Root-mean-square error relative to the RMS of the reference.
double RelativeRmsError(const std::vector<float>& ref, const std::vector<float>& got) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err += (ref[i] - got[i]) * double(ref[i] - got[i]);
    norm += ref[i] * double(ref[i]);
  }
  return std::sqrt(err / std::max(norm, 1e-30));
}

// Expected relative RMS error of each encoding for Gaussian-like weights, from the step sizes:
// 16-bit floats keep 11 (F16) or 8 (BF16) significant bits; block formats scale a block by its
// largest value over 2^(bits-1) levels, about 2.5 sigma / 127 for Q8_0 and / 8 for 4-bit types.
double ErrorBound(DType t) {
  switch (t) {
    case DType::kF32: return 0;
    case DType::kF16: return 1e-3;
    case DType::kBF16: return 6e-3;
    case DType::kQ8_0: return 1.2e-2;
    case DType::kQ6_K: return 4e-2;
    case DType::kQ5_0: return 8e-2;
    case DType::kQ4_K: return 1.3e-1;
    case DType::kQ4_0: return 1.6e-1;
    default: return 1;
  }
}

// Byte-for-byte equal to llama.cpp's llama-quantize output (same rules, same tensor order, same
// reference quantizers): qwen3-mini-q8_0 and qwen3-mini-q4_0 (--pure) from qwen3-mini-f32.
TEST(QuantizeModel, MatchesLlamaQuantize) {
  auto f32 = gguf::GgufFile::Open(kModels + "qwen3-mini-f32.gguf");
  ASSERT_TRUE(f32.ok());
  ThreadPool pool(2);
  struct Case {
    QuantizeTarget target;
    bool pure;
    const char* reference;
  };
  for (const Case& c : {Case{QuantizeTarget::kQ8_0, false, "qwen3-mini-q8_0.gguf"},
                        Case{QuantizeTarget::kQ4_0, true, "qwen3-mini-q4_0.gguf"}}) {
    const std::string out = TempPath(c.reference);
    QuantizeOptions opt;
    opt.pure = c.pure;
    Status s = QuantizeModel(**f32, out, c.target, pool, opt);
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto ours = gguf::GgufFile::Open(out);
    auto ref = gguf::GgufFile::Open(kModels + c.reference);
    ASSERT_TRUE(ours.ok() && ref.ok());
    ASSERT_EQ((*ours)->metadata().size(), (*ref)->metadata().size());
    for (size_t i = 0; i < (*ref)->metadata().size(); ++i) {
      EXPECT_EQ((*ours)->metadata()[i].key, (*ref)->metadata()[i].key);
      EXPECT_TRUE((*ours)->metadata()[i].value == (*ref)->metadata()[i].value)
          << (*ref)->metadata()[i].key;
    }
    ASSERT_EQ((*ours)->tensors().size(), (*ref)->tensors().size());
    for (size_t i = 0; i < (*ref)->tensors().size(); ++i) {
      const auto& a = (*ours)->tensors()[i];
      const auto& b = (*ref)->tensors()[i];
      EXPECT_EQ(a.name, b.name);
      EXPECT_EQ(a.type, b.type) << b.name;
      ASSERT_EQ(a.nbytes, b.nbytes) << b.name;
      EXPECT_EQ(0, std::memcmp(a.data, b.data, a.nbytes)) << b.name << " differs";
    }
    EXPECT_TRUE(ReadWholeFile(out) == ReadWholeFile(kModels + c.reference)) << c.reference;
    std::remove(out.c_str());
  }
}

class QuantizeStories : public ::testing::TestWithParam<QuantizeTarget> {};

TEST_P(QuantizeStories, LoadsBackClose) {
  const QuantizeTarget target = GetParam();
  auto in = gguf::GgufFile::Open(kModels + "stories260K.gguf");
  ASSERT_TRUE(in.ok());
  ThreadPool pool(2);
  const std::string path = TempPath(std::string("stories_") + QuantizeTargetName(target) + ".gguf");
  Status s = QuantizeModel(**in, path, target, pool);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto out = gguf::GgufFile::Open(path);
  ASSERT_TRUE(out.ok()) << out.status().ToString();

  // Metadata: every original key and value, plus file type and quantization version.
  for (const auto& e : (*in)->metadata()) {
    const gguf::Value* v = (*out)->Find(e.key);
    ASSERT_NE(v, nullptr) << e.key;
    EXPECT_TRUE(*v == e.value) << e.key;
  }
  EXPECT_EQ((*out)->metadata().size(), (*in)->metadata().size() + 2);
  EXPECT_EQ((*out)->GetInt("general.file_type"), FileTypeOf(target));
  EXPECT_EQ((*out)->GetInt("general.quantization_version"), 2);

  // Expected types, worked out by hand from the rules: rows are 64 wide (172 for ffn_down), so
  // no K-quant fits, and 172 is not a multiple of 32 either.
  ASSERT_EQ((*out)->tensors().size(), 48u);
  std::map<DType, int> counts;
  for (const auto& t : (*out)->tensors()) {
    const gguf::TensorInfo* src = (*in)->FindTensor(t.name);
    ASSERT_NE(src, nullptr);
    EXPECT_EQ(t.ne, src->ne);
    counts[t.type]++;
    if (t.ne.size() == 1) {
      EXPECT_EQ(t.type, DType::kF32) << t.name;
      EXPECT_EQ(0, std::memcmp(t.data, src->data, src->nbytes));
      continue;
    }
    const bool ffn_down = t.name.find("ffn_down") != std::string::npos;
    const int layer = LayerOf(t.name);
    DType want = DType::kF32;
    switch (target) {
      case QuantizeTarget::kF32: want = DType::kF32; break;
      case QuantizeTarget::kF16: want = DType::kF16; break;
      case QuantizeTarget::kBF16: want = DType::kBF16; break;
      case QuantizeTarget::kQ8_0: want = ffn_down ? DType::kF16 : DType::kQ8_0; break;
      case QuantizeTarget::kQ4_0:
        want = ffn_down ? DType::kF16 : t.name == "output.weight" ? DType::kQ8_0 : DType::kQ4_0;
        break;
      case QuantizeTarget::kQ4_K_M: {
        // 5 layers: more bits for layers 2 and 4; Q6_K -> Q8_0 and Q4_K -> Q5_0 on 64-wide rows.
        bool more = layer == 2 || layer == 4;
        if (ffn_down) {
          want = DType::kF16;
        } else if (t.name == "output.weight" || (more && t.name.find("attn_v") != std::string::npos)) {
          want = DType::kQ8_0;
        } else {
          want = DType::kQ5_0;
        }
        break;
      }
    }
    EXPECT_EQ(t.type, want) << t.name;
    double err = RelativeRmsError(Dequantize(*src), Dequantize(t));
    EXPECT_LE(err, ErrorBound(t.type)) << t.name << " as " << Traits(t.type).name;
    if (t.type != DType::kF32) {
      EXPECT_GT(err, 0.0) << t.name;
    }
  }
  std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Targets, QuantizeStories,
                         ::testing::Values(QuantizeTarget::kF32, QuantizeTarget::kF16,
                                           QuantizeTarget::kBF16, QuantizeTarget::kQ8_0,
                                           QuantizeTarget::kQ4_0, QuantizeTarget::kQ4_K_M),
                         [](const auto& info) { return std::string(QuantizeTargetName(info.param)); });

// Re-quantizing an already quantized model goes through F32; tensors that keep their type are
// copied unchanged.
TEST(QuantizeModel, FromQuantizedSource) {
  auto in = gguf::GgufFile::Open(kModels + "qwen3-mini-q8_0.gguf");
  ASSERT_TRUE(in.ok());
  ThreadPool pool(2);
  const std::string path = TempPath("q8_to_q4_0.gguf");
  ASSERT_TRUE(QuantizeModel(**in, path, QuantizeTarget::kQ4_0, pool).ok());
  auto out = gguf::GgufFile::Open(path);
  ASSERT_TRUE(out.ok());
  const gguf::TensorInfo* q = (*out)->FindTensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, DType::kQ4_0);
  EXPECT_LE(RelativeRmsError(Dequantize(*(*in)->FindTensor("blk.0.attn_q.weight")), Dequantize(*q)),
            ErrorBound(DType::kQ4_0));
  // The tied embedding keeps Q8_0 (output rule) and is copied byte for byte.
  const gguf::TensorInfo* emb = (*out)->FindTensor("token_embd.weight");
  ASSERT_EQ(emb->type, DType::kQ8_0);
  EXPECT_EQ(0, std::memcmp(emb->data, (*in)->FindTensor("token_embd.weight")->data, emb->nbytes));
  EXPECT_EQ((*out)->GetInt("general.file_type"), 2);
  std::remove(path.c_str());
}

// Progress is reported once per tensor, copied ones included, and ends at the file's totals.
TEST(QuantizeModel, ReportsProgressPerTensor) {
  auto in = gguf::GgufFile::Open(kModels + "qwen3-mini-q8_0.gguf");
  ASSERT_TRUE(in.ok());
  ThreadPool pool(2);
  const std::string path = TempPath("progress.gguf");
  std::vector<ConvertProgress> seen;
  ASSERT_TRUE(QuantizeModel(**in, path, QuantizeTarget::kQ4_0, pool, {},
                            [&](const ConvertProgress& p) { seen.push_back(p); })
                  .ok());
  auto out = gguf::GgufFile::Open(path);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(seen.size(), (*in)->tensors().size());
  uint64_t data_bytes = 0;
  for (const auto& t : (*out)->tensors()) data_bytes += t.nbytes;
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].tensors_done, static_cast<int64_t>(i + 1));
    EXPECT_EQ(seen[i].tensors_total, static_cast<int64_t>(seen.size()));
    EXPECT_EQ(seen[i].bytes_total, data_bytes);
  }
  EXPECT_EQ(seen.back().bytes_done, data_bytes);
  std::remove(path.c_str());
}

TEST(QuantizeModel, MoEModel) {
  auto in = gguf::GgufFile::Open(kModels + "qwen3moe-mini-q8_0.gguf");
  ASSERT_TRUE(in.ok());
  ThreadPool pool(2);
  const std::string path = TempPath("moe_q4_0.gguf");
  ASSERT_TRUE(QuantizeModel(**in, path, QuantizeTarget::kQ4_0, pool).ok());
  auto out = gguf::GgufFile::Open(path);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)->FindTensor("blk.0.ffn_gate_inp.weight")->type, DType::kF32);
  const gguf::TensorInfo* exps = (*out)->FindTensor("blk.0.ffn_up_exps.weight");
  EXPECT_EQ(exps->type, DType::kQ4_0);
  EXPECT_EQ(exps->ne, (std::vector<int64_t>{64, 64, 8}));
  EXPECT_LE(RelativeRmsError(Dequantize(*(*in)->FindTensor("blk.0.ffn_up_exps.weight")),
                             Dequantize(*exps)),
            ErrorBound(DType::kQ4_0));
  EXPECT_EQ((*out)->FindTensor("blk.1.attn_v.weight")->type, DType::kQ8_0);  // 8 experts
  EXPECT_EQ((*out)->FindTensor("blk.1.attn_k.weight")->type, DType::kQ8_0);
  EXPECT_EQ((*out)->FindTensor("blk.1.attn_q.weight")->type, DType::kQ4_0);
  std::remove(path.c_str());
}

TEST(QuantizeModel, RefusesUndecodableSource) {
  // A Q4_1 matrix: a valid GGUF type that our kernels cannot decode.
  std::vector<uint8_t> q41(2 * 20, 0);
  gguf::GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.AddTensor("blk.0.attn_q.weight", DType::kQ4_1, {32, 2}, q41.data(), q41.size());
  const std::string src = TempPath("q4_1_src.gguf");
  ASSERT_TRUE(w.Write(src).ok());
  auto in = gguf::GgufFile::Open(src);
  ASSERT_TRUE(in.ok());
  ThreadPool pool(1);
  const std::string dst = TempPath("q4_1_dst.gguf");
  Status s = QuantizeModel(**in, dst, QuantizeTarget::kQ8_0, pool);
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("q4_1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("blk.0.attn_q.weight"), std::string::npos);
  EXPECT_FALSE(std::ifstream(dst).good());
  std::remove(src.c_str());
}


// llama.cpp's llama-quantize wrote qwen3-kmini-q4_k_m.gguf (Q4_K, Q6_K, Q5_0 and Q8_0 tensors,
// from an F32 file we do not have). Decoding one of its tensors and encoding the values again
// with our quantizer (FillRows, the path of `llmux quantize`) must give llama.cpp's blocks back
// wherever its search is idempotent: the values lie on llama.cpp's grid, so the same search
// finds the same scales and codes. Where the search is not idempotent on its own output, it
// settles on another encoding of (nearly) the same values:
//  * Q6_K: a sub-block whose largest |value| is tied between a positive and a negative code
//    flips the sign of its scale and codes (first-on-ties, as in ggml): the same values.
//  * Q4_K: a sub-block whose llama.cpp codes do not span 0..15 cannot be refitted to the same
//    grid (the scale search tries 14 to 16 levels over the value range), so its 6-bit scale
//    and min move, and with them the whole block's when it held the largest scale.
// Measured: Q8_0 and Q5_0 10,240/10,240 blocks identical; Q6_K 100/128 (the other 28 decode
// to identical values); Q4_K 155,841/155,904, each of the other 63 with a sub-block whose
// codes do not span 0..15, and within 0.4 of llama.cpp's step of each value.
struct RequantizeStats {
  int64_t blocks = 0, identical = 0;
  int64_t unexplained = 0;    // Q4_K blocks that differ although every sub-block spans 0..15
  double max_abs_diff = 0;    // between the decoded values of the two encodings
  double max_step_diff = 0;   // Q4_K: the same, in units of llama.cpp's step d * sc
};

// Q4_K: whether every sub-block's codes span 0..15, and each sub-block's step d * sc.
bool SpansAllCodes(const kernels::BlockQ4_K& b, float steps[8]) {
  bool all = true;
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    kernels::Q4KScaleMin(j, b.scales, &sc, &m);
    steps[j] = kernels::F16ToF32(b.d) * sc;
    int lo = 15, hi = 0;
    for (int l = 0; l < 32; ++l) {
      const uint8_t byte = b.qs[(j / 2) * 32 + l];
      const int q = j % 2 ? byte >> 4 : byte & 0xF;
      lo = std::min(lo, q);
      hi = std::max(hi, q);
    }
    all = all && lo == 0 && hi == 15;
  }
  return all;
}

RequantizeStats Requantize(const gguf::TensorInfo& t, ThreadPool& pool) {
  const int64_t ne0 = t.ne[0], rows = t.n_elements() / ne0;
  const size_t row_bytes = *RowBytes(t.type, ne0);
  std::vector<uint8_t> ours(t.nbytes);
  const Status s = FillRows(t.type, ours.data(), ne0, rows, pool, [&](int64_t r, float* out) {
    kernels::DequantizeRow(t.type, t.data + r * row_bytes, out, ne0);
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  RequantizeStats st;
  const size_t block_bytes = Traits(t.type).block_bytes;
  const int64_t block_size = Traits(t.type).block_size;
  std::vector<float> a(block_size), b(block_size);
  for (size_t off = 0; off < t.nbytes; off += block_bytes) {
    ++st.blocks;
    if (std::memcmp(t.data + off, ours.data() + off, block_bytes) == 0) {
      ++st.identical;
      continue;
    }
    kernels::DequantizeRow(t.type, t.data + off, a.data(), block_size);
    kernels::DequantizeRow(t.type, ours.data() + off, b.data(), block_size);
    float steps[8] = {};
    if (t.type == DType::kQ4_K &&
        SpansAllCodes(*reinterpret_cast<const kernels::BlockQ4_K*>(t.data + off), steps)) {
      ++st.unexplained;
    }
    for (int64_t i = 0; i < block_size; ++i) {
      const double d = std::abs(static_cast<double>(a[i]) - b[i]);
      st.max_abs_diff = std::max(st.max_abs_diff, d);
      if (t.type == DType::kQ4_K && d > 0) {
        st.max_step_diff = std::max(st.max_step_diff, steps[i / 32] > 0 ? d / steps[i / 32] : 1e9);
      }
    }
  }
  return st;
}

TEST(QuantizeRows, ReencodesLlamaQuantizeTensors) {
  auto in = gguf::GgufFile::Open(kModels + "qwen3-kmini-q4_k_m.gguf");
  ASSERT_TRUE(in.ok());
  ThreadPool pool(2);
  std::map<DType, RequantizeStats> per_type;
  for (const auto& t : (*in)->tensors()) {
    if (t.type == DType::kF32) continue;
    const RequantizeStats st = Requantize(t, pool);
    RequantizeStats& all = per_type[t.type];
    all.blocks += st.blocks;
    all.identical += st.identical;
    all.unexplained += st.unexplained;
    all.max_abs_diff = std::max(all.max_abs_diff, st.max_abs_diff);
    all.max_step_diff = std::max(all.max_step_diff, st.max_step_diff);
  }
  ASSERT_EQ(per_type.size(), 4u);
  for (DType type : {DType::kQ8_0, DType::kQ5_0}) {
    EXPECT_EQ(per_type[type].blocks, 5120) << Traits(type).name;
    EXPECT_EQ(per_type[type].identical, per_type[type].blocks) << Traits(type).name;
  }
  const RequantizeStats& q6 = per_type[DType::kQ6_K];
  EXPECT_EQ(q6.blocks, 128);
  EXPECT_GE(q6.identical, q6.blocks * 3 / 4);
  EXPECT_EQ(q6.max_abs_diff, 0.0) << "a Q6_K block decodes to other values";
  const RequantizeStats& q4 = per_type[DType::kQ4_K];
  EXPECT_EQ(q4.blocks, 155904);
  EXPECT_GE(q4.identical, q4.blocks - q4.blocks / 1000) << "more than 0.1% of Q4_K blocks differ";
  EXPECT_EQ(q4.unexplained, 0) << "Q4_K blocks on a grid the search can reproduce differ";
  EXPECT_LE(q4.max_step_diff, 0.5);
}

}  // namespace
}  // namespace llmux::convert
