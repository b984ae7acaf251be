// Prefill GEMM for Q4_K / Q6_K weights x Q8_K activations on AVX-512 VNNI, compiled with
// LLMUX_AVX512_FLAGS and only called when the CPU has those features. No AMX.
//
// The scheme of avx512_packed_q0.cc applied to the K-quants: the codes of 16 rows are
// unpacked once per call into a panel where one zmm holds 4 consecutive codes of each of the
// 16 rows, and each sub-block's scale (and Q4_K's min) becomes a float per row. A broadcast
// activation dword and one vpdpbusd then advance all 16 rows; per sub-block and token the
// exact integer sum is scaled and added once, and nothing is summed across lanes. The
// register-tile kernels (avx512_kernels.cc) instead rebuild each row's codes and scales for
// every pair of tokens, which made Q4_K_M prefill slower than the *_0 formats.
//
// Per sub-block and token t (x the Q8_K codes, dx their scale):
//   Q4_K: y += (d sc) dx sum(q x) - (dmin m) dx sum(x)        q in [0, 16)
//   Q6_K: y += (d sc) dx (sum((q + 32) x) - 32 sum(x))         stored codes q + 32 in [0, 64)
// with sum(x) from the block's bsums (sums of 16 codes). Same products as the reference, in
// another order of float additions.
//
// Everything except the exported lookup lives in an anonymous namespace, and the shared
// header's functions are `static` (see avx512_kernels.cc for why).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "engine/backend/cpu/kernels/avx512_packed.h"
#include "engine/backend/cpu/kernels/blocks.h"
#include "engine/backend/cpu/kernels/packed_panels.h"
#include "engine/backend/cpu/kernels/q6k_lanes.h"

namespace llmux::kernels {
namespace {

constexpr int kPanelRows = 16;  // one zmm lane per row
constexpr int kSupers = 4;      // super-blocks per panel chunk: 16 KiB of codes, stays in L1
constexpr int kTokenTile = 8;   // tokens per register tile (8 float accumulators)
constexpr int kDwords = kQKK / 4;

inline int64_t Min64(int64_t a, int64_t b) { return a < b ? a : b; }

inline uint32_t Load32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline float Half(uint16_t h) { return _cvtsh_ss(h); }

template <WType T>
struct Format;

// Q4_K: 8 sub-blocks of 32, 6-bit scales and mins packed in 12 bytes.
template <>
struct Format<WType::kQ4_K> {
  static constexpr int kSubBlocks = 8;
  static constexpr bool kMins = true;
  static constexpr int64_t kStreamBytes = sizeof(BlockQ4_K);  // per block, in one stream

  static void Unpack(const uint8_t* row, int64_t, int64_t b, uint8_t* codes, float* scale,
                     float* mins) {
    UnpackQ4KBlock(reinterpret_cast<const BlockQ4_K*>(row)[b], codes, scale, mins);
  }
};

// Q6_K: 16 sub-blocks of 16, int8 scales; codes are q + 32 (4 bits in ql, 2 in qh).
template <>
struct Format<WType::kQ6_K> {
  static constexpr int kSubBlocks = 16;
  static constexpr bool kMins = false;
  static constexpr int64_t kStreamBytes = sizeof(BlockQ6_K);

  static void Unpack(const uint8_t* row, int64_t, int64_t b, uint8_t* codes, float* scale, float*) {
    UnpackQ6KBlock(reinterpret_cast<const BlockQ6_K*>(row)[b], codes, scale);
  }
};

// Q6_K in the lanes layout (q6k_lanes.h): the same codes and scales, another order. The
// stream is the codes; the scales (8% of the bytes) lie after them in the row.
template <>
struct Format<WType::kQ6_KL> {
  static constexpr int kSubBlocks = 16;
  static constexpr bool kMins = false;
  static constexpr int64_t kStreamBytes = kQ6KLanesCodeBytes;

