#include "engine/backend/cpu/kernels/ref_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/backend/cpu/kernels/blocks.h"
#include "engine/backend/cpu/kernels/half.h"
#include "engine/backend/cpu/kernels/panels16.h"
#include "engine/backend/cpu/kernels/q6k_lanes.h"
#include "engine/backend/cpu/kernels/quants.h"

namespace llmux::kernels {

namespace {

// ---- activation rounding ----

void QuantizeActQ8Ref(const float* x, int64_t cols, uint8_t* row) {
  const int64_t nb = cols / kQK;
  int8_t* qs = reinterpret_cast<int8_t*>(row);
  float* d_out = reinterpret_cast<float*>(row + cols);
  int32_t* sum_out = reinterpret_cast<int32_t*>(row + cols + nb * 4);
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kQK;
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(xb[j]));
    // id = 127/amax (not 1/d) as ggml's SIMD quantizer does; ties round to even.
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    for (int j = 0; j < kQK; ++j) {
      const int q = std::clamp(NearestInt(xb[j] * id), -127, 127);
      qs[b * kQK + j] = static_cast<int8_t>(q);
      sum += q;
    }
    d_out[b] = RoundToF16(amax / 127.0f);
    sum_out[b] = sum;
  }
}

void QuantizeActQ8KRef(const float* x, int64_t cols, uint8_t* row) {
  QuantizeRowQ8_K(x, reinterpret_cast<BlockQ8_K*>(row), cols);
}

void QuantizeActF16Ref(const float* x, int64_t cols, uint8_t* row) {
  float* out = reinterpret_cast<float*>(row);
  for (int64_t i = 0; i < cols; ++i) out[i] = RoundToF16(x[i]);
}

void QuantizeActBF16Ref(const float* x, int64_t cols, uint8_t* row) {
  uint16_t* out = reinterpret_cast<uint16_t*>(row);
  for (int64_t i = 0; i < cols; ++i) out[i] = F32ToBF16(x[i]);
}

// ---- dot products of one weight row with one activation row ----

template <typename Fn>
float SumLanes8(int64_t n, Fn term) {
  // Eight partial sums: faster than one serial chain, and the order is fixed.
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += term(i + k);
  }
  for (; i < n; ++i) acc[0] += term(i);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

float DotF32Row(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const float* wf = reinterpret_cast<const float*>(w);
  const float* af = reinterpret_cast<const float*>(a);
  return SumLanes8(cols, [&](int64_t i) { return wf[i] * af[i]; });
}

float DotF16Row(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const uint16_t* wh = reinterpret_cast<const uint16_t*>(w);
  const float* af = reinterpret_cast<const float*>(a);
  return SumLanes8(cols, [&](int64_t i) { return F16ToF32(wh[i]) * af[i]; });
}

float DotBF16Row(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const uint16_t* wb = reinterpret_cast<const uint16_t*>(w);
  const uint16_t* ab = reinterpret_cast<const uint16_t*>(a);
  return SumLanes8(cols, [&](int64_t i) { return BF16ToF32(wb[i]) * BF16ToF32(ab[i]); });
}

float DotQ8_0Row(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const BlockQ8_0* wb = reinterpret_cast<const BlockQ8_0*>(w);
  const ActQ8 act = ViewActQ8(a, cols);
  float sum = 0.0f;
  for (int64_t b = 0; b < cols / kQK; ++b) {
    int32_t isum = 0;
    for (int j = 0; j < kQK; ++j) isum += wb[b].qs[j] * act.qs[b * kQK + j];
    sum += static_cast<float>(isum) * (F16ToF32(wb[b].d) * act.d[b]);
  }
  return sum;
}

float DotQ4_0Row(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const BlockQ4_0* wb = reinterpret_cast<const BlockQ4_0*>(w);
  const ActQ8 act = ViewActQ8(a, cols);
  float sum = 0.0f;
  for (int64_t b = 0; b < cols / kQK; ++b) {
    const int8_t* q8 = act.qs + b * kQK;
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += ((wb[b].qs[j] & 0xF) - 8) * q8[j];
      isum += ((wb[b].qs[j] >> 4) - 8) * q8[j + 16];
    }
    sum += static_cast<float>(isum) * (F16ToF32(wb[b].d) * act.d[b]);
  }
  return sum;
}

