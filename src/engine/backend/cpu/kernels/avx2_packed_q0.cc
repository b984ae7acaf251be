// Prefill GEMM for Q8_0 / Q4_0 / Q5_0 weights x Q8 activations on AVX2, compiled with
// LLMUX_AVX2_FLAGS and only called when the CPU has them.
//
// The scheme of avx512_packed_q0.cc with 8-row groups: each call unpacks 16 rows x 16 blocks
// into an L1 panel where one ymm holds 4 consecutive codes of each of 8 rows, so a broadcast
// activation dword and one vpmaddubsw advance 8 rows, and the block's scale is a float per
// row. vpmaddubsw needs an unsigned operand:
//   Q4_0 / Q5_0: the codes q + 8 / q + 16 as they are stored; the pair sums add up in int16
//     (8 x 2 x 15 x 128 = 30720; 4 x 2 x 31 x 128 = 31744), are widened once per block and
//     start from -8 / -16 x sum(x), which cancels the offset exactly.
//   Q8_0: |q| against the activations with q's sign (vpsignb), widened every dword (a pair
//     sum may reach 2 x 128 x 127).
// The integer block sums are exact; per token, blocks are scaled and added in a fixed order,
// so a token's result does not depend on the other tokens of the call.
//
// Everything except the exported lookup lives in an anonymous namespace, and the shared
// header's functions are `static` (see avx2_kernels.cc for why).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "engine/backend/cpu/kernels/avx2_packed.h"
#include "engine/backend/cpu/kernels/blocks.h"
#include "engine/backend/cpu/kernels/packed_panels.h"

namespace llmux::kernels {
namespace {

constexpr int kGroupRows = kAvx2GroupRows;
constexpr int kGroups = kAvx2PanelRows / kAvx2GroupRows;
constexpr int kKBlocks = 16;   // blocks per panel chunk: 8 KiB of codes (Q8_0: and 8 of signs)
constexpr int kTokenTile = 4;  // tokens per register tile, beside 8 code vectors

inline uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t Load32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// 16 nibble bytes as 32 values: low nibbles (elements 0-15), then high nibbles (16-31).
inline __m256i Nibbles(const uint8_t* qs) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
  return _mm256_and_si256(t, _mm256_set1_epi8(0x0F));
}

// The 32 codes of one block in element order: signed q (Q8_0) or unsigned q + kBias.
template <WType T>
struct Format;

template <>
struct Format<WType::kQ8_0> {
  static constexpr int kBlockBytes = 34;
  static constexpr bool kSigned = true;
  static constexpr int kBias = 0;
  static constexpr int kInt16Dwords = 1;
  static inline __m256i Codes(const uint8_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2));
  }
};

template <>
struct Format<WType::kQ4_0> {
  static constexpr int kBlockBytes = 18;
  static constexpr bool kSigned = false;
  static constexpr int kBias = 8;
  static constexpr int kInt16Dwords = 8;
  static inline __m256i Codes(const uint8_t* p) { return Nibbles(p + 2); }
};

template <>
struct Format<WType::kQ5_0> {
  static constexpr int kBlockBytes = 22;
  static constexpr bool kSigned = false;
  static constexpr int kBias = 16;
  static constexpr int kInt16Dwords = 4;
  static inline __m256i Codes(const uint8_t* p) {  // nibble | fifth bit << 4
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                          2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
    __m256i h = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(Load32(p + 2))), shuf);
    h = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, bit), bit), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(Nibbles(p + 6), h);
  }
};

struct Panel {
  // codes[b][g][j]: bytes 4i..4i+3 are codes 4j..4j+3 of block b of row 8g + i (Q8_0: |q|).
  alignas(32) uint8_t codes[kKBlocks][kGroups][8][32];
  // Q8_0 only: the signed codes in the same places, for the activations' signs.
  alignas(32) int8_t signs[kKBlocks][kGroups][8][32];
  // scale[b][g][i]: the f16 scale of block b of row 8g + i, as float (0 for missing rows).
  alignas(32) float scale[kKBlocks][kGroups][kGroupRows];
};

