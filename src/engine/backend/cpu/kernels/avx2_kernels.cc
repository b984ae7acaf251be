// AVX2 + FMA + F16C kernels, compiled with LLMUX_AVX2_FLAGS and only called when the CPU has
// them. Like the AVX-512 file, everything is file-local and free of std:: templates so no
// AVX-encoded inline function can leak into baseline code through the linker.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "engine/backend/cpu/kernels/avx2_packed.h"
#include "engine/backend/cpu/kernels/blocks.h"
#include "engine/backend/cpu/kernels/kernel_set.h"
#include "engine/backend/cpu/kernels/panels16.h"

namespace llmux::kernels {
namespace {

inline int64_t Min64(int64_t a, int64_t b) { return a < b ? a : b; }
// Prefetch of the weights one register tile (MR rows) ahead: rows are contiguous, and the
// hardware prefetchers stop at 4 KiB pages (see the AVX-512 file).
template <int MR>
inline void PrefetchNextTile(const uint8_t* p, size_t row_stride) {
  _mm_prefetch(reinterpret_cast<const char*>(p + MR * row_stride), _MM_HINT_T0);
}

inline float HalfToFloat(uint16_t h) { return _cvtsh_ss(h); }
inline uint16_t FloatToHalf(float f) { return static_cast<uint16_t>(_cvtss_sh(f, 0)); }
inline uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline float HSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float HMax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t HSumI32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

inline __m256 Abs(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// Round-to-nearest-even (MXCSR default) and clamp to [-127, 127].
inline __m256i RoundClamp127(__m256 v) {
  const __m256i q = _mm256_cvtps_epi32(v);
  return _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(-127)), _mm256_set1_epi32(127));
}

// Four vectors of 8 int32 in [-127, 127] -> 32 int8 in order.
inline __m256i PackI32ToI8(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);  // per 128-bit lane: a0-3 b0-3 | a4-7 b4-7
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i abcd = _mm256_packs_epi16(ab, cd);  // lane-interleaved bytes
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// ---------------------------------------------------------------------------------------
// Activation rounding (bit-identical to the scalar reference).

void QuantizeActQ8(const float* x, int64_t cols, uint8_t* row) {
  const int64_t nb = cols / kQK;
  int8_t* qs = reinterpret_cast<int8_t*>(row);
  float* d_out = reinterpret_cast<float*>(row + cols);
  int32_t* sum_out = reinterpret_cast<int32_t*>(row + cols + nb * 4);
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kQK;
    __m256 v[4];
    for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(xb + 8 * k);
    const float amax = HMax(
        _mm256_max_ps(_mm256_max_ps(Abs(v[0]), Abs(v[1])), _mm256_max_ps(Abs(v[2]), Abs(v[3]))));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) q[k] = RoundClamp127(_mm256_mul_ps(v[k], vid));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + b * kQK),
                        PackI32ToI8(q[0], q[1], q[2], q[3]));
    sum_out[b] =
        HSumI32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    d_out[b] = HalfToFloat(FloatToHalf(amax / 127.0f));
  }
}

void QuantizeActQ8K(const float* x, int64_t cols, uint8_t* row) {
  BlockQ8_K* out = reinterpret_cast<BlockQ8_K*>(row);
  for (int64_t b = 0; b < cols / kQKK; ++b, x += kQKK) {
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < kQKK; j += 8) m = _mm256_max_ps(m, Abs(_mm256_loadu_ps(x + j)));
    const float amax = HMax(m);
    BlockQ8_K& y = out[b];
    if (amax == 0.0f) {
      std::memset(&y, 0, sizeof(y));
      continue;
    }
    float max = 0.0f;  // signed value of the first element of largest magnitude
    for (int j = 0; j < kQKK; ++j) {
      if ((x[j] < 0 ? -x[j] : x[j]) == amax) {
        max = x[j];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    for (int j = 0; j < kQKK; j += 32) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k)
        q[k] = RoundClamp127(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * k), vs));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y.qs + j),
                          PackI32ToI8(q[0], q[1], q[2], q[3]));
      y.bsums[j / 16] = static_cast<int16_t>(HSumI32(_mm256_add_epi32(q[0], q[1])));
      y.bsums[j / 16 + 1] = static_cast<int16_t>(HSumI32(_mm256_add_epi32(q[2], q[3])));
    }
    y.d = 1 / iscale;
  }
}