float DotQ5_0Row(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const BlockQ5_0* wb = reinterpret_cast<const BlockQ5_0*>(w);
  const ActQ8 act = ViewActQ8(a, cols);
  float sum = 0.0f;
  for (int64_t b = 0; b < cols / kQK; ++b) {
    const int8_t* q8 = act.qs + b * kQK;
    uint32_t qh;
    std::memcpy(&qh, wb[b].qh, 4);
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      isum += (((wb[b].qs[j] & 0xF) | h0) - 16) * q8[j];
      isum += (((wb[b].qs[j] >> 4) | h1) - 16) * q8[j + 16];
    }
    sum += static_cast<float>(isum) * (F16ToF32(wb[b].d) * act.d[b]);
  }
  return sum;
}

float DotQ4_KRow(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const BlockQ4_K* wb = reinterpret_cast<const BlockQ4_K*>(w);
  const BlockQ8_K* ab = reinterpret_cast<const BlockQ8_K*>(a);
  float sum = 0.0f;
  for (int64_t b = 0; b < cols / kQKK; ++b) {
    int32_t sumi = 0, summ = 0;
    const uint8_t* q = wb[b].qs;
    const int8_t* q8 = ab[b].qs;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      Q4KScaleMin(j, wb[b].scales, &sc, &m);
      const int shift = (j & 1) * 4;
      const uint8_t* qj = q + (j / 2) * 32;
      int32_t s = 0;
      for (int l = 0; l < 32; ++l) s += ((qj[l] >> shift) & 0xF) * q8[32 * j + l];
      sumi += sc * s;
      summ += m * (ab[b].bsums[2 * j] + ab[b].bsums[2 * j + 1]);
    }
    const float d = F16ToF32(wb[b].d) * ab[b].d;
    const float dmin = F16ToF32(wb[b].dmin) * ab[b].d;
    sum += d * static_cast<float>(sumi) - dmin * static_cast<float>(summ);
  }
  return sum;
}