  static void Unpack(const uint8_t* row, int64_t nb, int64_t b, uint8_t* codes, float* scale,
                     float*) {
    const uint8_t* c = row + b * kQ6KLanesCodeBytes;
    const __m512i m6 = _mm512_set1_epi8(0x3F), top = _mm512_set1_epi8(static_cast<char>(0xC0));
    const __m512i ca = _mm512_loadu_si512(c), cb = _mm512_loadu_si512(c + 64),
                  cc = _mm512_loadu_si512(c + 128);
    // Vector 3 from bits 6-7 of a, b, c (masked first, so the 16-bit shifts carry nothing
    // across bytes).
    const __m512i v3 =
        _mm512_ternarylogic_epi32(_mm512_srli_epi16(_mm512_and_si512(ca, top), 6),
                                  _mm512_srli_epi16(_mm512_and_si512(cb, top), 4),
                                  _mm512_srli_epi16(_mm512_and_si512(cc, top), 2), 0xFE);
    const __m512i v[4] = {_mm512_and_si512(ca, m6), _mm512_and_si512(cb, m6),
                          _mm512_and_si512(cc, m6), v3};
    // Element order: dword 4i + k of the codes is dword i of vector k.
    const __m512i t0 = _mm512_unpacklo_epi32(v[0], v[1]), t1 = _mm512_unpackhi_epi32(v[0], v[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(v[2], v[3]), t3 = _mm512_unpackhi_epi32(v[2], v[3]);
    // u[q], 128-bit lane L: the four dwords of sub-block 4L + q.
    const __m512i u[4] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2),
                          _mm512_unpacklo_epi64(t1, t3), _mm512_unpackhi_epi64(t1, t3)};
    // Sub-blocks 4L..4L+3 (codes 64L..64L+63) are lane L of u[0..3].
    const __m512i lo01 = _mm512_shuffle_i64x2(u[0], u[1], _MM_SHUFFLE(1, 0, 1, 0));  // L0,L1
    const __m512i lo23 = _mm512_shuffle_i64x2(u[2], u[3], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512i hi01 = _mm512_shuffle_i64x2(u[0], u[1], _MM_SHUFFLE(3, 2, 3, 2));  // L2,L3
    const __m512i hi23 = _mm512_shuffle_i64x2(u[2], u[3], _MM_SHUFFLE(3, 2, 3, 2));
    // lo01 = [u0.L0, u0.L1, u1.L0, u1.L1]; out L0 = [u0.L0, u1.L0, u2.L0, u3.L0].
    const __m512i idx_even = _mm512_set_epi64(13, 12, 9, 8, 5, 4, 1, 0);
    const __m512i idx_odd = _mm512_set_epi64(15, 14, 11, 10, 7, 6, 3, 2);
    _mm512_storeu_si512(codes, _mm512_permutex2var_epi64(lo01, idx_even, lo23));
    _mm512_storeu_si512(codes + 64, _mm512_permutex2var_epi64(lo01, idx_odd, lo23));
    _mm512_storeu_si512(codes + 128, _mm512_permutex2var_epi64(hi01, idx_even, hi23));
    _mm512_storeu_si512(codes + 192, _mm512_permutex2var_epi64(hi01, idx_odd, hi23));
    const int8_t* sc = reinterpret_cast<const int8_t*>(row + nb * kQ6KLanesCodeBytes) + 16 * b;
    uint16_t dh;
    std::memcpy(&dh, row + nb * (kQ6KLanesCodeBytes + 16) + 2 * b, 2);
    const float d = Half(dh);
    for (int j = 0; j < 16; ++j) scale[j] = d * static_cast<float>(sc[j]);
  }
};

struct Panel {
  // codes[s][j]: bytes 4r..4r+3 are codes 4j..4j+3 of super-block s of row r.
  alignas(64) uint8_t codes[kSupers][kDwords][64];
  // scale[s][g][r], mins[s][g][r]: sub-block g of super-block s of row r (0 for missing rows).
  alignas(64) float scale[kSupers][16][kPanelRows];
  alignas(64) float mins[kSupers][8][kPanelRows];
};

// Unpacks rows [r, r + nr) x super-blocks [b0, b0 + kb) into the panel, four rows at a time:
// a 4 x 8 dword transpose turns four rows of 32 codes into the 16-byte slices of eight zmm.
template <WType T>
void PackPanel(const GemmArgs& a, int64_t r, int nr, int64_t b0, int kb, Panel* panel) {
  using F = Format<T>;
  const int64_t nb = a.cols / kQKK;
  alignas(32) uint8_t codes[4][kQKK];
  float scale[4][16], mins[4][8];
  for (int g = 0; g < kPanelRows; g += 4) {
    for (int b = 0; b < kb; ++b) {
      for (int i = 0; i < 4; ++i) {
        if (g + i < nr) {
          F::Unpack(a.w + (r + g + i) * a.w_stride, nb, b0 + b, codes[i], scale[i], mins[i]);
        } else {
          std::memset(codes[i], 0, sizeof(codes[i]));
          std::memset(scale[i], 0, sizeof(scale[i]));
          std::memset(mins[i], 0, sizeof(mins[i]));
        }
        for (int s = 0; s < F::kSubBlocks; ++s) panel->scale[b][s][g + i] = scale[i][s];
        if constexpr (F::kMins) {
          for (int s = 0; s < 8; ++s) panel->mins[b][s][g + i] = mins[i][s];
        }
      }
      for (int c = 0; c < kQKK / 32; ++c) {
        __m256i v[4];
        for (int i = 0; i < 4; ++i)
          v[i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(codes[i] + 32 * c));
        const __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]),
                      t1 = _mm256_unpackhi_epi32(v[0], v[1]);
        const __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]),
                      t3 = _mm256_unpackhi_epi32(v[2], v[3]);
        // u[k]: low lane = dword k of the four rows' 32 codes, high lane = dword k + 4.
        const __m256i u[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2),
                              _mm256_unpacklo_epi64(t1, t3), _mm256_unpackhi_epi64(t1, t3)};
        for (int k = 0; k < 4; ++k) {
          _mm_store_si128(reinterpret_cast<__m128i*>(panel->codes[b][8 * c + k] + 4 * g),
                          _mm256_castsi256_si128(u[k]));
          _mm_store_si128(reinterpret_cast<__m128i*>(panel->codes[b][8 * c + k + 4] + 4 * g),
                          _mm256_extracti128_si256(u[k], 1));
        }
      }
    }
  }
}

