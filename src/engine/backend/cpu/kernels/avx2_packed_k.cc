// Prefill GEMM for Q4_K / Q6_K weights x Q8_K activations on AVX2, compiled with
// LLMUX_AVX2_FLAGS and only called when the CPU has them.
//
// The scheme of avx512_packed_k.cc with vpmaddubsw for vpdpbusd: each call unpacks 16 rows x
// 4 super-blocks into an L1 panel where one ymm holds 4 consecutive codes of each of 8 rows,
// and each sub-block's scale (and Q4_K's min) becomes a float per row. A broadcast activation
// dword and one vpmaddubsw then advance 8 rows. Per sub-block the pair sums add up in int16
// (Q4_K: 8 x 2 x 15 x 128 = 30720; Q6_K's codes q + 32 < 64: two at a time), are widened once,
// and are scaled and added once per token. The register tiles of avx2_kernels.cc instead
// rebuild each row's codes and scales for every pair of tokens and widen every 32 values.
//
// Per sub-block and token t (x the Q8_K codes, dx their scale), as in the AVX-512 file:
//   Q4_K: y += (d sc) dx sum(q x) - (dmin m) dx sum(x)        q in [0, 16)
//   Q6_K: y += (d sc) dx (sum((q + 32) x) - 32 sum(x))         stored codes q + 32 in [0, 64)
// The integer sums are exact; the float additions run in a fixed order per token, so a
// token's result does not depend on the other tokens of the call.
//
// Everything except the exported lookup lives in an anonymous namespace, and the shared
// header's functions are `static` (see avx2_kernels.cc for why).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cstdint>

#include "engine/backend/cpu/kernels/avx2_packed.h"
#include "engine/backend/cpu/kernels/blocks.h"
#include "engine/backend/cpu/kernels/packed_panels.h"