void QuantizeActF16(const float* x, int64_t cols, uint8_t* row) {
  float* out = reinterpret_cast<float*>(row);
  int64_t i = 0;
  for (; i + 8 <= cols; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i),
                                                              _MM_FROUND_TO_NEAREST_INT)));
  }
  for (; i < cols; ++i) out[i] = HalfToFloat(FloatToHalf(x[i]));
}

void QuantizeActBF16(const float* x, int64_t cols, uint8_t* row) {
  uint16_t* out = reinterpret_cast<uint16_t*>(row);
  int64_t i = 0;
  for (; i + 8 <= cols; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256i bits = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0x7fff)), lsb), 16);
    const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x40));
    r = _mm256_blendv_epi8(r, quiet, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
    const __m128i packed =
        _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), packed);
  }
  for (; i < cols; ++i) {
    uint32_t bits;
    std::memcpy(&bits, x + i, 4);
    out[i] = (bits & 0x7fffffffu) > 0x7f800000u
                 ? static_cast<uint16_t>((bits >> 16) | 0x40u)
                 : static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
  }
}

// ---------------------------------------------------------------------------------------

template <int MR, int NT>
inline void StoreTile(__m256 (&acc)[MR][NT], float* y, int64_t y_stride) {
  for (int t = 0; t < NT; ++t) {
    for (int r = 0; r < MR; ++r) y[t * y_stride + r] = HSum(acc[r][t]);
  }
}

// Register tiles of up to MRMAX rows x NTMAX tokens; token tiles outside.
template <int MRMAX, int NTMAX, template <int, int> class Tile>
void GemmTiled(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; t += NTMAX) {
    const int nt = static_cast<int>(Min64(NTMAX, t1 - t));
    for (int64_t r = r0; r < r1; r += MRMAX) {
      const int mr = static_cast<int>(Min64(MRMAX, r1 - r));
      // Full tiles are the common case; the rest fall through to smaller instantiations.
      if (mr == MRMAX && nt == NTMAX) {
        Tile<MRMAX, NTMAX>::Run(a, r, t);
      } else {
        for (int i = 0; i < mr; ++i) {
          if (nt == NTMAX) {
            Tile<1, NTMAX>::Run(a, r + i, t);
          } else {
            for (int j = 0; j < nt; ++j) Tile<1, 1>::Run(a, r + i, t + j);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Q8_0 / Q4_0 / Q5_0 x Q8 activations, one block (32 values) per ymm.
//
// Q8_0 uses the sign trick (vpmaddubsw needs one unsigned operand: |w| * sign(x, w));
// Q4_0/Q5_0 feed their unsigned codes directly and cancel the +8/+16 offset with the
// activation block sums (exact integer arithmetic, like the scalar reference).

template <WType T>
struct Q0Avx2;

template <>
struct Q0Avx2<WType::kQ8_0> {
  static constexpr int kBlockBytes = 34;
  static constexpr int kBiasShift = 0;  // no bias: signed weights
  static inline __m256i Load(const uint8_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2));
  }
  static inline __m256i Dot(__m256i w, __m256i x) {
    const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
  }
};

inline __m256i Nibbles32(const uint8_t* p) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
  return _mm256_and_si256(t, _mm256_set1_epi8(0x0F));
}

// Expands 32 bits to 32 bytes: 0x10 where the bit is set.
inline __m256i BitsToBytes16(uint32_t bits) {
  const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2,
                                        2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuf);
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
  return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

inline __m256i DotUnsigned(__m256i u, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, x), _mm256_set1_epi16(1));
}

