// MatMul driver: rounds the activations once into scratch (once for several matrices with
// the same input), then splits the outputs over the thread pool in (row chunk x token
// chunk) work items: each thread works through its own contiguous segment of them, then
// helps with the others'.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <span>

#include "engine/backend/cpu/kernels/kernel_set.h"
#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/backend/cpu/kernels/q6k_lanes.h"

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

// The kernel index of a view: its type and layout.
std::optional<WType> ToWType(const MatrixView& w) {
  if (w.layout == WeightLayout::kPanels16) {
    return w.type == DType::kQ4_0 ? std::optional<WType>(WType::kQ4_0P) : std::nullopt;
  }
  if (w.layout == WeightLayout::kQ6KLanes) {
    return w.type == DType::kQ6_K ? std::optional<WType>(WType::kQ6_KL) : std::nullopt;
  }
  return ToWType(w.type);
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
constexpr int64_t kRowTile = 4;     // SIMD kernels use 4-row register tiles
constexpr int64_t kTokenTile = 4;   // ... and 4-token ones
constexpr int64_t kPanelRows = 16;  // batches use 16-row packed panels (AVX-512)

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
    case WType::kQ4_0P:
      return ActKind::kQ8;
    case WType::kQ4_K:
    case WType::kQ6_K:
      return ActKind::kQ8K;
    case WType::kQ6_KL:
      return ActKind::kQ8KLanes;
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
    case ActKind::kQ8KLanes:
      bytes = Q8KLanesRowBytes(cols);
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
  // Q6_K matrices may be moved to the lanes layout (q6k_lanes.h), whose activations are larger.
  const ActKind kind = *wt == WType::kQ6_K ? ActKind::kQ8KLanes : ActKindFor(*wt);
  if (kind == ActKind::kNone) return 0;
  return ActRowBytes(kind, cols) * static_cast<size_t>(n_tokens) + kActAlign;
}

namespace {

// The work items of one matrix: (row chunk x token chunk), handed out dynamically.
struct Plan {
  GemmFn gemm;
  GemmArgs args;
  int64_t rows, n_tokens;
  int64_t rc, tc, n_tc, n_items;
};

// panels: the rows are stored in 16-row panels, so work items start at panel boundaries.
Plan MakePlan(GemmFn gemm, const GemmArgs& args, int64_t rows, int64_t n_tokens, size_t row_bytes,
              int nth, int64_t want_items, bool panels) {
  Plan p{gemm, args, rows, n_tokens, 0, n_tokens, 1, 0};
  // Row chunks of about kChunkBytes, in whole register tiles. Batches unpack each 16-row
  // panel once per work item and then stream every token past it, so their items are as
  // large as load balance allows (about 4 per thread).
  int64_t rc = static_cast<int64_t>(kChunkBytes / std::max<size_t>(row_bytes, 1));
  if (args.batch) {
    const int64_t per_item = (rows + 4 * nth - 1) / (4 * nth);
    rc =
        std::clamp<int64_t>((per_item + kPanelRows - 1) / kPanelRows * kPanelRows, kPanelRows, 256);
  } else if (panels) {
    rc = std::clamp<int64_t>(rc / kPanelRows * kPanelRows, kPanelRows, 256);
  } else {
    rc = std::clamp<int64_t>(rc / kRowTile * kRowTile, kRowTile, 256);
  }
  const int64_t n_rc = (rows + rc - 1) / rc;
  // Split tokens too when there are too few row chunks to balance the threads.
  int64_t tc = n_tokens;
  if (n_rc < want_items && n_tokens > kTokenTile) {
    const int64_t pieces =
        std::min((want_items + n_rc - 1) / n_rc, (n_tokens + kTokenTile - 1) / kTokenTile);
    tc = (n_tokens + pieces - 1) / pieces;
    tc = (tc + kTokenTile - 1) / kTokenTile * kTokenTile;
  }
  p.rc = rc;
  p.tc = tc;
  p.n_tc = (n_tokens + tc - 1) / tc;
  p.n_items = n_rc * p.n_tc;
  return p;
}

inline void RunItem(const Plan& p, int64_t i) {
  const int64_t r0 = (i / p.n_tc) * p.rc, t0 = (i % p.n_tc) * p.tc;
  p.gemm(p.args, r0, std::min(r0 + p.rc, p.rows), t0, std::min(t0 + p.tc, p.n_tokens));
}

constexpr size_t kMaxFused = 4;
constexpr int kMaxSegments = 16;

// A contiguous range of work items, handed out in order; on its own cache line.
struct alignas(64) Segment {
  std::atomic<int64_t> next{0};
  int64_t end = 0;
};

// Runs every product of outs for `n_tokens` activation rows (of one class) starting at row
// t_begin of the output, on the pool when `parallel`.
void RunProducts(std::span<const MatMulOut> outs, const KernelSet& ks, const uint8_t* act_rows,
                 size_t act_stride, int64_t cols, int64_t t_begin, int64_t n_tokens, bool batch,
                 int64_t total_rows, bool parallel, ThreadPool& pool) {
  Plan plans[kMaxFused];
  const int nth = pool.size();
  int64_t first_item[kMaxFused + 1] = {0};
  const size_t n = outs.size();
  for (size_t m = 0; m < n; ++m) {
    const MatrixView& w = outs[m].w;
    const GemmArgs args{static_cast<const uint8_t*>(w.data),
                        w.row_bytes,
                        act_rows,
                        act_stride,
                        cols,
                        outs[m].y + t_begin * w.rows,
                        w.rows,
                        batch};
    const GemmFn gemm = ks.gemm[static_cast<int>(*ToWType(w))];
    // Each matrix gets its share of the items that keep the threads balanced.
    const int64_t want = std::max<int64_t>(1, 4 * nth * std::max<int64_t>(w.rows, 0) / total_rows);
    plans[m] = MakePlan(gemm, args, std::max<int64_t>(w.rows, 0), n_tokens, w.row_bytes, nth, want,
                        w.layout == WeightLayout::kPanels16);
    if (w.rows <= 0) plans[m].n_items = 0;
    first_item[m + 1] = first_item[m] + plans[m].n_items;
  }
  if (!parallel) {
    for (size_t m = 0; m < n; ++m) {
      if (plans[m].n_items > 0) plans[m].gemm(plans[m].args, 0, plans[m].rows, 0, n_tokens);
    }
    return;
  }
  // Each thread owns a contiguous segment of the items and works through it in memory
  // order, so its weights form one long stream that the prefetches (software, one tile
  // ahead, also across item boundaries, and hardware) keep ahead of. A thread that runs
  // out continues with the other segments, so a slow or absent thread delays nobody.
  const int64_t n_items = first_item[n];
  const int n_seg = std::min(nth, kMaxSegments);
  Segment seg[kMaxSegments];
  for (int k = 0; k < n_seg; ++k) {
    seg[k].next.store(n_items * k / n_seg, std::memory_order_relaxed);
    seg[k].end = n_items * (k + 1) / n_seg;
  }
  pool.RunShared([&](int ith, int) {
    for (int s = 0; s < n_seg; ++s) {
      Segment& sg = seg[(ith + s) % n_seg];
      size_t m = 0;
      for (;;) {
        const int64_t i = sg.next.fetch_add(1, std::memory_order_relaxed);
        if (i >= sg.end) break;
        while (i >= first_item[m + 1]) ++m;  // a segment's items come in increasing order
        RunItem(plans[m], i - first_item[m]);
      }
    }
  });
}

}  // namespace

