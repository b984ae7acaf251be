// Real tensors from the shared test models (written by llama.cpp's llama-quantize):
//  * Q8_0 / Q4_0 tensors must be exactly what our reference quantizers make from the F32
//    model's weights (ggml's quantize_row_*_ref is deterministic and so is ours);
//  * every quantized matrix of every file decodes to plausible values, and MatMul on it
//    agrees with the scalar reference dot on every ISA.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.h"
#include "engine/backend/cpu/kernels/kernel_set.h"
#include "engine/backend/cpu/kernels/ref_kernels.h"
#include "engine/backend/cpu/kernels/test_util.h"
#include "engine/backend/cpu/kernels/kernels.h"
#include "tests/support/test_paths.h"

namespace llmux::kernels {
namespace {

using testing::RandomNormal;
using testing::SupportedIsas;

std::string ModelPath(const char* name) {
  return llmux::testing::SharedDir() + "/models/" + name;
}

// The shared models are always there (CI has ../shared): a missing file is a failure.
std::unique_ptr<gguf::GgufFile> OpenShared(const char* name) {
  auto f = gguf::GgufFile::Open(ModelPath(name));
  EXPECT_TRUE(f.ok()) << ModelPath(name) << ": " << f.status().ToString();
  if (!f.ok()) return nullptr;
  return std::move(*f);
}

int64_t Rows(const gguf::TensorInfo& t) {
  int64_t rows = 1;
  for (size_t i = 1; i < t.ne.size(); ++i) rows *= t.ne[i];
  return rows;
}

TEST(GgufTensorsTest, QuantizersReproduceLlamaQuantizeBitForBit) {
  auto f32 = OpenShared("qwen3-mini-f32.gguf");
  ASSERT_NE(f32, nullptr);
  for (const char* name : {"qwen3-mini-q8_0.gguf", "qwen3-mini-q4_0.gguf"}) {
    auto q = OpenShared(name);
    ASSERT_NE(q, nullptr) << name;
    int checked = 0;
    for (const auto& t : q->tensors()) {
      if (t.type != DType::kQ8_0 && t.type != DType::kQ4_0) continue;
      const gguf::TensorInfo* src = f32->FindTensor(t.name);
      ASSERT_NE(src, nullptr) << t.name;
      ASSERT_EQ(src->type, DType::kF32);
      ASSERT_EQ(src->ne, t.ne);
      const int64_t cols = t.ne[0], rows = Rows(t);
      const size_t row_bytes = *RowBytes(t.type, cols);
      std::vector<uint8_t> mine(row_bytes);
      std::vector<float> x(static_cast<size_t>(cols));
      for (int64_t r = 0; r < rows; ++r) {
        std::memcpy(x.data(), src->data + r * cols * 4, static_cast<size_t>(cols) * 4);
        ASSERT_TRUE(QuantizeRow(t.type, x.data(), mine.data(), cols).ok());
        ASSERT_EQ(std::memcmp(mine.data(), t.data + r * row_bytes, row_bytes), 0)
            << name << " " << t.name << " row " << r;
      }
      ++checked;
    }
    EXPECT_GE(checked, 15) << name;
  }
}

TEST(GgufTensorsTest, DequantizedTensorsMatchF32Source) {
  auto f32 = OpenShared("qwen3-mini-f32.gguf");
  auto q = OpenShared("qwen3-mini-q4_0.gguf");
  ASSERT_TRUE(f32 && q);
  for (const auto& t : q->tensors()) {
    if (t.type != DType::kQ4_0) continue;
    const gguf::TensorInfo* src = f32->FindTensor(t.name);
    ASSERT_NE(src, nullptr);
    const int64_t cols = t.ne[0];
    const size_t row_bytes = *RowBytes(t.type, cols);
    std::vector<float> y(static_cast<size_t>(cols));
    for (int64_t r = 0; r < std::min<int64_t>(Rows(t), 64); ++r) {
      DequantizeRow(t.type, t.data + r * row_bytes, y.data(), cols);
      const float* x = reinterpret_cast<const float*>(src->data) + r * cols;
      for (int64_t b = 0; b < cols / 32; ++b) {
        float amax = 0;
        for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
        for (int i = 0; i < 32; ++i) {
          // Q4_0 step is amax/8; the worst case (a clamped +8) is one step.
          ASSERT_LE(std::fabs(y[b * 32 + i] - x[b * 32 + i]), amax / 8 * 1.01f + 1e-7f) << t.name;
        }
      }
    }
  }
}

TEST(GgufTensorsTest, MatMulOnRealTensorsEveryIsa) {
  ThreadPool pool(2);
  int checked_types[kNumWTypes] = {};
  for (const char* name : {"qwen3-mini-q8_0.gguf", "qwen3-mini-q4_0.gguf",
                           "qwen3-kmini-q4_k_m.gguf", "qwen3-mini-f32.gguf"}) {
    auto f = OpenShared(name);
    ASSERT_NE(f, nullptr) << name;
    for (const auto& t : f->tensors()) {
      if (t.ne.size() < 2 || !MatMulSupports(t.type)) continue;
      const int64_t cols = t.ne[0], rows = std::min<int64_t>(Rows(t), 300);
      const size_t row_bytes = *RowBytes(t.type, cols);
      // Decoded values must be finite and of the generator's scale (std 1/sqrt(fan_in),
      // 0.02 for the embedding).
      std::vector<float> deq(static_cast<size_t>(cols));
      double ss = 0;
      for (int64_t r = 0; r < rows; ++r) {
        DequantizeRow(t.type, t.data + r * row_bytes, deq.data(), cols);
        for (float v : deq) {
          ASSERT_TRUE(std::isfinite(v)) << name << " " << t.name;
          ss += double{v} * v;
        }
      }
      const double std_dev = std::sqrt(ss / static_cast<double>(rows * cols));
      const double want =
          t.name == "token_embd.weight" ? 0.02 : 1.0 / std::sqrt(static_cast<double>(cols));
      EXPECT_NEAR(std_dev, want, 0.15 * want) << name << " " << t.name;

      const WType wt = *[&]() -> std::optional<WType> {
        for (WType w : testing::kAllWTypes)
          if (testing::ToDType(w) == t.type) return w;
        return std::nullopt;
      }();
      ++checked_types[static_cast<int>(wt)];
      const int64_t n_tokens = 5;
      const auto x = RandomNormal(n_tokens * cols, 17);
      const ActKind kind = ActKindFor(wt);
      std::vector<uint8_t> act(ActRowBytes(kind, cols));
      std::vector<float> want_y(static_cast<size_t>(rows * n_tokens));
      for (int64_t tk = 0; tk < n_tokens; ++tk) {
        const uint8_t* arow = reinterpret_cast<const uint8_t*>(x.data() + tk * cols);
        if (kind != ActKind::kNone) {
          RefQuantizeAct(kind, x.data() + tk * cols, cols, act.data());
          arow = act.data();
        }
        for (int64_t r = 0; r < rows; ++r)
          want_y[tk * rows + r] = RefDotRow(wt, t.data + r * row_bytes, arow, cols);
      }
      for (Isa isa : SupportedIsas()) {
        testing::IsaGuard guard(isa);
        std::vector<uint8_t> scratch(MatMulScratchBytes(t.type, cols, n_tokens));
        std::vector<float> y(static_cast<size_t>(rows * n_tokens));
        MatMul(MatrixView{t.type, rows, cols, t.data, row_bytes}, x.data(), n_tokens, y.data(),
               scratch.data(), pool);
        for (size_t i = 0; i < y.size(); ++i) {
          ASSERT_NEAR(y[i], want_y[i], 1e-4f * (1.0f + std::fabs(want_y[i])))
              << IsaName(isa) << " " << name << " " << t.name << " at " << i;
        }
      }
    }
  }
  for (WType wt :
       {WType::kF32, WType::kQ8_0, WType::kQ4_0, WType::kQ5_0, WType::kQ4_K, WType::kQ6_K}) {
    EXPECT_GT(checked_types[static_cast<int>(wt)], 0)
        << "no real tensor of type " << static_cast<int>(wt);
  }
}

}  // namespace
}  // namespace llmux::kernels