template <>
struct Q0Avx2<WType::kQ4_0> {
  static constexpr int kBlockBytes = 18;
  static constexpr int kBiasShift = 3;
  static inline __m256i Load(const uint8_t* p) { return Nibbles32(p + 2); }
  static inline __m256i Dot(__m256i w, __m256i x) { return DotUnsigned(w, x); }
};

template <>
struct Q0Avx2<WType::kQ5_0> {
  static constexpr int kBlockBytes = 22;
  static constexpr int kBiasShift = 4;
  static inline __m256i Load(const uint8_t* p) {
    return _mm256_or_si256(Nibbles32(p + 6), BitsToBytes16(Load32(p + 2)));
  }
  static inline __m256i Dot(__m256i w, __m256i x) { return DotUnsigned(w, x); }
};

template <WType T, int MR, int NT>
void TileQ0(const GemmArgs& a, int64_t r0, int64_t t0) {
  using F = Q0Avx2<T>;
  const int64_t cols = a.cols, nb = cols / kQK;
  const uint8_t* w[MR];
  for (int r = 0; r < MR; ++r) w[r] = a.w + (r0 + r) * a.w_stride;
  ActQ8 act[NT];
  for (int t = 0; t < NT; ++t) act[t] = ViewActQ8(a.act + (t0 + t) * a.act_stride, cols);
  __m256 acc[MR][NT];
  for (int r = 0; r < MR; ++r) {
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    __m256i wv[MR];
    float dw[MR];
    for (int r = 0; r < MR; ++r) {
      const uint8_t* p = w[r] + b * F::kBlockBytes;
      PrefetchNextTile<MR>(p, a.w_stride);
      wv[r] = F::Load(p);
      dw[r] = HalfToFloat(Load16(p));
    }
    for (int t = 0; t < NT; ++t) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[t].qs + b * kQK));
      const float dx = act[t].d[b];
      const __m256i corr =
          _mm256_setr_epi32(-(act[t].sum[b] << F::kBiasShift), 0, 0, 0, 0, 0, 0, 0);
      for (int r = 0; r < MR; ++r) {
        __m256i isum = F::Dot(wv[r], xv);
        if constexpr (F::kBiasShift > 0) isum = _mm256_add_epi32(isum, corr);
        acc[r][t] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(dw[r] * dx), acc[r][t]);
      }
    }
  }
  StoreTile<MR, NT>(acc, a.y + t0 * a.y_stride + r0, a.y_stride);
}

template <WType T>
struct Q0Tiles {
  template <int MR, int NT>
  struct Tile {
    static void Run(const GemmArgs& a, int64_t r0, int64_t t0) { TileQ0<T, MR, NT>(a, r0, t0); }
  };
};

// Packed panels for batches (prefill); single tokens (decode) a row at a time, each row's
// blocks loaded once for up to 8 tokens (several sequences).
template <WType T>
void GemmQ0(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  if (a.batch) {
    PackedQ0GemmAvx2(T)(a, r0, r1, t0, t1);
  } else {
    GemmRowTokenTiles<Q0Tiles<T>::template Tile>(a, r0, r1, t0, t1);
  }
}

// ---------------------------------------------------------------------------------------
// Q4_0 in 16-row panels (panels16.h): NT tokens x 8 rows at a time, one int32 lane per row.
// Per block and 8 rows: 4 code loads split into 8 nibble vectors, one scale conversion; per
// token 8 vpmaddubsw against broadcast activation dwords, summed in int16 (8 x 2 x 15 x 127
// fits), one vpmaddwd, the -8 x sum offset, one fma. Single tokens and batches take the same
// path, so a row's numbers never depend on the call.
constexpr int kPanelTokens = 2;

