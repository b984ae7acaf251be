// Causal multi-head attention with grouped KV heads (GQA) over the paged KvCache, as
// llama.cpp computes it without flash attention: scores q.k * scale, softmax in F32 with max
// subtraction, then the score-weighted sum of V rows.
//
// One call covers every sequence of a batch; work is split over the pool by (sequence, kv
// head, tile of tokens), and each thread uses its own scratch area of the cache. A task
// reads K/V in place when they are F32 in one block (the single-sequence cache);
// otherwise it first gathers its kv head's rows, block by block, into scratch as F32
// (converting F16 and Q8_0). The kernels (simd_impl.h) come in scalar, AVX2 and AVX-512
// builds picked at run time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/thread_pool.h"
#include "engine/backend/backend.h"
#include "engine/backend/kv_cache.h"

namespace llmux {

// Floats of per-thread scratch Attention needs for sequences of up to max_len positions.
size_t AttentionScratchFloats(int head_dim, int max_len);

// q row r starts at q + r * q_stride (n_head heads of head_dim floats); output row r at
// out + r * out_stride (n_head heads of v_dim floats). task_offsets: scratch of at least
// seqs.size() + 1 entries.
void Attention(const float* q, int64_t q_stride, KvCache& cache, int layer,
               std::span<const AttentionSeq> seqs, const AttentionShape& shape, float* out,
               int64_t out_stride, std::span<int64_t> task_offsets, ThreadPool& pool);

}  // namespace llmux