// Unpacks rows [r, r + nr) x blocks [b0, b0 + kb) into the panel, eight rows at a time.
template <WType T>
void PackPanel(const GemmArgs& a, int64_t r, int nr, int64_t b0, int kb, Panel* panel) {
  using F = Format<T>;
  for (int g = 0; g < kGroups && kGroupRows * g < nr; ++g) {
    const uint8_t* rows[kGroupRows];
    for (int i = 0; i < kGroupRows; ++i) {
      const int row = kGroupRows * g + i;
      rows[i] = row < nr ? a.w + (r + row) * a.w_stride + b0 * F::kBlockBytes : nullptr;
    }
    for (int b = 0; b < kb; ++b) {
      __m256i c[kGroupRows], out[8];
      for (int i = 0; i < kGroupRows; ++i) {
        if (rows[i] != nullptr) {
          const uint8_t* p = rows[i] + b * F::kBlockBytes;
          c[i] = F::Codes(p);
          panel->scale[b][g][i] = _cvtsh_ss(Load16(p));
        } else {
          c[i] = _mm256_setzero_si256();
          panel->scale[b][g][i] = 0.0f;
        }
      }
      Transpose8x8(c, out);
      for (int j = 0; j < 8; ++j) {
        if constexpr (F::kSigned) {
          _mm256_store_si256(reinterpret_cast<__m256i*>(panel->signs[b][g][j]), out[j]);
          _mm256_store_si256(reinterpret_cast<__m256i*>(panel->codes[b][g][j]),
                             _mm256_abs_epi8(out[j]));  // -128 stays 0x80: 128 unsigned
        } else {
          _mm256_store_si256(reinterpret_cast<__m256i*>(panel->codes[b][g][j]), out[j]);
        }
      }
    }
  }
}

// y[t][0..8) (+)= group g of the panel chunk times token t, for NT tokens (their activation
// rows, blocks from b0 on); `mask` selects the rows that exist.
template <WType T, int NT>
void GroupKernel(const Panel& p, int g, int kb, const ActQ8* act, int64_t b0, float* y,
                 int64_t y_stride, __m256i mask, bool first) {
  using F = Format<T>;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t)
    acc[t] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(y + t * y_stride, mask);
  for (int b = 0; b < kb; ++b) {
    __m256i w[8];
    for (int j = 0; j < 8; ++j)
      w[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(p.codes[b][g][j]));
    const __m256 dw = _mm256_load_ps(p.scale[b][g]);
    for (int t = 0; t < NT; ++t) {
      const int8_t* q = act[t].qs + (b0 + b) * kQK;
      __m256i s = _mm256_set1_epi32(-F::kBias * act[t].sum[b0 + b]);
      if constexpr (F::kSigned) {
        for (int j = 0; j < 8; ++j) {
          const __m256i sx = _mm256_sign_epi8(
              Avx2Broadcast32(q + 4 * j),
              _mm256_load_si256(reinterpret_cast<const __m256i*>(p.signs[b][g][j])));
          s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(w[j], sx), ones));
        }
      } else {
        for (int j0 = 0; j0 < 8; j0 += F::kInt16Dwords) {
          __m256i s16 = _mm256_maddubs_epi16(w[j0], Avx2Broadcast32(q + 4 * j0));
          for (int j = j0 + 1; j < j0 + F::kInt16Dwords; ++j)
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(w[j], Avx2Broadcast32(q + 4 * j)));
          s = _mm256_add_epi32(s, _mm256_madd_epi16(s16, ones));
        }
      }
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s),
                               _mm256_mul_ps(dw, _mm256_set1_ps(act[t].d[b0 + b])), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm256_maskstore_ps(y + t * y_stride, mask, acc[t]);
}

template <WType T, int N = 1>
inline void RunGroupKernel(int nt, const Panel& p, int g, int kb, const ActQ8* act, int64_t b0,
                           float* y, int64_t y_stride, __m256i mask, bool first) {
  if (nt == N) {
    GroupKernel<T, N>(p, g, kb, act, b0, y, y_stride, mask, first);
  } else if constexpr (N < kTokenTile) {
    RunGroupKernel<T, N + 1>(nt, p, g, kb, act, b0, y, y_stride, mask, first);
  }
}

template <WType T>
void GemmPacked(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  Panel panel;
  ActQ8 act[kTokenTile];
  Avx2PanelLoop<kKBlocks, kTokenTile>(
      a, r0, r1, t0, t1, a.cols / kQK, Format<T>::kBlockBytes,
      [&](int64_t r, int nr, int64_t b0, int kb) { PackPanel<T>(a, r, nr, b0, kb, &panel); },
      [&](int g, __m256i mask, int64_t r, int64_t b0, int kb, int64_t t, int nt) {
        for (int i = 0; i < nt; ++i) act[i] = ViewActQ8(a.act + (t + i) * a.act_stride, a.cols);
        RunGroupKernel<T>(nt, panel, g, kb, act, b0, a.y + t * a.y_stride + r + kGroupRows * g,
                          a.y_stride, mask, b0 == 0);
      });
}

}  // namespace

GemmFn PackedQ0GemmAvx2(WType t) {
  switch (t) {
    case WType::kQ8_0:
      return GemmPacked<WType::kQ8_0>;
    case WType::kQ4_0:
      return GemmPacked<WType::kQ4_0>;
    case WType::kQ5_0:
      return GemmPacked<WType::kQ5_0>;
    default:
      return nullptr;
  }
}

}  // namespace llmux::kernels