template <int NT>
void Panels16TileAvx2(const GemmArgs& a, int64_t r, int nr, int64_t t0) {
  const int64_t n_pairs = a.cols / (2 * kQK);
  ActQ8 act[NT];
  for (int t = 0; t < NT; ++t) act[t] = ViewActQ8(a.act + (t0 + t) * a.act_stride, a.cols);
  const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  alignas(32) float out[NT][16];
  for (int g = 0; g < 2 && 8 * g < nr; ++g) {  // rows 8g .. 8g + 7 of the panel
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    const uint8_t* pair = a.w + r * a.w_stride;
    for (int64_t k = 0; k < n_pairs; ++k, pair += kPanel16PairBytes) {
      for (int h = 0; h < 2; ++h) {
        const int64_t b = 2 * k + h;
        const __m256 dw = _mm256_cvtph_ps(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(pair + 32 * h + 16 * g)));
        __m256i lo[4], hi[4];
        for (int c = 0; c < 4; ++c) {
          const __m256i z = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(pair + 64 + 256 * h + 64 * c + 32 * g));
          lo[c] = _mm256_and_si256(z, m4);
          hi[c] = _mm256_and_si256(_mm256_srli_epi16(z, 4), m4);
        }
        for (int t = 0; t < NT; ++t) {
          const uint8_t* q = reinterpret_cast<const uint8_t*>(act[t].qs + b * kQK);
          __m256i s16 = _mm256_maddubs_epi16(lo[0], _mm256_set1_epi32(static_cast<int>(Load32(q))));
          for (int c = 1; c < 4; ++c) {
            s16 = _mm256_add_epi16(
                s16, _mm256_maddubs_epi16(lo[c],
                                          _mm256_set1_epi32(static_cast<int>(Load32(q + 4 * c)))));
          }
          for (int c = 0; c < 4; ++c) {
            s16 = _mm256_add_epi16(
                s16, _mm256_maddubs_epi16(
                         hi[c], _mm256_set1_epi32(static_cast<int>(Load32(q + 16 + 4 * c)))));
          }
          const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(s16, ones),
                                             _mm256_set1_epi32(-(act[t].sum[b] * 8)));  // q + 8
          acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s),
                                   _mm256_mul_ps(dw, _mm256_set1_ps(act[t].d[b])), acc[t]);
        }
      }
    }
    for (int t = 0; t < NT; ++t) _mm256_store_ps(out[t] + 8 * g, acc[t]);
  }
  for (int t = 0; t < NT; ++t)
    std::memcpy(a.y + (t0 + t) * a.y_stride + r, out[t], sizeof(float) * nr);
}

void GemmPanels16Avx2(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  for (int64_t r = r0; r < r1; r += kPanel16Rows) {
    const int nr = static_cast<int>(Min64(kPanel16Rows, r1 - r));
    int64_t t = t0;
    for (; t + kPanelTokens <= t1; t += kPanelTokens) Panels16TileAvx2<kPanelTokens>(a, r, nr, t);
    for (; t < t1; ++t) Panels16TileAvx2<1>(a, r, nr, t);
  }
}

// ---------------------------------------------------------------------------------------
// Q4_K / Q6_K x Q8_K. Per (row, token) and super-block the integer lanes are exact: the
// scaled code dots (vpmaddubsw + vpmaddwd per 32 values) and, for Q4_K, the min corrections
// (Q8_K's 16-value sums times the row's mins). Each block's lanes are turned to
// float and added, scaled, into a vector that is reduced once per row: the same operations in
// the same order for a tile of several tokens (which unpacks each row's codes once into
// memory) and for a single token (GemvKRows, codes unpacked in registers), so a token's result
// does not depend on the call it is in.

// Q4_K's 6-bit scales and mins of one super-block, eight bytes each.
inline void Q4KUnpack(const uint8_t* s, uint64_t* sc, uint64_t* m) {
  const uint32_t s0 = Load32(s), s1 = Load32(s + 4), s2 = Load32(s + 8);
  *sc = (s0 & 0x3f3f3f3fu) |
        static_cast<uint64_t>((s2 & 0x0f0f0f0fu) | (((s0 >> 6) & 0x03030303u) << 4)) << 32;
  *m = (s1 & 0x3f3f3f3fu) |
       static_cast<uint64_t>(((s2 >> 4) & 0x0f0f0f0fu) | (((s1 >> 6) & 0x03030303u) << 4)) << 32;
}

