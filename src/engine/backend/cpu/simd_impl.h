// The model's vector kernels, written once over a small vector interface V and instantiated
// per instruction set (simd_scalar.cc, simd_avx2.cc, simd_avx512.cc). Everything here has
// internal linkage, so code compiled with AVX-512 flags never leaks into other translation
// units (no std:: templates either, for the same reason).
//
// Attention: for a block of up to kRowBlock query rows (the query heads of one kv head, token by
// token), it computes scores against the cached K, the softmax (max-subtracted, in F32),
// and the score-weighted sum of the cached V rows. With many rows per task, K is first
// copied into scratch transposed in blocks of W positions, so scores for W positions come
// out of W-wide FMAs with no horizontal sums.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/backend/cpu/simd_kernels.h"

namespace llmux::simd {
namespace {

// Where the K and V rows of one kv head are: F32 rows at a fixed stride (the single-sequence
// cache, or rows gathered into scratch) ...
struct FlatRows {
  static constexpr bool kFlat = true;
  const float* k;
  const float* v;
  int stride;
  const float* K(int p) const { return k + static_cast<int64_t>(p) * stride; }
  const float* V(int p) const { return v + static_cast<int64_t>(p) * stride; }
};

// ... or F16 rows in the paged cache's blocks, read in place (decode).
struct PagedHalfRows {
  static constexpr bool kFlat = false;
  const uint16_t* k;  // head g of block 0
  const uint16_t* v;
  const int32_t* blocks;
  int shift;  // log2(block size)
  int head_dim;
  int64_t block_stride;  // elements from one block to the next
  int64_t Offset(int p) const {
    return static_cast<int64_t>(blocks[p >> shift]) * block_stride +
           static_cast<int64_t>(p & ((1 << shift) - 1)) * head_dim;
  }
  const uint16_t* K(int p) const { return k + Offset(p); }
  const uint16_t* V(int p) const { return v + Offset(p); }
};

template <class V>
struct AttentionKernel {
  using R = typename V::Reg;
  static constexpr int W = V::kWidth;
  static constexpr int kPvChunks = V::kPvChunks;  // output vectors per row kept in registers

  static int Min(int a, int b) { return a < b ? a : b; }
  static R LoadE(const float* p) { return V::Load(p); }
  static R LoadE(const uint16_t* p) { return V::LoadHalf(p); }

  // s[r][p] = scale * q[r] . k[p] for p < n, K rows read directly (few rows per task).
  template <int NR, class Rows>
  static void ScoresDirect(const float* const* q, const Rows& rows, int hd, int n, float scale,
                           float* const* s) {
    for (int p = 0; p < n; ++p) {
      const auto* kp = rows.K(p);
      R acc0[NR], acc1[NR];
      for (int r = 0; r < NR; ++r) acc0[r] = acc1[r] = V::Zero();
      int d = 0;
      for (; d + 2 * W <= hd; d += 2 * W) {
        const R k0 = LoadE(kp + d), k1 = LoadE(kp + d + W);
        for (int r = 0; r < NR; ++r) {
          acc0[r] = V::Fma(V::Load(q[r] + d), k0, acc0[r]);
          acc1[r] = V::Fma(V::Load(q[r] + d + W), k1, acc1[r]);
        }
      }
      for (; d < hd; d += W) {
        const R k0 = LoadE(kp + d);
        for (int r = 0; r < NR; ++r) acc0[r] = V::Fma(V::Load(q[r] + d), k0, acc0[r]);
      }
      for (int r = 0; r < NR; ++r) s[r][p] = V::ReduceAdd(V::Add(acc0[r], acc1[r])) * scale;
    }
  }

  // kt = K rows [0, n) transposed in blocks: block b holds hd x W floats, kt[b][d][w] =
  // K[b*W + w][d], zero past n (up to the padding).
  static void TransposeK(const float* k, int kv_stride, int hd, int n, float* kt) {
    const int n_pad = PadPositions(n);
    for (int pb = 0; pb < n_pad; pb += W) {
      float* blk = kt + static_cast<int64_t>(pb) * hd;
      for (int w = 0; w < W; ++w) {
        const int p = pb + w;
        if (p < n) {
          const float* kp = k + static_cast<int64_t>(p) * kv_stride;
          for (int d = 0; d < hd; ++d) blk[d * W + w] = kp[d];
        } else {
          for (int d = 0; d < hd; ++d) blk[d * W + w] = 0.0f;
        }
      }
    }
  }

