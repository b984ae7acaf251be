// MatMul driver: rounds the activations once into scratch, then splits the output over the
// thread pool in (row chunk x token chunk) work items handed out dynamically.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>

#include "engine/kernels/cpu/kernel_set.h"
#include "engine/kernels/kernels.h"

namespace llmux::kernels {

namespace {

std::optional<WType> ToWType(DType t) {
  switch (t) {
    case DType::kF32:
      return WType::kF32;
    case DType::kF16:
      return WType::kF16;
    case DType::kBF16:
      return WType::kBF16;
    case DType::kQ8_0:
      return WType::kQ8_0;
    case DType::kQ4_0:
      return WType::kQ4_0;
    case DType::kQ5_0:
      return WType::kQ5_0;
    case DType::kQ4_K:
      return WType::kQ4_K;
    case DType::kQ6_K:
      return WType::kQ6_K;
    default:
      return std::nullopt;
  }
}

uint8_t* AlignUp(void* p) {
  const uintptr_t u = reinterpret_cast<uintptr_t>(p);
  return reinterpret_cast<uint8_t*>((u + kActAlign - 1) & ~(uintptr_t{kActAlign} - 1));
}

// Below this many multiply-adds a MatMul runs on the calling thread only: waking the
// pool would cost more than the work.
constexpr int64_t kMinParallelMacs = 1 << 17;
// Weight bytes per work item: small enough to stay in L1/L2 while every token of the item
// streams past, large enough that the per-item overhead vanishes.
constexpr size_t kChunkBytes = 32 * 1024;
constexpr int64_t kRowTile = 4;    // SIMD kernels use 4-row register tiles
constexpr int64_t kTokenTile = 4;  // ... and 4-token ones

}  // namespace

ActKind ActKindFor(WType t) {
  switch (t) {
    case WType::kF32:
      return ActKind::kNone;
    case WType::kF16:
      return ActKind::kF16;
    case WType::kBF16:
      return ActKind::kBF16;
    case WType::kQ8_0:
    case WType::kQ4_0:
    case WType::kQ5_0:
      return ActKind::kQ8;
    case WType::kQ4_K:
    case WType::kQ6_K:
      return ActKind::kQ8K;
    default:
      return ActKind::kNone;
  }
}

size_t ActRowBytes(ActKind kind, int64_t cols) {
  size_t bytes = 0;
  switch (kind) {
    case ActKind::kNone:
      return 0;
    case ActKind::kQ8:
      bytes = static_cast<size_t>(cols) + static_cast<size_t>(cols / 32) * 8;
      break;
    case ActKind::kQ8K:
      bytes = static_cast<size_t>(cols / 256) * 292;
      break;
    case ActKind::kF16:
      bytes = static_cast<size_t>(cols) * 4;
      break;
    case ActKind::kBF16:
      bytes = static_cast<size_t>(cols) * 2;
      break;
    default:
      return 0;
  }
  return (bytes + kActAlign - 1) / kActAlign * kActAlign;
}

bool MatMulSupports(DType type) { return ToWType(type).has_value(); }

size_t MatMulScratchBytes(DType type, int64_t cols, int64_t n_tokens) {
  const auto wt = ToWType(type);
  if (!wt || cols <= 0 || n_tokens <= 0) return 0;
  const ActKind kind = ActKindFor(*wt);
  if (kind == ActKind::kNone) return 0;
  return ActRowBytes(kind, cols) * static_cast<size_t>(n_tokens) + kActAlign;
}

void MatMul(const MatrixView& w, const float* x, int64_t n_tokens, float* y, void* scratch,
            ThreadPool& pool) {
  if (n_tokens <= 0 || w.rows <= 0) return;
  const auto wt = ToWType(w.type);
  if (!wt || w.cols <= 0) {
    std::fill(y, y + n_tokens * w.rows, 0.0f);
    return;
  }
  const KernelSet& ks = ActiveKernels();
  const ActKind kind = ActKindFor(*wt);
  const int64_t cols = w.cols;
  const int nth = pool.size();
  const bool parallel = nth > 1 && w.rows * cols * n_tokens >= kMinParallelMacs;

  GemmArgs args{static_cast<const uint8_t*>(w.data), w.row_bytes, nullptr, 0, cols, y, w.rows};
  if (kind == ActKind::kNone) {
    args.act = reinterpret_cast<const uint8_t*>(x);
    args.act_stride = static_cast<size_t>(cols) * sizeof(float);
  } else {
    uint8_t* act = AlignUp(scratch);
    const size_t stride = ActRowBytes(kind, cols);
    const ActQuantFn quant = ks.act_quant[static_cast<int>(kind)];
    if (parallel && n_tokens > 1) {
      pool.ParallelFor(n_tokens, 1,
                       [&](int64_t t) { quant(x + t * cols, cols, act + t * stride); });
    } else {
      for (int64_t t = 0; t < n_tokens; ++t) quant(x + t * cols, cols, act + t * stride);
    }
    args.act = act;
    args.act_stride = stride;
  }

  const GemmFn gemm = ks.gemm[static_cast<int>(*wt)];
  if (!parallel) {
    gemm(args, 0, w.rows, 0, n_tokens);
    return;
  }

  // Row chunks of about kChunkBytes, in whole register tiles.
  int64_t rc = static_cast<int64_t>(kChunkBytes / std::max<size_t>(w.row_bytes, 1));
  rc = std::clamp<int64_t>(rc / kRowTile * kRowTile, kRowTile, 256);
  const int64_t n_rc = (w.rows + rc - 1) / rc;
  // Split tokens too when there are too few row chunks to balance the threads.
  int64_t tc = n_tokens;
  const int64_t want_items = 4 * nth;
  if (n_rc < want_items && n_tokens > kTokenTile) {
    const int64_t pieces =
        std::min((want_items + n_rc - 1) / n_rc, (n_tokens + kTokenTile - 1) / kTokenTile);
    tc = (n_tokens + pieces - 1) / pieces;
    tc = (tc + kTokenTile - 1) / kTokenTile * kTokenTile;
  }
  const int64_t n_tc = (n_tokens + tc - 1) / tc;
  const int64_t n_items = n_rc * n_tc;

  std::atomic<int64_t> next{0};
  pool.RunOnAll([&](int, int) {
    for (;;) {
      const int64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n_items) break;
      const int64_t r0 = (i / n_tc) * rc, t0 = (i % n_tc) * tc;
      gemm(args, r0, std::min(r0 + rc, w.rows), t0, std::min(t0 + tc, n_tokens));
    }
  });
}

float DotF32(const float* a, const float* b, int64_t n) { return ActiveKernels().dot_f32(a, b, n); }

void AxpyF32(float a, const float* x, float* y, int64_t n) { ActiveKernels().axpy_f32(a, x, y, n); }

}  // namespace llmux::kernels