// Eight 16-bit values (in both 128-bit halves), and the vector of value c in every lane.
inline __m256i Words16(uint64_t bytes) {
  return _mm256_broadcastsi128_si256(
      _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(bytes))));
}
inline __m256i WordSplat(__m256i words, int c) {
  return _mm256_shuffle_epi8(words,
                             _mm256_set1_epi16(static_cast<int16_t>((2 * c + 1) << 8 | 2 * c)));
}
// Each of eight 16-bit values twice in a row: the mins of the 32-value sub-blocks against
// Q8_K's sums of 16 values.
inline __m256i WordsTwice(uint64_t bytes) {
  const __m128i w = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(bytes)));
  return _mm256_setr_m128i(_mm_unpacklo_epi16(w, w), _mm_unpackhi_epi16(w, w));
}

// Q4_K code vectors of one super-block: c = 2j low nibbles of qs[32j..], 2j+1 the high ones.
inline __m256i Q4KCodes(const BlockQ4_K* blk, int c) {
  const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qs + 32 * (c / 2)));
  return _mm256_and_si256(c % 2 ? _mm256_srli_epi16(q, 4) : q, _mm256_set1_epi8(0x0F));
}

// Q6_K code vectors (q + 32, in 0..63) of one super-block, values 32c .. 32c+31.
inline __m256i Q6KCodes(const BlockQ6_K* blk, int c) {
  const int h = c / 4, k = c % 4;
  const __m256i l =
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->ql + 64 * h + 32 * (k % 2)));
  const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qh + 32 * h));
  const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x03);
  const __m256i low = _mm256_and_si256(k < 2 ? l : _mm256_srli_epi16(l, 4), m4);
  const __m256i high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), m3), 4);
  return _mm256_or_si256(low, high);
}
// Q6_K's int16 scale vector of values 32c .. 32c+31 (two 16-value sub-blocks).
inline __m256i Q6KScales(const BlockQ6_K* blk, int c) {
  const int16_t a = blk->scales[2 * c], b = blk->scales[2 * c + 1];
  return _mm256_setr_epi16(a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b);
}

inline __m256i CodeDot(__m256i q, const int8_t* x, __m256i scale) {
  const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  return _mm256_madd_epi16(_mm256_maddubs_epi16(q, xv), scale);
}
// Q6_K: the codes carry +32; 32 x the activation pairs are taken off in int16, lane by lane,
// so every lane stays the exact and small sum of (q - 32) x (a float sum of lanes that carry
// the offset and cancel across lanes loses digits).
inline __m256i Q6KCodeDot(__m256i q, const int8_t* x, __m256i scale) {
  const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  const __m256i p =
      _mm256_sub_epi16(_mm256_maddubs_epi16(q, xv), _mm256_maddubs_epi16(_mm256_set1_epi8(32), xv));
  return _mm256_madd_epi16(p, scale);
}
inline __m256i BlockSums(const BlockQ8_K* y) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y->bsums));
}

// The float accumulators of one (row, token) pair.
struct KAcc {
  __m256 dot = _mm256_setzero_ps();
  __m256 min = _mm256_setzero_ps();  // Q4_K only
};
inline void AddQ4K(KAcc& acc, __m256i isum, __m256i msum, float d, float dmin, float dy) {
  acc.dot = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d * dy), acc.dot);
  acc.min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin * dy), acc.min);
}
inline void AddQ6K(KAcc& acc, __m256i isum, float d, float dy) {
  acc.dot = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d * dy), acc.dot);
}
inline float FinishK(const KAcc& acc) { return HSum(_mm256_sub_ps(acc.dot, acc.min)); }

// One row's super-block unpacked for a tile of several tokens.
struct UnpackedRow {
  __m256i q[8];   // codes of values 32c .. 32c+31
  __m256i sc[8];  // int16 scale per lane pair for vector c
  __m256i m16;    // Q4_K only: mins per bsum (int16)
  float d, dmin;  // dmin: Q4_K only
};