  // As ScoresDirect, from the transposed copy; writes whole blocks (up to padding).
  template <int NR>
  static void ScoresTransposed(const float* const* q, const float* kt, int hd, int n, float scale,
                               float* const* s) {
    const int n_blocks = (n + W - 1) / W;
    const R vscale = V::Set1(scale);
    int b = 0;
    for (; b + 2 <= n_blocks; b += 2) {
      const float* k0 = kt + static_cast<int64_t>(b) * W * hd;
      const float* k1 = k0 + W * hd;
      R a0[NR], a1[NR];
      for (int r = 0; r < NR; ++r) a0[r] = a1[r] = V::Zero();
      for (int d = 0; d < hd; ++d) {
        const R x0 = V::Load(k0 + d * W), x1 = V::Load(k1 + d * W);
        for (int r = 0; r < NR; ++r) {
          const R qv = V::Set1(q[r][d]);
          a0[r] = V::Fma(qv, x0, a0[r]);
          a1[r] = V::Fma(qv, x1, a1[r]);
        }
      }
      for (int r = 0; r < NR; ++r) {
        V::Store(s[r] + b * W, V::Mul(a0[r], vscale));
        V::Store(s[r] + (b + 1) * W, V::Mul(a1[r], vscale));
      }
    }
    if (b < n_blocks) {
      const float* k0 = kt + static_cast<int64_t>(b) * W * hd;
      R a0[NR];
      for (int r = 0; r < NR; ++r) a0[r] = V::Zero();
      for (int d = 0; d < hd; ++d) {
        const R x0 = V::Load(k0 + d * W);
        for (int r = 0; r < NR; ++r) a0[r] = V::Fma(V::Set1(q[r][d]), x0, a0[r]);
      }
      for (int r = 0; r < NR; ++r) V::Store(s[r] + b * W, V::Mul(a0[r], vscale));
    }
  }

  // Softmax of s[0, n) in place; s[n, n_zero) set to 0.
  static void Softmax(float* s, int n, int n_zero) {
    int p = 0;
    float mx = -INFINITY;
    if (n >= W) {
      R vmax = V::Load(s);
      for (p = W; p + W <= n; p += W) vmax = V::Max(vmax, V::Load(s + p));
      mx = V::ReduceMax(vmax);
    }
    for (; p < n; ++p) mx = s[p] > mx ? s[p] : mx;
    const R vm = V::Set1(mx);
    R vsum = V::Zero();
    for (p = 0; p + W <= n; p += W) {
      const R e = V::Exp(V::Sub(V::Load(s + p), vm));
      V::Store(s + p, e);
      vsum = V::Add(vsum, e);
    }
    float sum = V::ReduceAdd(vsum);
    for (; p < n; ++p) {
      const float e = std::exp(s[p] - mx);
      s[p] = e;
      sum += e;
    }
    const float inv = 1.0f / sum;
    const R vinv = V::Set1(inv);
    for (p = 0; p + W <= n; p += W) V::Store(s + p, V::Mul(V::Load(s + p), vinv));
    for (; p < n; ++p) s[p] *= inv;
    for (p = n; p < n_zero; ++p) s[p] = 0.0f;
  }

  // out[r][d0 .. d0 + NC*W) = sum_p s[r][p] * V[p][d0 ..], p < n.
  template <int NR, int NC, class Rows>
  static void WeightedV(const float* const* s, const Rows& rows, int n, int d0, float* const* out) {
    R acc[NR][NC];
    for (int r = 0; r < NR; ++r) {
      for (int c = 0; c < NC; ++c) acc[r][c] = V::Zero();
    }
    for (int p = 0; p < n; ++p) {
      const auto* vp = rows.V(p) + d0;
      R x[NC];
      for (int c = 0; c < NC; ++c) x[c] = LoadE(vp + c * W);
      for (int r = 0; r < NR; ++r) {
        const R sp = V::Set1(s[r][p]);
        for (int c = 0; c < NC; ++c) acc[r][c] = V::Fma(sp, x[c], acc[r][c]);
      }
    }
    for (int r = 0; r < NR; ++r) {
      for (int c = 0; c < NC; ++c) V::Store(out[r] + d0 + c * W, acc[r][c]);
    }
  }

