// The boundary between the models and the hardware: every operation a forward pass needs,
// over memory the backend owns. The models (engine/models/) compose these operations and
// never touch activation or cache memory themselves, so a device backend (CUDA) can take
// the CPU's place; the CPU backend (cpu/) is the reference.
//
// Pointers to activations are device pointers from Allocate(), offset by whole rows; the
// KV cache comes from NewKvCache(). Host memory appears only where an argument says so:
// token ids, cache slots and block tables, the routing picks, and the logits a caller reads.
// Weights are views into the mapped model file (MatrixView).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "base/status.h"
#include "engine/backend/kv_cache.h"
#include "engine/backend/moe_routing.h"
#include "engine/backend/rope.h"
#include "engine/backend/cpu/kernels/kernels.h"

namespace llmux {

using kernels::MatMulOut;   // {w, y}: one of several products of the same input
using kernels::MatrixView;  // {type, rows, cols, data, row_bytes}; cols = ggml ne[0]

struct AttentionShape {
  int n_head = 0;
  int n_head_kv = 0;  // q head h reads kv head h / (n_head / n_head_kv)
  int head_dim = 0;
  float scale = 1.0f;  // usually 1/sqrt(head_dim)
  // Width of V and of each output head; 0 means head_dim. MLA's latent cache reads V as the
  // first v_dim values of each K row (KvCache::k_only) and writes v_dim wide output heads.
  int v_dim = 0;
};

// The query rows of one sequence: rows [row0, row0 + n_tokens) of q and out, at positions
// pos0 ..; row t attends to the sequence's positions [0, pos0 + t], whose K and V the cache
// must already hold in the blocks of `blocks` (block i holds positions i * block_size ..).
struct AttentionSeq {
  int row0 = 0;
  int n_tokens = 0;
  int pos0 = 0;
  const int32_t* blocks = nullptr;
  // A decode token: scores read K directly. Other rows (prefill) always use the transposed
  // copy of K, however few they are, so a row's arithmetic never depends on chunking.
  bool single = false;
};

// Matrix e out of n stacked matrices of `rows` rows each (MoE experts, MLA heads).
inline MatrixView ExpertMatrix(const MatrixView& stacked, int e, int64_t rows) {
  return MatrixView{
      stacked.type,
      rows,
      stacked.cols,
      static_cast<const uint8_t*>(stacked.data) + static_cast<size_t>(e) * rows * stacked.row_bytes,
      stacked.row_bytes,
      stacked.layout};
}

// Floats of backend memory: activations and scratch. Move-only; freed by its backend.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(float* data, size_t size, void (*release)(float*))
      : data_(data, release), size_(size) {}
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  std::unique_ptr<float, void (*)(float*)> data_{nullptr, nullptr};
  size_t size_ = 0;
};

// What a KV cache must hold (the backend adds what its attention needs, e.g. scratch).
struct KvCacheShape {
  int n_layer = 0;
  int kv_dim = 0;
  int head_dim = 0;
  DType type = DType::kF32;
  int block_size = 16;
  int n_blocks = 0;
  int max_seq_len = 0;  // longest sequence attention will see
  bool k_only = false;  // MLA's latent rows: V is read from K (KvCacheOptions::k_only)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual int n_threads() const = 0;
  // Whether MatMul takes weights of this type.
  virtual bool SupportsWeights(DType type) const = 0;

  // ---- memory ----
  virtual Result<DeviceBuffer> Allocate(size_t n_floats) = 0;
  virtual Result<std::unique_ptr<KvCache>> NewKvCache(const KvCacheShape& shape) = 0;
  // The longest sequence a cache made here can attend over.
  virtual int MaxSeqLen(const KvCache& cache) const = 0;
  // May replace w by a copy owned by the backend (in its memory, perhaps in a layout its
  // MatMul reads faster, e.g. the CPU's 16-row Q4_0 panels); the view keeps its shape. For
  // weights read through MatMul/MatMulMany and ExpertMatrix slices of slice_rows rows
  // (w->rows if none; MatMulHeads slices too); slice_rows 0: also an embedding table (Embed).
  // Call at load time, before ReserveMatMul.
  virtual Status PrepareMatMul(MatrixView* w, int64_t slice_rows) = 0;
  // Makes MatMul ready for w with up to max_rows input rows (e.g. room for rounded
  // activations). Call for every weight at load time; a forward pass never allocates.
  virtual Status ReserveMatMul(const MatrixView& w, int max_rows) = 0;
  // The same for MatMulHeads over heads of `rows` rows.
  virtual Status ReserveMatMulHeads(const MatrixView& w, int64_t rows, int max_rows) = 0;