inline void UnpackQ4K(const BlockQ4_K* blk, UnpackedRow* u) {
  uint64_t sc, m;
  Q4KUnpack(blk->scales, &sc, &m);
  const __m256i words = Words16(sc);
  for (int c = 0; c < 8; ++c) {
    u->q[c] = Q4KCodes(blk, c);
    u->sc[c] = WordSplat(words, c);
  }
  u->m16 = WordsTwice(m);
  u->d = HalfToFloat(blk->d);
  u->dmin = HalfToFloat(blk->dmin);
}

inline void UnpackQ6K(const BlockQ6_K* blk, UnpackedRow* u) {
  for (int c = 0; c < 8; ++c) {
    u->q[c] = Q6KCodes(blk, c);
    u->sc[c] = Q6KScales(blk, c);
  }
  u->d = HalfToFloat(blk->d);
  u->dmin = 0.0f;
}

template <WType T, int MR, int NT>
void TileK(const GemmArgs& a, int64_t r0, int64_t t0) {
  const int64_t nb = a.cols / kQKK;
  KAcc acc[MR][NT];
  UnpackedRow u[MR];
  for (int64_t b = 0; b < nb; ++b) {
    for (int r = 0; r < MR; ++r) {
      const uint8_t* row = a.w + (r0 + r) * a.w_stride;
      const size_t blk_bytes = T == WType::kQ4_K ? sizeof(BlockQ4_K) : sizeof(BlockQ6_K);
      for (size_t off = 0; off < blk_bytes; off += 64)
        PrefetchNextTile<MR>(row + b * blk_bytes + off, a.w_stride);
      if constexpr (T == WType::kQ4_K) {
        UnpackQ4K(reinterpret_cast<const BlockQ4_K*>(row) + b, &u[r]);
      } else {
        UnpackQ6K(reinterpret_cast<const BlockQ6_K*>(row) + b, &u[r]);
      }
    }
    for (int t = 0; t < NT; ++t) {
      const BlockQ8_K* y = reinterpret_cast<const BlockQ8_K*>(a.act + (t0 + t) * a.act_stride) + b;
      for (int r = 0; r < MR; ++r) {
        if constexpr (T == WType::kQ4_K) {
          __m256i isum = CodeDot(u[r].q[0], y->qs, u[r].sc[0]);
          for (int c = 1; c < 8; ++c)
            isum = _mm256_add_epi32(isum, CodeDot(u[r].q[c], y->qs + 32 * c, u[r].sc[c]));
          const __m256i msum = _mm256_madd_epi16(BlockSums(y), u[r].m16);
          AddQ4K(acc[r][t], isum, msum, u[r].d, u[r].dmin, y->d);
        } else {
          __m256i isum = Q6KCodeDot(u[r].q[0], y->qs, u[r].sc[0]);
          for (int c = 1; c < 8; ++c)
            isum = _mm256_add_epi32(isum, Q6KCodeDot(u[r].q[c], y->qs + 32 * c, u[r].sc[c]));
          AddQ6K(acc[r][t], isum, u[r].d, y->d);
        }
      }
    }
  }
  float* out = a.y + t0 * a.y_stride + r0;
  for (int t = 0; t < NT; ++t) {
    for (int r = 0; r < MR; ++r) out[t * a.y_stride + r] = FinishK(acc[r][t]);
  }
}