// Fetches the next chunk of this call into L2 while the current one is multiplied.
template <WType T>
void PrefetchChunk(const GemmArgs& a, int64_t r, int64_t r1, int64_t b0, int64_t nb) {
  PrefetchPanelChunk(a.w, a.w_stride, r, Min64(kPanelRows, r1 - r), b0, Min64(kSupers, nb - b0),
                     Format<T>::kStreamBytes);
}

// y[t][0..16) (+)= the panel chunk times token t, for NT tokens (their Q8_K blocks of the
// chunk at x[t]); `mask` selects the rows that exist.
template <WType T, int NT>
void PanelKernel(const Panel& p, int kb, const BlockQ8_K* const* x, float* y, int64_t y_stride,
                 __mmask16 mask, bool first) {
  using F = Format<T>;
  constexpr int kSubDwords = kDwords / F::kSubBlocks;  // 8 (Q4_K) or 4 (Q6_K)
  __m512 acc[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t)
    acc[t] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, y + t * y_stride);
  for (int b = 0; b < kb; ++b) {
    // Two Q6_K sub-blocks (one Q4_K sub-block) per step: 8 code vectors.
    for (int j0 = 0; j0 < kDwords; j0 += 8) {
      __m512i w[8];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) w[j] = _mm512_load_si512(p.codes[b][j0 + j]);
      constexpr int kSubs = 8 / kSubDwords;
      __m512 sc[kSubs], mn;
#pragma GCC unroll 2
      for (int s = 0; s < kSubs; ++s) sc[s] = _mm512_load_ps(p.scale[b][j0 / kSubDwords + s]);
      if constexpr (F::kMins) mn = _mm512_load_ps(p.mins[b][j0 / 8]);
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const BlockQ8_K& xb = x[t][b];
        const __m512 dx = _mm512_set1_ps(xb.d);
#pragma GCC unroll 2
        for (int s = 0; s < kSubs; ++s) {
          const int sub = j0 / kSubDwords + s;
          __m512i acc_i;
          if constexpr (F::kMins) {
            acc_i = _mm512_setzero_si512();
          } else {
            acc_i = _mm512_set1_epi32(-32 * xb.bsums[sub]);  // codes are q + 32
          }
#pragma GCC unroll 8
          for (int j = 0; j < kSubDwords; ++j) {
            const int dw = j0 + s * kSubDwords + j;
            acc_i =
                _mm512_dpbusd_epi32(acc_i, w[s * kSubDwords + j],
                                    _mm512_set1_epi32(static_cast<int>(Load32(xb.qs + 4 * dw))));
          }
          acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc_i), _mm512_mul_ps(sc[s], dx), acc[t]);
          if constexpr (F::kMins) {
            const float sum_x = static_cast<float>(xb.bsums[2 * sub] + xb.bsums[2 * sub + 1]);
            acc[t] = _mm512_fnmadd_ps(mn, _mm512_set1_ps(sum_x * xb.d), acc[t]);
          }
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * y_stride, mask, acc[t]);
}