  // ---- products (n_single: the leading rows that are decode tokens, see kernels::MatMul) ----
  // y[n x w.rows] = x[n x w.cols] . W^T.
  virtual void MatMul(const MatrixView& w, const float* x, int n, float* y, int n_single) = 0;
  // Several matrices over the same x.
  virtual void MatMulMany(std::span<const MatMulOut> outs, const float* x, int n,
                          int n_single) = 0;
  // As MatMul, into host memory (the logits a caller reads).
  virtual void MatMulToHost(const MatrixView& w, const float* x, int n, float* host_y,
                            int n_single) = 0;
  // host_y[n] = the sum of n_rows consecutive rows of n values (pooled embeddings).
  virtual void SumRowsToHost(const float* x, int n_rows, int n, float* host_y) = 0;
  // Per-head products (MLA): w stacks heads of `rows` rows; for head h and row t < n,
  // y[t * y_stride + h * y_head ..] = w_h . x[t * x_stride + h * x_head .. + w.cols].
  virtual void MatMulHeads(const MatrixView& w, int64_t rows, const float* x, int64_t x_stride,
                           int64_t x_head, int n, float* y, int64_t y_stride, int64_t y_head,
                           int n_single) = 0;

  // ---- element-wise ----
  // out[t] = row host_ids[t] of the table, as F32.
  virtual void Embed(const MatrixView& table, const int32_t* host_ids, int n, float* out) = 0;
  // y = RMSNorm(x) * w (w may be null) over n_rows rows of n values, rows `stride` apart in x
  // and y (y may alias x).
  virtual void RmsNorm(const float* x, const float* w, float* y, int64_t n_rows, int n,
                       int64_t stride, float eps) = 0;
  virtual void SwiGlu(float* gate, const float* up, int64_t n) = 0;  // gate = silu(gate) * up
  virtual void Add(float* x, const float* y, int64_t n) = 0;         // x += y
  virtual void AddBias(float* x, const float* b, int64_t n_rows, int n) = 0;
  virtual void Fill(float* x, int64_t n, float value) = 0;
  // Rotates the first n_rot dims of each head of rows [first, first + n) (table rows): row i
  // at x + i * row_stride, heads head_dim apart.
  virtual void Rope(const RopeTable& table, float* x, int first, int n, int n_heads,
                    int head_dim, int64_t row_stride) = 0;
  // dst[i * dst_stride + h * dst_head ..] = src[i * src_stride + h * src_head .. + width] for
  // i < n_rows, h < n_heads. With host_rows, source row i is host_rows[i] instead (a gather;
  // in place is fine when rows only move down).
  virtual void CopyRows(const float* src, int64_t src_stride, int64_t src_head, float* dst,
                        int64_t dst_stride, int64_t dst_head, int n_rows, int n_heads,
                        int64_t width, const int32_t* host_rows = nullptr) = 0;

  // ---- attention ----
  // Writes K and V rows (kv_dim floats each) of n tokens at their cache slots; v is unused
  // with a k_only cache.
  virtual void StoreKv(KvCache& cache, int layer, const float* k, const float* v,
                       const int32_t* host_slots, int n) = 0;
  // Causal attention of every sequence's query rows over the cache (see AttentionSeq): q row
  // r at q + r * q_stride, output row r at out + r * out_stride.
  virtual void Attention(const float* q, int64_t q_stride, KvCache& cache, int layer,
                         std::span<const AttentionSeq> seqs, const AttentionShape& shape,
                         float* out, int64_t out_stride) = 0;

  // ---- mixture of experts ----
  // Routes n rows of n_expert router logits (RouteExperts): k picks and weights per row, into
  // host memory, where the model schedules the expert products.
  virtual void RouteExperts(const float* logits, const float* bias, int n, int n_expert, int k,
                            const MoeRouting& routing, int32_t* host_ids,
                            float* host_weights) = 0;
  // dst[host_rows[i]] += host_weights[i] * src[i] for i < n rows of `width` floats.
  virtual void ScatterAddWeighted(float* dst, const int32_t* host_rows, const float* host_weights,
                                  int n, int64_t width, const float* src) = 0;
};

// The CPU backend with n_threads threads (cpu/cpu_backend.cc).
std::unique_ptr<Backend> NewCpuBackend(int n_threads);

}  // namespace llmux