// One token (decode), one row after another, the codes unpacked in registers: the same
// operations per (row, token) as TileK.
template <WType T>
void GemvKRows(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0) {
  const int64_t nb = a.cols / kQKK;
  const BlockQ8_K* y = reinterpret_cast<const BlockQ8_K*>(a.act + t0 * a.act_stride);
  float* out = a.y + t0 * a.y_stride;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = a.w + r * a.w_stride;
    KAcc acc;
    for (int64_t b = 0; b < nb; ++b) {
      const int8_t* x = y[b].qs;
      if constexpr (T == WType::kQ4_K) {
        const BlockQ4_K* blk = reinterpret_cast<const BlockQ4_K*>(row) + b;
        for (size_t off = 0; off < sizeof(BlockQ4_K); off += 64)
          PrefetchNextTile<1>(reinterpret_cast<const uint8_t*>(blk) + off, a.w_stride);
        uint64_t sc, m;
        Q4KUnpack(blk->scales, &sc, &m);
        const __m256i words = Words16(sc);
        __m256i isum = CodeDot(Q4KCodes(blk, 0), x, WordSplat(words, 0));
        for (int c = 1; c < 8; ++c)
          isum = _mm256_add_epi32(isum, CodeDot(Q4KCodes(blk, c), x + 32 * c, WordSplat(words, c)));
        const __m256i msum = _mm256_madd_epi16(BlockSums(y + b), WordsTwice(m));
        AddQ4K(acc, isum, msum, HalfToFloat(blk->d), HalfToFloat(blk->dmin), y[b].d);
      } else {
        const BlockQ6_K* blk = reinterpret_cast<const BlockQ6_K*>(row) + b;
        for (size_t off = 0; off < sizeof(BlockQ6_K); off += 64)
          PrefetchNextTile<1>(reinterpret_cast<const uint8_t*>(blk) + off, a.w_stride);
        __m256i isum = Q6KCodeDot(Q6KCodes(blk, 0), x, Q6KScales(blk, 0));
        for (int c = 1; c < 8; ++c)
          isum =
              _mm256_add_epi32(isum, Q6KCodeDot(Q6KCodes(blk, c), x + 32 * c, Q6KScales(blk, c)));
        AddQ6K(acc, isum, HalfToFloat(blk->d), y[b].d);
      }
    }
    out[r] = FinishK(acc);
  }
}

template <WType T>
struct KTiles {
  template <int MR, int NT>
  struct Tile {
    static void Run(const GemmArgs& a, int64_t r0, int64_t t0) { TileK<T, MR, NT>(a, r0, t0); }
  };
};

// Packed panels for batches (prefill), a row at a time for one or several single tokens: each
// computes a row with its own fixed arithmetic (see MatMul).
template <WType T>
void GemmK(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  if (a.batch) {
    PackedKGemmAvx2(T)(a, r0, r1, t0, t1);
  } else if (t1 - t0 == 1) {
    GemvKRows<T>(a, r0, r1, t0);
  } else {
    GemmRowTokenTiles<KTiles<T>::template Tile>(a, r0, r1, t0, t1);
  }
}

// ---------------------------------------------------------------------------------------
// F32 / F16 / BF16 weights (activations: float rows for F32/F16, bf16 rows for BF16).

template <WType T>
struct FloatAvx2;

template <>
struct FloatAvx2<WType::kF32> {
  static constexpr int kElemBytes = 4;
  static inline __m256 LoadW(const uint8_t* row, int64_t i) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
  static inline float W(const uint8_t* row, int64_t i) {
    return reinterpret_cast<const float*>(row)[i];
  }
  static inline __m256 LoadX(const uint8_t* row, int64_t i) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
  static inline float X(const uint8_t* row, int64_t i) {
    return reinterpret_cast<const float*>(row)[i];
  }
};

template <>
struct FloatAvx2<WType::kF16> {
  static constexpr int kElemBytes = 2;
  static inline __m256 LoadW(const uint8_t* row, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
  }
  static inline float W(const uint8_t* row, int64_t i) { return HalfToFloat(Load16(row + 2 * i)); }
  static inline __m256 LoadX(const uint8_t* row, int64_t i) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
  static inline float X(const uint8_t* row, int64_t i) {
    return reinterpret_cast<const float*>(row)[i];
  }
};

