// The CPU implementation of Backend: the quantized matmul kernels (cpu/kernels/), the
// attention and element-wise kernels of this folder, and a thread pool that every operation
// splits its work over. Memory is host memory, 64-byte aligned.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "base/thread_pool.h"
#include "engine/backend/backend.h"
#include "engine/backend/cpu/aligned_buffer.h"
#include "engine/backend/cpu/packed_weights.h"

namespace llmux {

// Makes every CPU kernel of the process use the instruction set `name` ("avx512", "avx2",
// "scalar"; "best" for the detected one) from now on, for benchmarks that compare the paths
// on one machine. Call it before loading a model: weights are packed for the set in use.
// InvalidArgument for an unknown name or a set this CPU lacks.
Status UseCpuInstructionSet(std::string_view name);
// The instruction set the CPU kernels use now ("avx512", "avx2" or "scalar").
std::string_view CpuInstructionSet();

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int n_threads);

  std::string_view name() const override { return "cpu"; }
  int n_threads() const override { return pool_.size(); }
  bool SupportsWeights(DType type) const override { return kernels::MatMulSupports(type); }

  Result<DeviceBuffer> Allocate(size_t n_floats) override;
  Result<std::unique_ptr<KvCache>> NewKvCache(const KvCacheShape& shape) override;
  int MaxSeqLen(const KvCache& cache) const override;
  Status PrepareMatMul(MatrixView* w, int64_t slice_rows) override;
  const PackedWeights& packed_weights() const { return packed_; }  // what PrepareMatMul made
  Status ReserveMatMul(const MatrixView& w, int max_rows) override;
  Status ReserveMatMulHeads(const MatrixView& w, int64_t rows, int max_rows) override;

  void MatMul(const MatrixView& w, const float* x, int n, float* y, int n_single) override;
  void MatMulMany(std::span<const MatMulOut> outs, const float* x, int n, int n_single) override;
  void MatMulToHost(const MatrixView& w, const float* x, int n, float* host_y,
                    int n_single) override;
  void SumRowsToHost(const float* x, int n_rows, int n, float* host_y) override;
  void MatMulHeads(const MatrixView& w, int64_t rows, const float* x, int64_t x_stride,
                   int64_t x_head, int n, float* y, int64_t y_stride, int64_t y_head,
                   int n_single) override;

  void Embed(const MatrixView& table, const int32_t* host_ids, int n, float* out) override;
  void RmsNorm(const float* x, const float* w, float* y, int64_t n_rows, int n, int64_t stride,
               float eps) override;
  void SwiGlu(float* gate, const float* up, int64_t n) override;
  void Add(float* x, const float* y, int64_t n) override;
  void AddBias(float* x, const float* b, int64_t n_rows, int n) override;
  void Fill(float* x, int64_t n, float value) override;
  void Rope(const RopeTable& table, float* x, int first, int n, int n_heads, int head_dim,
            int64_t row_stride) override;
  void CopyRows(const float* src, int64_t src_stride, int64_t src_head, float* dst,
                int64_t dst_stride, int64_t dst_head, int n_rows, int n_heads, int64_t width,
                const int32_t* host_rows) override;

  void StoreKv(KvCache& cache, int layer, const float* k, const float* v,
               const int32_t* host_slots, int n) override;
  void Attention(const float* q, int64_t q_stride, KvCache& cache, int layer,
                 std::span<const AttentionSeq> seqs, const AttentionShape& shape, float* out,
                 int64_t out_stride) override;

  void RouteExperts(const float* logits, const float* bias, int n, int n_expert, int k,
                    const MoeRouting& routing, int32_t* host_ids, float* host_weights) override;
  void ScatterAddWeighted(float* dst, const int32_t* host_rows, const float* host_weights, int n,
                          int64_t width, const float* src) override;

 private:
  // Grows buf to at least n elements (at reserve time only).
  template <typename T>
  static bool Grow(AlignedBuffer<T>& buf, size_t n) {
    return buf.size() >= n || buf.Allocate(n);
  }

  ThreadPool pool_;
  PackedWeights packed_;            // the backend's copies of weights
  AlignedBuffer<uint8_t> scratch_;  // MatMul's rounded activations
  AlignedBuffer<float> head_in_;    // MatMulHeads: one head's gathered inputs
  AlignedBuffer<float> head_out_;   // and its outputs
  std::vector<int64_t> task_offsets_;  // Attention's per-sequence task index
  std::vector<float> route_scratch_;
};

}  // namespace llmux
