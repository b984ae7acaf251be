#include "engine/backend/cpu/cpu_backend.h"

#include <algorithm>
#include <new>
#include <string>

#include "engine/backend/cpu/attention.h"
#include "engine/backend/cpu/elementwise.h"
#include "engine/backend/cpu/kernels/q6k_lanes.h"
#include "engine/backend/cpu/rms_norm.h"

namespace llmux {

Status UseCpuInstructionSet(std::string_view name) {
  const kernels::Isa best = kernels::DetectedIsa();
  kernels::Isa isa = best;
  if (name == "avx512") {
    isa = kernels::Isa::kAvx512;
  } else if (name == "avx2") {
    isa = kernels::Isa::kAvx2;
  } else if (name == "scalar") {
    isa = kernels::Isa::kScalar;
  } else if (name != "best") {
    return InvalidArgumentError("unknown instruction set '" + std::string(name) +
                                "' (avx512, avx2, scalar or best)");
  }
  if (static_cast<int>(isa) > static_cast<int>(best)) {
    return InvalidArgumentError("this CPU has no " + std::string(name) +
                                " (best: " + kernels::IsaName(best) + ")");
  }
  kernels::SetIsaForTesting(isa);
  return Status::Ok();
}

std::string_view CpuInstructionSet() { return kernels::IsaName(kernels::ActiveIsa()); }

namespace {
void FreeAligned(float* p) { ::operator delete(p, std::align_val_t(64)); }
}  // namespace

CpuBackend::CpuBackend(int n_threads) : pool_(n_threads), task_offsets_(1025, 0) {}

std::unique_ptr<Backend> NewCpuBackend(int n_threads) {
  return std::make_unique<CpuBackend>(n_threads);
}

Result<DeviceBuffer> CpuBackend::Allocate(size_t n_floats) {
  auto* p = static_cast<float*>(
      ::operator new(n_floats * sizeof(float) + 1, std::align_val_t(64), std::nothrow));
  if (p == nullptr) {
    return ResourceExhaustedError("cannot allocate " + std::to_string(n_floats * sizeof(float)) +
                                  " bytes of activations");
  }
  std::fill_n(p, n_floats, 0.0f);
  return DeviceBuffer(p, n_floats, &FreeAligned);
}

Result<std::unique_ptr<KvCache>> CpuBackend::NewKvCache(const KvCacheShape& s) {
  KvCacheOptions o;
  o.n_layer = s.n_layer;
  o.kv_dim = s.kv_dim;
  o.head_dim = s.head_dim;
  o.type = s.type;
  o.block_size = s.block_size;
  o.n_blocks = s.n_blocks;
  o.k_only = s.k_only;
  o.n_threads = pool_.size();
  o.max_seq_len = s.max_seq_len;
  o.scratch_floats = AttentionScratchFloats(s.head_dim, s.max_seq_len);
  return KvCache::Create(o);
}

int CpuBackend::MaxSeqLen(const KvCache& cache) const {
  // Attention's scratch is per thread: a cache made for fewer threads cannot be used here.
  return cache.n_threads() < pool_.size() ? 0 : cache.max_seq_len();
}

Status CpuBackend::PrepareMatMul(MatrixView* w, int64_t slice_rows) {
  return packed_.Pack(w, slice_rows, pool_);
}

Status CpuBackend::ReserveMatMul(const MatrixView& w, int max_rows) {
  const size_t need = kernels::MatMulScratchBytes(w.type, w.cols, max_rows);
  if (!Grow(scratch_, need)) return ResourceExhaustedError("cannot allocate matmul scratch");
  return Status::Ok();
}

Status CpuBackend::ReserveMatMulHeads(const MatrixView& w, int64_t rows, int max_rows) {
  LLMUX_RETURN_IF_ERROR(ReserveMatMul(w, max_rows));
  const size_t m = static_cast<size_t>(max_rows);
  if (!Grow(head_in_, m * static_cast<size_t>(w.cols)) ||
      !Grow(head_out_, m * static_cast<size_t>(rows))) {
    return ResourceExhaustedError("cannot allocate per-head matmul buffers");
  }
  return Status::Ok();
}

void CpuBackend::MatMul(const MatrixView& w, const float* x, int n, float* y, int n_single) {
  kernels::MatMul(w, x, n, y, scratch_.data(), pool_, n_single);
}

void CpuBackend::MatMulMany(std::span<const MatMulOut> outs, const float* x, int n,
                            int n_single) {
  kernels::MatMulMany(outs, x, n, scratch_.data(), pool_, n_single);
}

void CpuBackend::MatMulToHost(const MatrixView& w, const float* x, int n, float* host_y,
                              int n_single) {
  MatMul(w, x, n, host_y, n_single);  // host memory is this backend's memory
}

void CpuBackend::SumRowsToHost(const float* x, int n_rows, int n, float* host_y) {
  std::fill_n(host_y, n, 0.0f);
  for (int r = 0; r < n_rows; ++r) {
    const float* row = x + static_cast<size_t>(r) * n;
    for (int i = 0; i < n; ++i) host_y[i] += row[i];
  }
}

void CpuBackend::MatMulHeads(const MatrixView& w, int64_t rows, const float* x, int64_t x_stride,
                             int64_t x_head, int n, float* y, int64_t y_stride, int64_t y_head,
                             int n_single) {
  const int64_t in = w.cols;
  for (int64_t h = 0; h * rows < w.rows; ++h) {
    for (int t = 0; t < n; ++t) {
      std::copy_n(x + t * x_stride + h * x_head, in, head_in_.data() + t * in);
    }
    MatMul(ExpertMatrix(w, static_cast<int>(h), rows), head_in_.data(), n, head_out_.data(),
           n_single);
    for (int t = 0; t < n; ++t) {
      std::copy_n(head_out_.data() + t * rows, rows, y + t * y_stride + h * y_head);
    }
  }
}

void CpuBackend::Embed(const MatrixView& table, const int32_t* host_ids, int n, float* out) {
  const int64_t width = table.cols;
  pool_.ParallelFor(n, 8, [&](int64_t i) {
    if (table.layout == kernels::WeightLayout::kQ6KLanes) {
      kernels::DequantizeQ6KLanesRow(table, host_ids[i], out + i * width);
      return;
    }
    const auto* row = static_cast<const uint8_t*>(table.data) + host_ids[i] * table.row_bytes;
    kernels::DequantizeRow(table.type, row, out + i * width, width);
  });
}

void CpuBackend::RmsNorm(const float* x, const float* w, float* y, int64_t n_rows, int n,
                         int64_t stride, float eps) {
  if (stride == n) {
    RmsNormRows(x, w, y, n_rows, n, eps, pool_);
    return;
  }
  pool_.ParallelFor(n_rows, 16, [&](int64_t r) {
    llmux::RmsNorm(x + r * stride, w, y + r * stride, n, eps);
  });
}

void CpuBackend::SwiGlu(float* gate, const float* up, int64_t n) { llmux::SwiGlu(gate, up, n, pool_); }

void CpuBackend::Add(float* x, const float* y, int64_t n) { AddInPlace(x, y, n, pool_); }

void CpuBackend::AddBias(float* x, const float* b, int64_t n_rows, int n) {
  AddBiasRows(x, b, n_rows, n, pool_);
}

void CpuBackend::Fill(float* x, int64_t n, float value) { std::fill_n(x, n, value); }

void CpuBackend::Rope(const RopeTable& table, float* x, int first, int n, int n_heads,
                      int head_dim, int64_t row_stride) {
  table.Apply(x, first, n, n_heads, head_dim, row_stride, pool_);
}

void CpuBackend::CopyRows(const float* src, int64_t src_stride, int64_t src_head, float* dst,
                          int64_t dst_stride, int64_t dst_head, int n_rows, int n_heads,
                          int64_t width, const int32_t* host_rows) {
  // In order, so an in-place gather whose rows only move down reads each row before it is
  // overwritten.
  for (int i = 0; i < n_rows; ++i) {
    const int64_t from = host_rows != nullptr ? host_rows[i] : i;
    for (int h = 0; h < n_heads; ++h) {
      const float* s = src + from * src_stride + h * src_head;
      float* d = dst + i * dst_stride + h * dst_head;
      if (s != d) std::copy_n(s, width, d);
    }
  }
}

void CpuBackend::StoreKv(KvCache& cache, int layer, const float* k, const float* v,
                         const int32_t* host_slots, int n) {
  cache.Store(layer, k, v, host_slots, n, pool_);
}

void CpuBackend::Attention(const float* q, int64_t q_stride, KvCache& cache, int layer,
                           std::span<const AttentionSeq> seqs, const AttentionShape& shape,
                           float* out, int64_t out_stride) {
  if (task_offsets_.size() < seqs.size() + 1) task_offsets_.resize(seqs.size() + 1);
  llmux::Attention(q, q_stride, cache, layer, seqs, shape, out, out_stride, task_offsets_, pool_);
}

void CpuBackend::RouteExperts(const float* logits, const float* bias, int n, int n_expert, int k,
                              const MoeRouting& routing, int32_t* host_ids,
                              float* host_weights) {
  if (route_scratch_.size() < 2 * static_cast<size_t>(n_expert)) {
    route_scratch_.resize(2 * static_cast<size_t>(n_expert));
  }
  for (int t = 0; t < n; ++t) {
    llmux::RouteExperts(logits + static_cast<size_t>(t) * n_expert, bias, n_expert, k, routing,
                        host_ids + static_cast<size_t>(t) * k,
                        host_weights + static_cast<size_t>(t) * k, route_scratch_.data());
  }
}

void CpuBackend::ScatterAddWeighted(float* dst, const int32_t* host_rows,
                                    const float* host_weights, int n, int64_t width,
                                    const float* src) {
  for (int i = 0; i < n; ++i) {
    const float weight = host_weights[i];
    const float* y = src + static_cast<int64_t>(i) * width;
    float* d = dst + static_cast<int64_t>(host_rows[i]) * width;
    for (int64_t j = 0; j < width; ++j) d[j] += weight * y[j];
  }
}

}  // namespace llmux