inline __m256 BF16x8(const uint8_t* p) {
  const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
inline float BF16One(const uint8_t* p) {
  const uint32_t bits = static_cast<uint32_t>(Load16(p)) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <>
struct FloatAvx2<WType::kBF16> {
  static constexpr int kElemBytes = 2;
  static inline __m256 LoadW(const uint8_t* row, int64_t i) { return BF16x8(row + 2 * i); }
  static inline float W(const uint8_t* row, int64_t i) { return BF16One(row + 2 * i); }
  static inline __m256 LoadX(const uint8_t* row, int64_t i) { return BF16x8(row + 2 * i); }
  static inline float X(const uint8_t* row, int64_t i) { return BF16One(row + 2 * i); }
};

template <WType T, int MR, int NT>
void TileFloat(const GemmArgs& a, int64_t r0, int64_t t0) {
  using F = FloatAvx2<T>;
  const int64_t cols = a.cols;
  const uint8_t* w[MR];
  for (int r = 0; r < MR; ++r) w[r] = a.w + (r0 + r) * a.w_stride;
  const uint8_t* x[NT];
  for (int t = 0; t < NT; ++t) x[t] = a.act + (t0 + t) * a.act_stride;
  __m256 acc[MR][NT];
  for (int r = 0; r < MR; ++r) {
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 8 <= cols; i += 8) {
    __m256 wv[MR];
    for (int r = 0; r < MR; ++r) {
      if ((i & 15) == 0) PrefetchNextTile<MR>(w[r] + i * F::kElemBytes, a.w_stride);
      wv[r] = F::LoadW(w[r], i);
    }
    for (int t = 0; t < NT; ++t) {
      const __m256 xv = F::LoadX(x[t], i);
      for (int r = 0; r < MR; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  float* y = a.y + t0 * a.y_stride + r0;
  for (int t = 0; t < NT; ++t) {
    for (int r = 0; r < MR; ++r) {
      float s = HSum(acc[r][t]);
      for (int64_t j = i; j < cols; ++j) s += F::W(w[r], j) * F::X(x[t], j);
      y[t * a.y_stride + r] = s;
    }
  }
}

template <WType T>
struct FloatTiles {
  template <int MR, int NT>
  struct Tile {
    static void Run(const GemmArgs& a, int64_t r0, int64_t t0) { TileFloat<T, MR, NT>(a, r0, t0); }
  };
};

// ---------------------------------------------------------------------------------------

float DotF32Avx2(const float* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
         s3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8)
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = HSum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void AxpyF32Avx2(float alpha, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += alpha * x[i];
}

void F16ToF32Avx2(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                  reinterpret_cast<const __m128i*>(src + i))));
  }
  for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}

}  // namespace

void FillAvx2Kernels(KernelSet* ks) {
  ks->gemm[static_cast<int>(WType::kQ8_0)] = GemmQ0<WType::kQ8_0>;
  ks->gemm[static_cast<int>(WType::kQ4_0)] = GemmQ0<WType::kQ4_0>;
  ks->gemm[static_cast<int>(WType::kQ5_0)] = GemmQ0<WType::kQ5_0>;
  ks->gemm[static_cast<int>(WType::kQ4_0P)] = GemmPanels16Avx2;
  ks->gemm[static_cast<int>(WType::kQ4_K)] = GemmK<WType::kQ4_K>;
  ks->gemm[static_cast<int>(WType::kQ6_K)] = GemmK<WType::kQ6_K>;
  ks->gemm[static_cast<int>(WType::kF32)] = GemmTiled<4, 2, FloatTiles<WType::kF32>::Tile>;
  ks->gemm[static_cast<int>(WType::kF16)] = GemmTiled<4, 2, FloatTiles<WType::kF16>::Tile>;
  ks->gemm[static_cast<int>(WType::kBF16)] = GemmTiled<4, 2, FloatTiles<WType::kBF16>::Tile>;
  ks->act_quant[static_cast<int>(ActKind::kQ8)] = QuantizeActQ8;
  ks->act_quant[static_cast<int>(ActKind::kQ8K)] = QuantizeActQ8K;
  ks->act_quant[static_cast<int>(ActKind::kF16)] = QuantizeActF16;
  ks->act_quant[static_cast<int>(ActKind::kBF16)] = QuantizeActBF16;
  ks->dot_f32 = DotF32Avx2;
  ks->axpy_f32 = AxpyF32Avx2;
  ks->f16_to_f32 = F16ToF32Avx2;
}

}  // namespace llmux::kernels