void MatMul(const MatrixView& w, const float* x, int64_t n_tokens, float* y, void* scratch,
            ThreadPool& pool, int64_t n_single) {
  const MatMulOut out{w, y};
  MatMulMany(std::span<const MatMulOut>(&out, 1), x, n_tokens, scratch, pool, n_single);
}

void MatMulMany(std::span<const MatMulOut> outs, const float* x, int64_t n_tokens, void* scratch,
                ThreadPool& pool, int64_t n_single) {
  if (n_tokens <= 0 || outs.empty()) return;
  if (n_single < 0) n_single = n_tokens == 1 ? 1 : 0;
  n_single = std::min(n_single, n_tokens);
  // Fused only when every matrix reads the same rounded activations.
  const auto wt0 = ToWType(outs[0].w);
  bool fusable = outs.size() <= kMaxFused && wt0.has_value() && outs[0].w.cols > 0;
  for (const MatMulOut& o : outs) {
    const auto wt = ToWType(o.w);
    fusable = fusable && wt.has_value() && ActKindFor(*wt) == ActKindFor(*wt0) &&
              o.w.cols == outs[0].w.cols;
  }
  if (!fusable) {
    for (const MatMulOut& o : outs) {
      if (o.w.rows <= 0) continue;
      const auto wt = ToWType(o.w);
      if (!wt || o.w.cols <= 0) {
        std::fill(o.y, o.y + n_tokens * o.w.rows, 0.0f);
      } else {
        MatMulMany(std::span<const MatMulOut>(&o, 1), x, n_tokens, scratch, pool, n_single);
      }
    }
    return;
  }
  const KernelSet& ks = ActiveKernels();
  const ActKind kind = ActKindFor(*wt0);
  const int64_t cols = outs[0].w.cols;
  const int nth = pool.size();
  int64_t total_rows = 0;
  for (const MatMulOut& o : outs) total_rows += std::max<int64_t>(o.w.rows, 0);
  if (total_rows == 0) return;
  const bool parallel = nth > 1 && total_rows * cols * n_tokens >= kMinParallelMacs;

  const uint8_t* act_rows = nullptr;
  size_t act_stride = 0;
  if (kind == ActKind::kNone) {
    act_rows = reinterpret_cast<const uint8_t*>(x);
    act_stride = static_cast<size_t>(cols) * sizeof(float);
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
    act_rows = act;
    act_stride = stride;
  }

  // The single-token rows, then the batch rows: two passes, each with its class's kernels.
  for (int pass = 0; pass < 2; ++pass) {
    const int64_t t_begin = pass == 0 ? 0 : n_single;
    const int64_t count = pass == 0 ? n_single : n_tokens - n_single;
    if (count > 0) {
      RunProducts(outs, ks, act_rows + t_begin * act_stride, act_stride, cols, t_begin, count,
                  pass == 1, total_rows, parallel, pool);
    }
  }
}

float DotF32(const float* a, const float* b, int64_t n) { return ActiveKernels().dot_f32(a, b, n); }

void AxpyF32(float a, const float* x, float* y, int64_t n) { ActiveKernels().axpy_f32(a, x, y, n); }

}  // namespace llmux::kernels
