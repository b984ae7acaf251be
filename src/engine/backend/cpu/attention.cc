#include "engine/backend/cpu/attention.h"

#include <atomic>

#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/backend/cpu/simd_kernels.h"

namespace llmux {

namespace {
// Tokens per task when K is transposed (prefill): the copy is amortised over tokens * group
// rows. Decode tokens read K in place instead.
constexpr int kTileTokens = 64;
// Below this many multiply-adds (about 10 microseconds) the caller does all the work: waking
// the pool would cost about as much as it saves (decode steps at short context).
constexpr int64_t kMinParallelMacs = int64_t{1} << 19;

int TileFor(const simd::Ops& ops, const AttentionSeq& s) {
  return ops.width > 1 && !s.single ? kTileTokens : 1;
}

// Copies the rows of kv head g for positions [0, n) into dst as F32 rows of head_dim: one
// conversion per block, whose positions of one head are contiguous.
void GatherHead(const KvCache& cache, bool is_k, int layer, const int32_t* blocks, int n, int g,
                float* dst) {
  const int hd = cache.head_dim();
  const int bs = cache.block_size();
  for (int p = 0; p < n; p += bs) {
    const int count = n - p < bs ? n - p : bs;
    const int64_t slot = static_cast<int64_t>(blocks[p / bs]) * bs;
    const uint8_t* src = is_k ? cache.k_head(layer, slot, g) : cache.v_head(layer, slot, g);
    kernels::DequantizeRow(cache.type(), src, dst + static_cast<size_t>(p) * hd,
                           static_cast<int64_t>(count) * hd);
  }
}
}  // namespace

size_t AttentionScratchFloats(int head_dim, int max_len) {
  // The kernel's scores and transposed K, then the gathered K and V of one kv head.
  return simd::AttentionScratchFloats(head_dim, max_len) +
         2 * static_cast<size_t>(simd::PadPositions(max_len)) * head_dim;
}

void Attention(const float* q, int64_t q_stride, KvCache& cache, int layer,
               std::span<const AttentionSeq> seqs, const AttentionShape& shape, float* out,
               int64_t out_stride, std::span<int64_t> task_offsets, ThreadPool& pool) {
  if (seqs.empty()) return;
  const simd::Ops* ops = &simd::ActiveOps();
  const int hd = shape.head_dim;
  const int v_dim = shape.v_dim > 0 ? shape.v_dim : hd;
  if (hd % ops->width != 0 || v_dim % ops->width != 0) ops = &simd::ScalarOps();
  const bool k_only = cache.k_only();
  const int bs = cache.block_size();
  const bool f32 = cache.type() == DType::kF32;
  const bool half = cache.type() == DType::kF16;

  // Tasks of sequence i are [task_offsets[i], task_offsets[i + 1]): its tiles x kv heads.
  int64_t macs = 0;
  task_offsets[0] = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const AttentionSeq& s = seqs[i];
    const int tile = TileFor(*ops, s);
    const int n_tiles = (s.n_tokens + tile - 1) / tile;
    task_offsets[i + 1] = task_offsets[i] + static_cast<int64_t>(n_tiles) * shape.n_head_kv;
    macs += int64_t{2} * s.n_tokens * shape.n_head * (s.pos0 + s.n_tokens) * hd;
  }
  const int64_t n_tasks = task_offsets[seqs.size()];

  std::atomic<int64_t> next{0};
  auto work = [&](int ith, int) {
    float* scratch = cache.scratch(ith);
    size_t seq_index = 0;
    for (;;) {
      const int64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n_tasks) break;
      while (task_offsets[seq_index + 1] <= i) ++seq_index;
      const AttentionSeq& s = seqs[seq_index];
      const int64_t local = i - task_offsets[seq_index];
      const int tile = TileFor(*ops, s);
      const int n_tiles = (s.n_tokens + tile - 1) / tile;
      // Later tiles attend to more positions: hand them out first.
      const int tile_index = n_tiles - 1 - static_cast<int>(local / shape.n_head_kv);

      simd::AttentionTask task{};
      task.g = static_cast<int>(local % shape.n_head_kv);
      task.t_begin = tile_index * tile;
      task.t_end = task.t_begin + tile < s.n_tokens ? task.t_begin + tile : s.n_tokens;
      task.q = q + static_cast<int64_t>(s.row0) * q_stride;
      task.q_stride = q_stride;
      task.head_dim = hd;
      task.v_dim = v_dim;
      task.group = shape.n_head / shape.n_head_kv;
      task.scale = shape.scale;
      task.pos0 = s.pos0;
      task.transpose_k = tile > 1;
      task.out = out + static_cast<int64_t>(s.row0) * out_stride;
      task.out_stride = out_stride;
      task.scratch = scratch;
      const int n_kv = s.pos0 + task.t_end;
      if (half && tile == 1 && (bs & (bs - 1)) == 0) {
        // Decode over F16 blocks: the kernel reads them in place, converting as it loads.
        task.k16 = reinterpret_cast<const uint16_t*>(cache.k_head(layer, 0, task.g));
        task.v16 = reinterpret_cast<const uint16_t*>(cache.v_head(layer, 0, task.g));  // K's, k_only
        task.blocks = s.blocks;
        task.block_shift = __builtin_ctz(static_cast<unsigned>(bs));
        task.block_stride = static_cast<int64_t>(cache.n_head_kv()) * bs * hd;
      } else if (f32 && n_kv <= bs) {
        // All positions in one block: the head's F32 rows are contiguous, read in place.
        const int64_t slot0 = static_cast<int64_t>(s.blocks[0]) * bs;
        task.k = reinterpret_cast<const float*>(cache.k_head(layer, slot0, task.g));
        task.v = reinterpret_cast<const float*>(cache.v_head(layer, slot0, task.g));
        task.kv_stride = hd;
      } else {
        // The kernel's own scratch comes first; the gathered rows go after it.
        float* k = scratch + simd::AttentionScratchFloats(hd, n_kv);
        float* v = k + static_cast<size_t>(simd::PadPositions(n_kv)) * hd;
        GatherHead(cache, true, layer, s.blocks, n_kv, task.g, k);
        if (!k_only) GatherHead(cache, false, layer, s.blocks, n_kv, task.g, v);
        task.k = k;
        task.v = k_only ? k : v;  // the latent is the start of each K row
        task.kv_stride = hd;
      }
      ops->attention(task);
    }
  };
  if (macs < kMinParallelMacs) {
    work(0, 1);
  } else {
    pool.RunShared(work);
  }
}

}  // namespace llmux