namespace llmux::kernels {
namespace {

constexpr int kGroupRows = kAvx2GroupRows;
constexpr int kGroups = kAvx2PanelRows / kAvx2GroupRows;
constexpr int kSupers = 4;     // super-blocks per panel chunk: 16 KiB of codes, stays in L1
constexpr int kTokenTile = 4;  // tokens per register tile, beside 8 code vectors
constexpr int kDwords = kQKK / 4;

template <WType T>
struct Format;

template <>
struct Format<WType::kQ4_K> {
  using Block = BlockQ4_K;
  static constexpr int kSubBlocks = 8;  // of 32 values
  static constexpr bool kMins = true;
  static void Unpack(const Block& b, uint8_t* codes, float* scale, float* mins) {
    UnpackQ4KBlock(b, codes, scale, mins);
  }
};

template <>
struct Format<WType::kQ6_K> {
  using Block = BlockQ6_K;
  static constexpr int kSubBlocks = 16;  // of 16 values
  static constexpr bool kMins = false;
  static void Unpack(const Block& b, uint8_t* codes, float* scale, float*) {
    UnpackQ6KBlock(b, codes, scale);
  }
};

struct Panel {
  // codes[s][g][j]: bytes 4i..4i+3 are codes 4j..4j+3 of super-block s of row 8g + i.
  alignas(32) uint8_t codes[kSupers][kGroups][kDwords][32];
  // scale[s][g][k][i], mins[s][g][k][i]: sub-block k of super-block s of row 8g + i (0 for
  // missing rows).
  alignas(32) float scale[kSupers][kGroups][16][kGroupRows];
  alignas(32) float mins[kSupers][kGroups][8][kGroupRows];
};

// Unpacks rows [r, r + nr) x super-blocks [b0, b0 + kb) into the panel, eight rows at a time:
// an 8 x 8 dword transpose turns eight rows of 32 codes into eight code vectors.
template <WType T>
void PackPanel(const GemmArgs& a, int64_t r, int nr, int64_t b0, int kb, Panel* panel) {
  using F = Format<T>;
  alignas(32) uint8_t codes[kGroupRows][kQKK];
  float scale[kGroupRows][16], mins[kGroupRows][8];
  for (int g = 0; g < kGroups && kGroupRows * g < nr; ++g) {
    for (int b = 0; b < kb; ++b) {
      for (int i = 0; i < kGroupRows; ++i) {
        const int row = kGroupRows * g + i;
        if (row < nr) {
          F::Unpack(
              reinterpret_cast<const typename F::Block*>(a.w + (r + row) * a.w_stride)[b0 + b],
              codes[i], scale[i], mins[i]);
        } else {
          std::memset(codes[i], 0, sizeof(codes[i]));
          std::memset(scale[i], 0, sizeof(scale[i]));
          std::memset(mins[i], 0, sizeof(mins[i]));
        }
        for (int k = 0; k < F::kSubBlocks; ++k) panel->scale[b][g][k][i] = scale[i][k];
        if constexpr (F::kMins) {
          for (int k = 0; k < 8; ++k) panel->mins[b][g][k][i] = mins[i][k];
        }
      }
      for (int c = 0; c < kQKK / 32; ++c) {  // dwords 8c .. 8c + 7
        __m256i v[kGroupRows], out[8];
        for (int i = 0; i < kGroupRows; ++i)
          v[i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(codes[i] + 32 * c));
        Transpose8x8(v, out);
        for (int k = 0; k < 8; ++k)
          _mm256_store_si256(reinterpret_cast<__m256i*>(panel->codes[b][g][8 * c + k]), out[k]);
      }
    }
  }
}

// y[t][0..8) (+)= group g of the panel chunk times token t, for NT tokens (their Q8_K blocks
// of the chunk at x[t]); `mask` selects the rows that exist.
template <WType T, int NT>
void GroupKernel(const Panel& p, int g, int kb, const BlockQ8_K* const* x, float* y,
                 int64_t y_stride, __m256i mask, bool first) {
  using F = Format<T>;
  constexpr int kSubDwords = kDwords / F::kSubBlocks;  // 8 (Q4_K) or 4 (Q6_K)
  constexpr int kSubs = 8 / kSubDwords;                // sub-blocks per 8 code vectors
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t)
    acc[t] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(y + t * y_stride, mask);
  for (int b = 0; b < kb; ++b) {
    for (int j0 = 0; j0 < kDwords; j0 += 8) {
      __m256i w[8];
      for (int j = 0; j < 8; ++j)
        w[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.codes[b][g][j0 + j]));
      for (int t = 0; t < NT; ++t) {
        const BlockQ8_K& xb = x[t][b];
        const __m256 dx = _mm256_set1_ps(xb.d);
        const int8_t* q = xb.qs + 4 * j0;
        for (int s = 0; s < kSubs; ++s) {
          const int sub = j0 / kSubDwords + s;
          __m256i sum;
          if constexpr (F::kMins) {
            __m256i s16 = _mm256_maddubs_epi16(w[0], Avx2Broadcast32(q));
            for (int j = 1; j < 8; ++j)
              s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(w[j], Avx2Broadcast32(q + 4 * j)));
            sum = _mm256_madd_epi16(s16, ones);
          } else {
            const int8_t* qs = q + 16 * s;
            const __m256i* ws = w + 4 * s;
            const __m256i lo =
                _mm256_add_epi16(_mm256_maddubs_epi16(ws[0], Avx2Broadcast32(qs)),
                                 _mm256_maddubs_epi16(ws[1], Avx2Broadcast32(qs + 4)));
            const __m256i hi =
                _mm256_add_epi16(_mm256_maddubs_epi16(ws[2], Avx2Broadcast32(qs + 8)),
                                 _mm256_maddubs_epi16(ws[3], Avx2Broadcast32(qs + 12)));
            sum = _mm256_add_epi32(
                _mm256_add_epi32(_mm256_madd_epi16(lo, ones), _mm256_madd_epi16(hi, ones)),
                _mm256_set1_epi32(-32 * xb.bsums[sub]));  // codes are q + 32
          }
          acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum),
                                   _mm256_mul_ps(_mm256_load_ps(p.scale[b][g][sub]), dx), acc[t]);
          if constexpr (F::kMins) {
            const float sum_x = static_cast<float>(xb.bsums[2 * sub] + xb.bsums[2 * sub + 1]);
            acc[t] = _mm256_fnmadd_ps(_mm256_load_ps(p.mins[b][g][sub]),
                                      _mm256_set1_ps(sum_x * xb.d), acc[t]);
          }
        }
      }
    }
  }
  for (int t = 0; t < NT; ++t) _mm256_maskstore_ps(y + t * y_stride, mask, acc[t]);
}

template <WType T, int N = 1>
inline void RunGroupKernel(int nt, const Panel& p, int g, int kb, const BlockQ8_K* const* x,
                           float* y, int64_t y_stride, __m256i mask, bool first) {
  if (nt == N) {
    GroupKernel<T, N>(p, g, kb, x, y, y_stride, mask, first);
  } else if constexpr (N < kTokenTile) {
    RunGroupKernel<T, N + 1>(nt, p, g, kb, x, y, y_stride, mask, first);
  }
}

template <WType T>
void GemmPackedK(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  Panel panel;
  const BlockQ8_K* x[kTokenTile];
  Avx2PanelLoop<kSupers, kTokenTile>(
      a, r0, r1, t0, t1, a.cols / kQKK, sizeof(typename Format<T>::Block),
      [&](int64_t r, int nr, int64_t b0, int kb) { PackPanel<T>(a, r, nr, b0, kb, &panel); },
      [&](int g, __m256i mask, int64_t r, int64_t b0, int kb, int64_t t, int nt) {
        for (int i = 0; i < nt; ++i)
          x[i] = reinterpret_cast<const BlockQ8_K*>(a.act + (t + i) * a.act_stride) + b0;
        RunGroupKernel<T>(nt, panel, g, kb, x, a.y + t * a.y_stride + r + kGroupRows * g,
                          a.y_stride, mask, b0 == 0);
      });
}

}  // namespace

GemmFn PackedKGemmAvx2(WType t) {
  switch (t) {
    case WType::kQ4_K:
      return GemmPackedK<WType::kQ4_K>;
    case WType::kQ6_K:
      return GemmPackedK<WType::kQ6_K>;
    default:
      return nullptr;
  }
}

}  // namespace llmux::kernels