template <WType T, int N = 1>
inline void RunPanelKernel(int nt, const Panel& p, int kb, const BlockQ8_K* const* x, float* y,
                           int64_t y_stride, __mmask16 mask, bool first) {
  if (nt == N) {
    PanelKernel<T, N>(p, kb, x, y, y_stride, mask, first);
  } else if constexpr (N < kTokenTile) {
    RunPanelKernel<T, N + 1>(nt, p, kb, x, y, y_stride, mask, first);
  }
}

template <WType T>
void GemmPackedK(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  const int64_t nb = a.cols / kQKK;
  Panel panel;
  const BlockQ8_K* x[kTokenTile];
  PrefetchChunk<T>(a, r0, r1, 0, nb);
  for (int64_t r = r0; r < r1; r += kPanelRows) {
    const int nr = static_cast<int>(Min64(kPanelRows, r1 - r));
    const __mmask16 mask = static_cast<__mmask16>((1u << nr) - 1);
    for (int64_t b0 = 0; b0 < nb; b0 += kSupers) {
      const int kb = static_cast<int>(Min64(kSupers, nb - b0));
      PackPanel<T>(a, r, nr, b0, kb, &panel);
      if (b0 + kSupers < nb) {
        PrefetchChunk<T>(a, r, r1, b0 + kSupers, nb);
      } else if (r + kPanelRows < r1) {
        PrefetchChunk<T>(a, r + kPanelRows, r1, 0, nb);
      }
      for (int64_t t = t0; t < t1; t += kTokenTile) {
        const int nt = static_cast<int>(Min64(kTokenTile, t1 - t));
        for (int i = 0; i < nt; ++i)
          x[i] = reinterpret_cast<const BlockQ8_K*>(a.act + (t + i) * a.act_stride) + b0;
        RunPanelKernel<T>(nt, panel, kb, x, a.y + t * a.y_stride + r, a.y_stride, mask, b0 == 0);
      }
    }
  }
}

}  // namespace

GemmFn PackedKGemmAvx512(WType t) {
  switch (t) {
    case WType::kQ4_K:
      return GemmPackedK<WType::kQ4_K>;
    case WType::kQ6_K:
      return GemmPackedK<WType::kQ6_K>;
    case WType::kQ6_KL:
      return GemmPackedK<WType::kQ6_KL>;
    default:
      return nullptr;
  }
}

}  // namespace llmux::kernels