float DotQ6_KRow(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const BlockQ6_K* wb = reinterpret_cast<const BlockQ6_K*>(w);
  const BlockQ8_K* ab = reinterpret_cast<const BlockQ8_K*>(a);
  float sum = 0.0f;
  for (int64_t b = 0; b < cols / kQKK; ++b) {
    int8_t q6[kQKK];
    const uint8_t* ql = wb[b].ql;
    const uint8_t* qh = wb[b].qh;
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32) {
      int8_t* o = q6 + 128 * half;
      for (int l = 0; l < 32; ++l) {
        o[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        o[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        o[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        o[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    int32_t sumi = 0;
    for (int j = 0; j < 16; ++j) {
      int32_t s = 0;
      for (int l = 0; l < 16; ++l) s += q6[16 * j + l] * ab[b].qs[16 * j + l];
      sumi += wb[b].scales[j] * s;
    }
    sum += F16ToF32(wb[b].d) * ab[b].d * static_cast<float>(sumi);
  }
  return sum;
}

using RowDotFn = float (*)(const uint8_t*, const uint8_t*, int64_t);
// kQ4_0P rows are not contiguous and kQ6_KL rows are in another order: GemmRefPanels16 and
// GemmRefQ6KLanes unpack them first.
constexpr RowDotFn kRowDots[kNumWTypes] = {DotF32Row,  DotF16Row,  DotBF16Row, DotQ8_0Row,
                                           DotQ4_0Row, DotQ5_0Row, DotQ4_KRow, DotQ6_KRow,
                                           nullptr,    nullptr};

template <WType T>
void GemmRef(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  constexpr RowDotFn dot = kRowDots[static_cast<int>(T)];
  for (int64_t t = t0; t < t1; ++t) {
    const uint8_t* act = a.act + t * a.act_stride;
    for (int64_t r = r0; r < r1; ++r) {
      a.y[t * a.y_stride + r] = dot(a.w + r * a.w_stride, act, a.cols);
    }
  }
}

void GemmRefPanels16(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  const MatrixView packed{DType::kQ4_0, r1, a.cols, a.w, a.w_stride, WeightLayout::kPanels16};
  std::vector<uint8_t> row(a.w_stride);
  for (int64_t r = r0; r < r1; ++r) {
    UnpackPanels16Row(packed, r, row.data());
    for (int64_t t = t0; t < t1; ++t)
      a.y[t * a.y_stride + r] = DotQ4_0Row(row.data(), a.act + t * a.act_stride, a.cols);
  }
}

// The activation rows are kQ8KLanes, whose first part is the kQ8K row DotQ6_KRow reads.
void GemmRefQ6KLanes(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  const MatrixView packed{DType::kQ6_K, r1, a.cols, a.w, a.w_stride, WeightLayout::kQ6KLanes};
  std::vector<uint8_t> row(static_cast<size_t>(a.cols / kQKK) * sizeof(BlockQ6_K));
  for (int64_t r = r0; r < r1; ++r) {
    UnpackQ6KLanesRow(packed, r, row.data());
    for (int64_t t = t0; t < t1; ++t)
      a.y[t * a.y_stride + r] = DotQ6_KRow(row.data(), a.act + t * a.act_stride, a.cols);
  }
}

void QuantizeActQ8KLanesRef(const float* x, int64_t cols, uint8_t* row) {
  QuantizeActQ8KRef(x, cols, row);
  AppendQ8KLanes(cols, row);
}

float DotF32Ref(const float* a, const float* b, int64_t n) {
  return SumLanes8(n, [&](int64_t i) { return a[i] * b[i]; });
}

void AxpyF32Ref(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void F16ToF32Ref(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = F16ToF32(src[i]);
}

}  // namespace

float RefDotRow(WType t, const uint8_t* wrow, const uint8_t* act_row, int64_t cols) {
  return kRowDots[static_cast<int>(t)](wrow, act_row, cols);
}

void RefQuantizeAct(ActKind kind, const float* x, int64_t cols, uint8_t* row) {
  switch (kind) {
    case ActKind::kQ8:
      return QuantizeActQ8Ref(x, cols, row);
    case ActKind::kQ8K:
      return QuantizeActQ8KRef(x, cols, row);
    case ActKind::kQ8KLanes:
      return QuantizeActQ8KLanesRef(x, cols, row);
    case ActKind::kF16:
      return QuantizeActF16Ref(x, cols, row);
    case ActKind::kBF16:
      return QuantizeActBF16Ref(x, cols, row);
    default:
      return;
  }
}

void FillScalarKernels(KernelSet* ks) {
  ks->isa = Isa::kScalar;
  ks->gemm[static_cast<int>(WType::kF32)] = GemmRef<WType::kF32>;
  ks->gemm[static_cast<int>(WType::kF16)] = GemmRef<WType::kF16>;
  ks->gemm[static_cast<int>(WType::kBF16)] = GemmRef<WType::kBF16>;
  ks->gemm[static_cast<int>(WType::kQ8_0)] = GemmRef<WType::kQ8_0>;
  ks->gemm[static_cast<int>(WType::kQ4_0)] = GemmRef<WType::kQ4_0>;
  ks->gemm[static_cast<int>(WType::kQ5_0)] = GemmRef<WType::kQ5_0>;
  ks->gemm[static_cast<int>(WType::kQ4_K)] = GemmRef<WType::kQ4_K>;
  ks->gemm[static_cast<int>(WType::kQ6_K)] = GemmRef<WType::kQ6_K>;
  ks->gemm[static_cast<int>(WType::kQ4_0P)] = GemmRefPanels16;
  ks->gemm[static_cast<int>(WType::kQ6_KL)] = GemmRefQ6KLanes;
  ks->act_quant[static_cast<int>(ActKind::kQ8)] = QuantizeActQ8Ref;
  ks->act_quant[static_cast<int>(ActKind::kQ8K)] = QuantizeActQ8KRef;
  ks->act_quant[static_cast<int>(ActKind::kF16)] = QuantizeActF16Ref;
  ks->act_quant[static_cast<int>(ActKind::kBF16)] = QuantizeActBF16Ref;
  ks->act_quant[static_cast<int>(ActKind::kQ8KLanes)] = QuantizeActQ8KLanesRef;
  ks->dot_f32 = DotF32Ref;
  ks->axpy_f32 = AxpyF32Ref;
  ks->f16_to_f32 = F16ToF32Ref;
}

}  // namespace llmux::kernels
