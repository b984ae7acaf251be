#include "engine/models/attention.h"

#include <atomic>

#include "engine/kernels/kernels.h"
#include "engine/models/simd_kernels.h"

namespace llmux {

namespace {
// Tokens per task when K is transposed: the copy is amortised over tokens * group rows.
constexpr int kTileTokens = 64;
// Below this many tokens K is read in place (decode); from here on, transposed per task.
constexpr int kTransposeMinTokens = 4;
// Below this many multiply-adds (about 10 microseconds) the caller does all the work: waking
// the pool would cost about as much as it saves (decode steps at short context).
constexpr int64_t kMinParallelMacs = int64_t{1} << 19;

int TileFor(const simd::Ops& ops, int n_tokens) {
  return ops.width > 1 && n_tokens >= kTransposeMinTokens ? kTileTokens : 1;
}

// True if positions [0, n) of the sequence are consecutive slots (its blocks follow each other).
bool Contiguous(const int32_t* blocks, int n, int block_size) {
  const int n_blocks = (n + block_size - 1) / block_size;
  for (int i = 1; i < n_blocks; ++i) {
    if (blocks[i] != blocks[0] + i) return false;
  }
  return true;
}

// Copies the rows of kv head g for positions [0, n) into dst as F32 rows of head_dim.
void GatherHead(const KvCache& cache, bool is_k, int layer, const int32_t* blocks, int n, int g,
                float* dst) {
  const int hd = cache.head_dim();
  const int bs = cache.block_size();
  const size_t head_offset = *RowBytes(cache.type(), static_cast<int64_t>(g) * hd);
  for (int p = 0; p < n; ++p) {
    const int64_t slot = static_cast<int64_t>(blocks[p / bs]) * bs + p % bs;
    const uint8_t* row = is_k ? cache.k_row(layer, slot) : cache.v_row(layer, slot);
    kernels::DequantizeRow(cache.type(), row + head_offset, dst + static_cast<size_t>(p) * hd, hd);
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
  if (shape.head_dim % ops->width != 0) ops = &simd::ScalarOps();
  const int hd = shape.head_dim;
  const int bs = cache.block_size();
  const bool f32 = cache.type() == DType::kF32;

  // Tasks of sequence i are [task_offsets[i], task_offsets[i + 1]): its tiles x kv heads.
  int64_t macs = 0;
  task_offsets[0] = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const AttentionSeq& s = seqs[i];
    const int tile = TileFor(*ops, s.n_tokens);
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
      const int tile = TileFor(*ops, s.n_tokens);
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
      task.group = shape.n_head / shape.n_head_kv;
      task.scale = shape.scale;
      task.pos0 = s.pos0;
      task.transpose_k = tile > 1;
      task.out = out + static_cast<int64_t>(s.row0) * out_stride;
      task.out_stride = out_stride;
      task.scratch = scratch;
      const int n_kv = s.pos0 + task.t_end;
      if (f32 && Contiguous(s.blocks, n_kv, bs)) {
        const int64_t slot0 = static_cast<int64_t>(s.blocks[0]) * bs;
        task.k = reinterpret_cast<const float*>(cache.k_row(layer, slot0)) + task.g * hd;
        task.v = reinterpret_cast<const float*>(cache.v_row(layer, slot0)) + task.g * hd;
        task.kv_stride = cache.kv_dim();
      } else {
        // The kernel's own scratch comes first; the gathered rows go after it.
        float* k = scratch + simd::AttentionScratchFloats(hd, n_kv);
        float* v = k + static_cast<size_t>(simd::PadPositions(n_kv)) * hd;
        GatherHead(cache, true, layer, s.blocks, n_kv, task.g, k);
        GatherHead(cache, false, layer, s.blocks, n_kv, task.g, v);
        task.k = k;
        task.v = v;
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