  template <int NR, class Rows>
  static void Block(const AttentionTask& t, const float* const* q, float* const* s,
                    float* const* out, const int* n_kv, const Rows& rows, const float* kt) {
    const int hd = t.head_dim;
    const int n = n_kv[NR - 1];  // rows are in token order: the last one sees the most
    if (Rows::kFlat && t.transpose_k) {
      ScoresTransposed<NR>(q, kt, hd, n, t.scale, s);
    } else {
      ScoresDirect<NR>(q, rows, hd, n, t.scale, s);
    }
    for (int r = 0; r < NR; ++r) Softmax(s[r], n_kv[r], n);
    int d = 0;
    for (; d + kPvChunks * W <= t.v_dim; d += kPvChunks * W) {
      WeightedV<NR, kPvChunks>(s, rows, n, d, out);
    }
    for (; d < t.v_dim; d += W) WeightedV<NR, 1>(s, rows, n, d, out);
  }

  static void Run(const AttentionTask& t) {
    if (t.k16 != nullptr) {
      RunRows(t, PagedHalfRows{t.k16, t.v16, t.blocks, t.block_shift, t.head_dim,
                               t.block_stride});
    } else {
      RunRows(t, FlatRows{t.k, t.v, t.kv_stride});
    }
  }

  template <class Rows>
  static void RunRows(const AttentionTask& t, const Rows& rows) {
    const int hd = t.head_dim;
    const int n_rows = (t.t_end - t.t_begin) * t.group;
    const int n_max = t.pos0 + t.t_end;
    const int n_pad = PadPositions(n_max);
    float* kt = t.scratch + static_cast<int64_t>(kRowBlock) * n_pad;
    if (Rows::kFlat && t.transpose_k) TransposeK(t.k, t.kv_stride, hd, n_max, kt);
    for (int i = 0; i < n_rows; i += kRowBlock) {
      const int nr = Min(kRowBlock, n_rows - i);
      const float* q[kRowBlock];
      float* out[kRowBlock];
      float* s[kRowBlock];
      int n_kv[kRowBlock];
      for (int r = 0; r < nr; ++r) {
        const int token = t.t_begin + (i + r) / t.group;
        const int head = t.g * t.group + (i + r) % t.group;
        q[r] = t.q + token * t.q_stride + static_cast<int64_t>(head) * hd;
        out[r] = t.out + token * t.out_stride + static_cast<int64_t>(head) * t.v_dim;
        s[r] = t.scratch + static_cast<int64_t>(r) * n_pad;
        n_kv[r] = t.pos0 + token + 1;
      }
      switch (nr) {
        case 4:
          Block<4>(t, q, s, out, n_kv, rows, kt);
          break;
        case 3:
          Block<3>(t, q, s, out, n_kv, rows, kt);
          break;
        case 2:
          Block<2>(t, q, s, out, n_kv, rows, kt);
          break;
        default:
          Block<1>(t, q, s, out, n_kv, rows, kt);
          break;
      }
    }
  }
};

template <class V>
struct ElementwiseKernels {
  using R = typename V::Reg;
  static constexpr int W = V::kWidth;

  static void SwiGlu(float* gate, const float* up, int64_t n) {
    const R one = V::Set1(1.0f), zero = V::Zero();
    int64_t i = 0;
    for (; i + W <= n; i += W) {
      const R g = V::Load(gate + i);
      const R silu = V::Div(g, V::Add(one, V::Exp(V::Sub(zero, g))));
      V::Store(gate + i, V::Mul(silu, V::Load(up + i)));
    }
    for (; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  }

  static double SumSquares(const float* x, int64_t n) {
    typename V::DReg acc0 = V::DZero(), acc1 = V::DZero();
    int64_t i = 0;
    for (; i + W <= n; i += W) V::AccumulateSquares(V::Load(x + i), acc0, acc1);
    double sum = V::DReduceAdd(acc0, acc1);
    for (; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
    return sum;
  }
};

template <class V>
void FillOps(Ops* ops, const char* name) {
  ops->name = name;
  ops->width = V::kWidth;
  ops->attention = &AttentionKernel<V>::Run;
  ops->swiglu = &ElementwiseKernels<V>::SwiGlu;
  ops->sum_squares = &ElementwiseKernels<V>::SumSquares;
}

}  // namespace
}  // namespace llmux::simd
