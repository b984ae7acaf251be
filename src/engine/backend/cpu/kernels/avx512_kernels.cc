// AVX-512 (F/BW/VL/DQ/VNNI, optionally BF16) kernels, compiled with LLMUX_AVX512_FLAGS and
// only called when the CPU has those features. No AMX.
//
// Everything here lives in an anonymous namespace and avoids std:: templates: an inline
// function instantiated in this file would be compiled with AVX-512 encodings and could be
// picked by the linker for baseline callers too.
// GCC 12's intrinsic headers trip -Wmaybe-uninitialized on their own _mm512_undefined_*()
// placeholders (casts, reductions); the warning is a known false positive there.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/backend/cpu/kernels/avx512_packed.h"
#include "engine/backend/cpu/kernels/blocks.h"
#include "engine/backend/cpu/kernels/kernel_set.h"
#include "engine/backend/cpu/kernels/q6k_lanes.h"

namespace llmux::kernels {
namespace {

inline int64_t Min64(int64_t a, int64_t b) { return a < b ? a : b; }

template <bool V>
struct BoolC {
  static constexpr bool value = V;
};

// Software prefetch of the weights ahead of a tile of MR rows. Rows are contiguous, so this
// follows the stream across 4 KiB pages, where the hardware prefetchers stop. Batch tiles
// prefetch the next tile; single-token products (decode) read one row after another, one
// linear stream per thread (several rows in lockstep measured 35-45% slower: each row is a
// separate stream for the prefetchers), and prefetch 4 rows ahead.
template <int MR>
inline void PrefetchNextTile(const uint8_t* p, size_t row_stride) {
  constexpr int kRowsAhead = MR == 1 ? 4 : MR;
  _mm_prefetch(reinterpret_cast<const char*>(p + kRowsAhead * row_stride), _MM_HINT_T0);
}

// Single-token products use tiles of one row (see PrefetchNextTile). A row's arithmetic is
// the same in every tile shape, so this choice changes no result.
constexpr int kDecodeRows = 1;

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

// ---------------------------------------------------------------------------------------
// Activation rounding (bit-identical to the scalar reference in ref_kernels.cc).

void QuantizeActQ8(const float* x, int64_t cols, uint8_t* row) {
  const int64_t nb = cols / kQK;
  int8_t* qs = reinterpret_cast<int8_t*>(row);
  float* d_out = reinterpret_cast<float*>(row + cols);
  int32_t* sum_out = reinterpret_cast<int32_t*>(row + cols + nb * 4);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  for (int64_t b = 0; b < nb; ++b) {
    const __m512 v0 = _mm512_loadu_ps(x + b * kQK);
    const __m512 v1 = _mm512_loadu_ps(x + b * kQK + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid));
    __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
    q0 = _mm512_min_epi32(_mm512_max_epi32(q0, lo), hi);
    q1 = _mm512_min_epi32(_mm512_max_epi32(q1, lo), hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + b * kQK), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + b * kQK + 16), _mm512_cvtepi32_epi8(q1));
    sum_out[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    d_out[b] = HalfToFloat(FloatToHalf(amax / 127.0f));
  }
}

void QuantizeActQ8K(const float* x, int64_t cols, uint8_t* row) {
  BlockQ8_K* out = reinterpret_cast<BlockQ8_K*>(row);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  for (int64_t b = 0; b < cols / kQKK; ++b, x += kQKK) {
    __m512 m = _mm512_setzero_ps();
    for (int j = 0; j < kQKK; j += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
    const float amax = _mm512_reduce_max_ps(m);
    BlockQ8_K& y = out[b];
    if (amax == 0.0f) {
      std::memset(&y, 0, sizeof(y));
      continue;
    }
    // The signed value of the first element with the largest magnitude (as the reference).
    float max = 0.0f;
    const __m512 vamax = _mm512_set1_ps(amax);
    for (int j = 0; j < kQKK; j += 16) {
      const __m512 v = _mm512_loadu_ps(x + j);
      const __mmask16 k = _mm512_cmp_ps_mask(_mm512_abs_ps(v), vamax, _CMP_EQ_OQ);
      if (k) {
        max = x[j + __builtin_ctz(k)];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m512 vs = _mm512_set1_ps(iscale);
    for (int j = 0; j < kQKK; j += 16) {
      __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j), vs));
      q = _mm512_min_epi32(_mm512_max_epi32(q, lo), hi);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y.qs + j), _mm512_cvtepi32_epi8(q));
      y.bsums[j / 16] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    y.d = 1 / iscale;
  }
}

void QuantizeActF16(const float* x, int64_t cols, uint8_t* row) {
  float* out = reinterpret_cast<float*>(row);
  int64_t i = 0;
  for (; i + 16 <= cols; i += 16) {
    const __m256i h = _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm512_storeu_ps(out + i, _mm512_cvtph_ps(h));
  }
  if (i < cols) {
    const __mmask16 k = static_cast<__mmask16>((1u << (cols - i)) - 1);
    const __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(k, x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm512_mask_storeu_ps(out + i, k, _mm512_cvtph_ps(h));
  }
}

inline __m256i RoundToBF16(__m512 v) {
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(
      _mm512_add_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(0x7fff)), lsb), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(r);
}

void QuantizeActBF16(const float* x, int64_t cols, uint8_t* row) {
  uint16_t* out = reinterpret_cast<uint16_t*>(row);
  int64_t i = 0;
  for (; i + 16 <= cols; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), RoundToBF16(_mm512_loadu_ps(x + i)));
  }
  if (i < cols) {
    const __mmask16 k = static_cast<__mmask16>((1u << (cols - i)) - 1);
    _mm256_mask_storeu_epi16(out + i, k, RoundToBF16(_mm512_maskz_loadu_ps(k, x + i)));
  }
}

// ---------------------------------------------------------------------------------------
// Horizontal sums of MR x NT accumulators, written to y.

template <int MR, int NT>
inline void StoreTile(__m512 (&acc)[MR][NT], float* y, int64_t y_stride) {
  for (int t = 0; t < NT; ++t) {
    for (int r = 0; r < MR; ++r) y[t * y_stride + r] = _mm512_reduce_add_ps(acc[r][t]);
  }
}

// ---------------------------------------------------------------------------------------
// Q8_0 / Q4_0 / Q5_0 weights x Q8 activations.
//
// Two blocks (64 values) per zmm. Weights become unsigned bytes (Q8_0: q + 128; Q4_0: the
// nibble; Q5_0: the 5-bit code), activations stay signed, so one vpdpbusd gives
// sum(u * x) = sum(q * x) + bias * sum(x). The bias term is cancelled exactly by starting the
// integer accumulator at -bias * sum(x) (lane by lane, see NegBias). Each block's 8 int32
// lanes are then scaled by d_w * d_x and added to a float accumulator.

// Word-permute index vectors (vpermw / vpermt2w select 16-bit words; every field of the
// *_0 block pairs starts at an even byte offset).
template <int... I>
inline __m512i WordIndex() {
  alignas(64) static constexpr uint16_t kIdx[32] = {static_cast<uint16_t>(I)...};
  return _mm512_load_si512(kIdx);
}

// [d0 x8, d1 x8] as floats from the f16 scales at words i0 and i1 of z.
template <int I0, int I1>
inline __m512 PairScales(__m512i z) {
  const __m512i idx = WordIndex<I0, I0, I0, I0, I0, I0, I0, I0, I1, I1, I1, I1, I1, I1, I1, I1, I0,
                                I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0, I0>();
  return _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(idx, z)));
}

// 16 nibble bytes starting at word Q0 (block 0) and Q1 (block 1) of z, as 64 values in
// element order: [b0 low nibbles = elements 0-15, b0 high = 16-31, b1 low, b1 high].
template <int Q0, int Q1>
inline __m512i PairNibbles(__m512i z) {
  const __m512i idx =
      WordIndex<Q0, Q0 + 1, Q0 + 2, Q0 + 3, Q0 + 4, Q0 + 5, Q0 + 6, Q0 + 7, Q0, Q0 + 1, Q0 + 2,
                Q0 + 3, Q0 + 4, Q0 + 5, Q0 + 6, Q0 + 7, Q1, Q1 + 1, Q1 + 2, Q1 + 3, Q1 + 4, Q1 + 5,
                Q1 + 6, Q1 + 7, Q1, Q1 + 1, Q1 + 2, Q1 + 3, Q1 + 4, Q1 + 5, Q1 + 6, Q1 + 7>();
  const __m512i v = _mm512_permutexvar_epi16(idx, z);  // 128-bit lanes [q0, q0, q1, q1]
  const __m512i shifts = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);
  return _mm512_and_si512(_mm512_srlv_epi64(v, shifts), _mm512_set1_epi8(0x0F));
}

inline __m512i NibbleSingle(const uint8_t* p) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
  return _mm512_zextsi256_si512(_mm256_and_si256(t, _mm256_set1_epi8(0x0F)));
}

// Per format: LoadPair gives the unsigned weight bytes of blocks b, b+1 and their scales;
// LoadOne the low half for a last odd block. LoadPair<false> may read up to 64 bytes from the
// pair's start (the caller only uses it where that stays inside the row); LoadPair<true>
// touches only the pair's own bytes (a masked load: several times slower on AMD, so it is
// kept for the last pair of a row, where an over-read could run past the mapping).
template <WType T>
struct Q0Format;

template <>
struct Q0Format<WType::kQ8_0> {
  static constexpr int kBlockBytes = 34;
  static constexpr int kBiasShift = 7;       // bias 128
  static constexpr int kPairLoadBytes = 68;  // the two loads end exactly at the pair's end
  template <bool kMasked>
  static inline void LoadPair(const uint8_t* p, __m512i* wv, __m512* ws) {
    // Pair = 68 bytes: d0 @0, qs0 @2, d1 @34, qs1 @36.
    const __m512i z0 = _mm512_loadu_si512(p);      // words 0..31 = bytes 0..63
    const __m512i z1 = _mm512_loadu_si512(p + 4);  // word i = bytes 4 + 2i
    const __m512i idx = WordIndex<1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 48, 49, 50,
                                  51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63>();
    *wv = _mm512_xor_si512(_mm512_permutex2var_epi16(z0, idx, z1),
                           _mm512_set1_epi8(static_cast<char>(0x80)));
    *ws = PairScales<0, 17>(z0);
  }
  static inline __m512i LoadOne(const uint8_t* p) {
    const __m512i v =
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2)));
    return _mm512_maskz_xor_epi32(0x00FF, v, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
};

template <>
struct Q0Format<WType::kQ4_0> {
  static constexpr int kBlockBytes = 18;
  static constexpr int kBiasShift = 3;  // bias 8
  static constexpr int kPairLoadBytes = 64;
  template <bool kMasked>
  static inline void LoadPair(const uint8_t* p, __m512i* wv, __m512* ws) {
    // Pair = 36 bytes: d0 = word 0, qs0 = words 1-8, d1 = word 9, qs1 = words 10-17.
    const __m512i z =
        kMasked ? _mm512_maskz_loadu_epi8((__mmask64{1} << 36) - 1, p) : _mm512_loadu_si512(p);
    *wv = PairNibbles<1, 10>(z);
    *ws = PairScales<0, 9>(z);
  }
  static inline __m512i LoadOne(const uint8_t* p) { return NibbleSingle(p + 2); }
};

template <>
struct Q0Format<WType::kQ5_0> {
  static constexpr int kBlockBytes = 22;
  static constexpr int kBiasShift = 4;  // bias 16
  static constexpr int kPairLoadBytes = 64;
  template <bool kMasked>
  static inline void LoadPair(const uint8_t* p, __m512i* wv, __m512* ws) {
    // Pair = 44 bytes: d0 = word 0, qh0 = words 1-2, qs0 = words 3-10, d1 = word 11,
    // qh1 = words 12-13, qs1 = words 14-21.
    const __m512i z =
        kMasked ? _mm512_maskz_loadu_epi8((__mmask64{1} << 44) - 1, p) : _mm512_loadu_si512(p);
    // Byte i of the nibble vector is element i of the pair: the fifth bits map 1:1 to a mask.
    const __mmask64 h =
        static_cast<__mmask64>(Load32(p + 2)) | (static_cast<__mmask64>(Load32(p + 24)) << 32);
    const __m512i lo4 = PairNibbles<3, 14>(z);
    *wv = _mm512_mask_add_epi8(lo4, h, lo4, _mm512_set1_epi8(0x10));
    *ws = PairScales<0, 11>(z);
  }
  static inline __m512i LoadOne(const uint8_t* p) {
    const __mmask64 h = static_cast<__mmask64>(Load32(p + 2));
    const __m512i lo4 = NibbleSingle(p + 6);
    return _mm512_mask_add_epi8(lo4, h, lo4, _mm512_set1_epi8(0x10));
  }
};

inline __m512 ActScales2(const float* d) {
  const __m128 f = _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(d)));
  const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(f));
}

// -bias * (sum of each group of 4 activations), lane by lane: starting vpdpbusd from this
// cancels the unsigned offset of the weight codes within every int32 lane, so each lane holds
// an exact signed partial sum (small, so its float conversion and scaling stay accurate).
template <int kShift>
inline __m512i NegBias(__m512i xv) {
  const __m512i zero = _mm512_setzero_si512();
  return _mm512_sub_epi32(
      zero, _mm512_dpbusd_epi32(zero, _mm512_set1_epi8(static_cast<char>(1 << kShift)), xv));
}

template <WType T, int MR, int NT>
void TileQ0(const GemmArgs& a, int64_t r0, int64_t t0) {
  using F = Q0Format<T>;
  const int64_t cols = a.cols, nb = cols / kQK;
  const uint8_t* w[MR];
  for (int r = 0; r < MR; ++r) w[r] = a.w + (r0 + r) * a.w_stride;
  ActQ8 act[NT];
  for (int t = 0; t < NT; ++t) act[t] = ViewActQ8(a.act + (t0 + t) * a.act_stride, cols);
  __m512 acc[MR][NT];
  for (int r = 0; r < MR; ++r) {
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  }
  auto pair_step = [&](int64_t b, auto masked) {
    if constexpr (NT == 1) {
      // One token (decode): each row is loaded and multiplied at once, so few registers
      // stay live and MR can be large (the activation side is shared by more rows).
      const __m512i xv = _mm512_loadu_si512(act[0].qs + b * kQK);
      const __m512 xs = ActScales2(act[0].d + b);
      const __m512i init = NegBias<F::kBiasShift>(xv);
      for (int r = 0; r < MR; ++r) {
        PrefetchNextTile<MR>(w[r] + b * F::kBlockBytes, a.w_stride);
        if constexpr (2 * F::kBlockBytes > 64)
          PrefetchNextTile<MR>(w[r] + b * F::kBlockBytes + 64, a.w_stride);
        __m512i wv;
        __m512 ws;
        F::template LoadPair<decltype(masked)::value>(w[r] + b * F::kBlockBytes, &wv, &ws);
        const __m512i isum = _mm512_dpbusd_epi32(init, wv, xv);
        acc[r][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(ws, xs), acc[r][0]);
      }
      return;
    }
    __m512i wv[MR];
    __m512 ws[MR];
    for (int r = 0; r < MR; ++r) {
      PrefetchNextTile<MR>(w[r] + b * F::kBlockBytes, a.w_stride);
      // A Q8_0 pair is 68 bytes: one prefetch per pair would skip a line now and then.
      if constexpr (2 * F::kBlockBytes > 64)
        PrefetchNextTile<MR>(w[r] + b * F::kBlockBytes + 64, a.w_stride);
      F::template LoadPair<decltype(masked)::value>(w[r] + b * F::kBlockBytes, &wv[r], &ws[r]);
    }
    for (int t = 0; t < NT; ++t) {
      const __m512i xv = _mm512_loadu_si512(act[t].qs + b * kQK);
      const __m512 xs = ActScales2(act[t].d + b);
      const __m512i init = NegBias<F::kBiasShift>(xv);
      for (int r = 0; r < MR; ++r) {
        const __m512i isum = _mm512_dpbusd_epi32(init, wv[r], xv);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(ws[r], xs), acc[r][t]);
      }
    }
  };
  // Plain loads while they stay inside the row, masked ones for the last pair(s).
  const int64_t row_bytes = nb * F::kBlockBytes;
  int64_t b = 0;
  for (; b + 2 <= nb && b * F::kBlockBytes + F::kPairLoadBytes <= row_bytes; b += 2)
    pair_step(b, BoolC<false>{});
  for (; b + 2 <= nb; b += 2) pair_step(b, BoolC<true>{});
  if (b < nb) {  // odd block count: one block in the low half
    __m512i wv[MR];
    __m512 ws[MR];
    for (int r = 0; r < MR; ++r) {
      const uint8_t* p = w[r] + b * F::kBlockBytes;
      wv[r] = F::LoadOne(p);
      ws[r] = _mm512_set1_ps(HalfToFloat(Load16(p)));
    }
    for (int t = 0; t < NT; ++t) {
      const __m512i xv = _mm512_zextsi256_si512(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[t].qs + b * kQK)));
      const __m512 xs = _mm512_set1_ps(act[t].d[b]);
      const __m512i init = _mm512_maskz_mov_epi32(0x00FF, NegBias<F::kBiasShift>(xv));
      for (int r = 0; r < MR; ++r) {
        const __m512i isum = _mm512_dpbusd_epi32(init, wv[r], xv);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(ws[r], xs), acc[r][t]);
      }
    }
  }
  StoreTile<MR, NT>(acc, a.y + t0 * a.y_stride + r0, a.y_stride);
}

// Runs Tile<mr, nt> for 1 <= mr <= MRMAX, 1 <= nt <= NTMAX (a short compare chain).
template <int MRMAX, int NTMAX, template <int, int> class Tile, int M = 1, int N = 1>
inline void RunTile(int mr, int nt, const GemmArgs& a, int64_t r, int64_t t) {
  if (mr == M && nt == N) {
    Tile<M, N>::Run(a, r, t);
  } else if constexpr (N < NTMAX) {
    RunTile<MRMAX, NTMAX, Tile, M, N + 1>(mr, nt, a, r, t);
  } else if constexpr (M < MRMAX) {
    RunTile<MRMAX, NTMAX, Tile, M + 1, 1>(mr, nt, a, r, t);
  }
}

// Generic driver over register tiles of up to MRMAX rows x NTMAX tokens: token tiles
// outside, so a tile of activations stays in L1 while the row chunk's weights stream past.
template <int MRMAX, int NTMAX, template <int, int> class Tile>
void GemmTiled(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; t += NTMAX) {
    const int nt = static_cast<int>(Min64(NTMAX, t1 - t));
    for (int64_t r = r0; r < r1; r += MRMAX) {
      const int mr = static_cast<int>(Min64(MRMAX, r1 - r));
      RunTile<MRMAX, NTMAX, Tile>(mr, nt, a, r, t);
    }
  }
}

template <WType T>
struct Q0Tiles {
  template <int MR, int NT>
  struct Tile {
    static void Run(const GemmArgs& a, int64_t r0, int64_t t0) { TileQ0<T, MR, NT>(a, r0, t0); }
  };
};

// Register tiles for single tokens (decode), packed panels for batches (prefill), whatever
// their count: each computes a row with its own fixed arithmetic (see MatMul).
template <WType T>
void GemmQ0(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  if (a.batch) {
    PackedQ0GemmAvx512(T)(a, r0, r1, t0, t1);
  } else if (t1 - t0 == 1) {
    GemmTiled<kDecodeRows, 1, Q0Tiles<T>::template Tile>(a, r0, r1, t0, t1);
  } else {
    GemmTiled<4, 4, Q0Tiles<T>::template Tile>(a, r0, r1, t0, t1);
  }
}

// ---------------------------------------------------------------------------------------
// Q4_K / Q6_K weights x Q8_K activations.
//
// Per super-block of 256: vpdpbusd (unsigned weight codes x signed activations) gives
// int32 lanes that each cover 4 consecutive values of one sub-block; vpdpwssd then multiplies
// every lane by its sub-block scale (the lane value fits in 16 bits) and accumulates, so the
// whole super-block's sum is exact integer arithmetic before one float conversion.

inline uint32_t Q4KUnpack(const uint8_t* s, uint64_t* sc8, uint64_t* m8) {
  const uint32_t s0 = Load32(s), s1 = Load32(s + 4), s2 = Load32(s + 8);
  const uint32_t sc_hi = (s2 & 0x0f0f0f0fu) | (((s0 >> 6) & 0x03030303u) << 4);
  const uint32_t m_hi = ((s2 >> 4) & 0x0f0f0f0fu) | (((s1 >> 6) & 0x03030303u) << 4);
  *sc8 = (s0 & 0x3f3f3f3fu) | (static_cast<uint64_t>(sc_hi) << 32);
  *m8 = (s1 & 0x3f3f3f3fu) | (static_cast<uint64_t>(m_hi) << 32);
  return 0;
}

template <int... I>
inline __m512i DwordIndex() {
  alignas(64) static constexpr int32_t kIdx[16] = {I...};
  return _mm512_load_si512(kIdx);
}

// Activation vector k of a Q8_K block in the order the Q4_K nibble vectors use:
// k=0: [0-31 | 64-95], 1: [32-63 | 96-127], 2: [128-159 | 192-223], 3: [160-191 | 224-255].
inline __m512i Q4KActVector(const int8_t* q, int k) {
  const int base = (k >> 1) * 128 + (k & 1) * 32;
  return _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + base))),
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + base + 64)), 1);
}

template <int MR, int NT>
void TileQ4K(const GemmArgs& a, int64_t r0, int64_t t0) {
  const int64_t nb = a.cols / kQKK;
  __m512 acc[MR][NT];
  for (int r = 0; r < MR; ++r) {
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  }
  const __m512i zero = _mm512_setzero_si512();
  for (int64_t b = 0; b < nb; ++b) {
    __m512i wv[MR][4], sv[MR][4];
    __m512 fm[MR], dw[MR];
    for (int r = 0; r < MR; ++r) {
      const BlockQ4_K* blk = reinterpret_cast<const BlockQ4_K*>(a.w + (r0 + r) * a.w_stride) + b;
      PrefetchNextTile<MR>(reinterpret_cast<const uint8_t*>(blk), a.w_stride);
      PrefetchNextTile<MR>(reinterpret_cast<const uint8_t*>(blk) + 64, a.w_stride);
      PrefetchNextTile<MR>(reinterpret_cast<const uint8_t*>(blk) + 128, a.w_stride);
      uint64_t sc8, m8;
      Q4KUnpack(blk->scales, &sc8, &m8);
      const __m512i sc32 = _mm512_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(sc8)));
      sv[r][0] = _mm512_permutexvar_epi32(
          DwordIndex<0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2>(), sc32);
      sv[r][1] = _mm512_permutexvar_epi32(
          DwordIndex<1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3>(), sc32);
      sv[r][2] = _mm512_permutexvar_epi32(
          DwordIndex<4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6>(), sc32);
      sv[r][3] = _mm512_permutexvar_epi32(
          DwordIndex<5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7>(), sc32);
      const __m512 m =
          _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(m8))));
      fm[r] = _mm512_mul_ps(m, _mm512_set1_ps(HalfToFloat(blk->dmin)));  // lanes 8-15 are 0
      dw[r] = _mm512_set1_ps(HalfToFloat(blk->d));
      const __m512i z0 = _mm512_loadu_si512(blk->qs), z1 = _mm512_loadu_si512(blk->qs + 64);
      const __m512i m4 = _mm512_set1_epi8(0x0F);
      wv[r][0] = _mm512_and_si512(z0, m4);
      wv[r][1] = _mm512_and_si512(_mm512_srli_epi16(z0, 4), m4);
      wv[r][2] = _mm512_and_si512(z1, m4);
      wv[r][3] = _mm512_and_si512(_mm512_srli_epi16(z1, 4), m4);
    }
    for (int t = 0; t < NT; ++t) {
      const BlockQ8_K* y = reinterpret_cast<const BlockQ8_K*>(a.act + (t0 + t) * a.act_stride) + b;
      __m512i xv[4];
      for (int k = 0; k < 4; ++k) xv[k] = Q4KActVector(y->qs, k);
      const __m256i pairs = _mm256_madd_epi16(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y->bsums)), _mm256_set1_epi16(1));
      const __m512 dy = _mm512_set1_ps(y->d);
      const __m512 fb = _mm512_mul_ps(_mm512_castps256_ps512(_mm256_cvtepi32_ps(pairs)), dy);
      const __m512 fbz = _mm512_maskz_mov_ps(0x00FF, fb);
      for (int r = 0; r < MR; ++r) {
        __m512i isum =
            _mm512_dpwssd_epi32(zero, _mm512_dpbusd_epi32(zero, wv[r][0], xv[0]), sv[r][0]);
        for (int k = 1; k < 4; ++k)
          isum = _mm512_dpwssd_epi32(isum, _mm512_dpbusd_epi32(zero, wv[r][k], xv[k]), sv[r][k]);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw[r], dy), acc[r][t]);
        acc[r][t] = _mm512_fnmadd_ps(fm[r], fbz, acc[r][t]);
      }
    }
  }
  StoreTile<MR, NT>(acc, a.y + t0 * a.y_stride + r0, a.y_stride);
}

// One token (decode), one row after another. The token's activation vectors in Q4_K's
// order and its min corrections are made once per call into a per-thread table, so the row
// loop does only the row's own work. Same arithmetic per row as TileQ4K<1, 1>.
void GemvQ4KRows(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0) {
  const int64_t nb = a.cols / kQKK;
  const BlockQ8_K* y = reinterpret_cast<const BlockQ8_K*>(a.act + t0 * a.act_stride);
  struct alignas(64) TokenBlock {
    __m512i xv[4];
    __m512 fbz;  // d_y * (sums of 32 activations), lanes 8-15 zero
    __m512 dy;
  };
  thread_local std::vector<TokenBlock> table;
  if (static_cast<int64_t>(table.size()) < nb) table.resize(nb);
  for (int64_t b = 0; b < nb; ++b) {
    TokenBlock& tb = table[b];
    for (int k = 0; k < 4; ++k) tb.xv[k] = Q4KActVector(y[b].qs, k);
    const __m256i pairs = _mm256_madd_epi16(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[b].bsums)), _mm256_set1_epi16(1));
    tb.dy = _mm512_set1_ps(y[b].d);
    const __m512 fb = _mm512_mul_ps(_mm512_castps256_ps512(_mm256_cvtepi32_ps(pairs)), tb.dy);
    tb.fbz = _mm512_maskz_mov_ps(0x00FF, fb);
  }
  const __m512i zero = _mm512_setzero_si512();
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  float* out = a.y + t0 * a.y_stride;
  for (int64_t r = r0; r < r1; ++r) {
    const BlockQ4_K* row = reinterpret_cast<const BlockQ4_K*>(a.w + r * a.w_stride);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ4_K* blk = row + b;
      PrefetchNextTile<1>(reinterpret_cast<const uint8_t*>(blk), a.w_stride);
      PrefetchNextTile<1>(reinterpret_cast<const uint8_t*>(blk) + 64, a.w_stride);
      PrefetchNextTile<1>(reinterpret_cast<const uint8_t*>(blk) + 128, a.w_stride);
      const TokenBlock& tb = table[b];
      uint64_t sc8, m8;
      Q4KUnpack(blk->scales, &sc8, &m8);
      const __m512i sc32 = _mm512_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(sc8)));
      const __m512 m =
          _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(m8))));
      const __m512 fm = _mm512_mul_ps(m, _mm512_set1_ps(HalfToFloat(blk->dmin)));
      const __m512 dw = _mm512_set1_ps(HalfToFloat(blk->d));
      const __m512i z0 = _mm512_loadu_si512(blk->qs), z1 = _mm512_loadu_si512(blk->qs + 64);
      const __m512i wv[4] = {
          _mm512_and_si512(z0, m4), _mm512_and_si512(_mm512_srli_epi16(z0, 4), m4),
          _mm512_and_si512(z1, m4), _mm512_and_si512(_mm512_srli_epi16(z1, 4), m4)};
      const __m512i sv[4] = {
          _mm512_permutexvar_epi32(DwordIndex<0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2>(),
                                   sc32),
          _mm512_permutexvar_epi32(DwordIndex<1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3>(),
                                   sc32),
          _mm512_permutexvar_epi32(DwordIndex<4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6>(),
                                   sc32),
          _mm512_permutexvar_epi32(DwordIndex<5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7>(),
                                   sc32)};
      __m512i isum = _mm512_dpwssd_epi32(zero, _mm512_dpbusd_epi32(zero, wv[0], tb.xv[0]), sv[0]);
      for (int k = 1; k < 4; ++k)
        isum = _mm512_dpwssd_epi32(isum, _mm512_dpbusd_epi32(zero, wv[k], tb.xv[k]), sv[k]);
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, tb.dy), acc);
      acc = _mm512_fnmadd_ps(fm, tb.fbz, acc);
    }
    out[r] = _mm512_reduce_add_ps(acc);
  }
}

template <int MR, int NT>
struct Q4KTile {
  static void Run(const GemmArgs& a, int64_t r0, int64_t t0) { TileQ4K<MR, NT>(a, r0, t0); }
};

template <int MR, int NT>
void TileQ6K(const GemmArgs& a, int64_t r0, int64_t t0) {
  const int64_t nb = a.cols / kQKK;
  __m512 acc[MR][NT];
  for (int r = 0; r < MR; ++r) {
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  }
  const __m512i zero = _mm512_setzero_si512();
  const __m512i lo16 = _mm512_set1_epi32(0xFFFF);
  for (int64_t b = 0; b < nb; ++b) {
    __m512i wv[MR][4], sv[MR][4];
    __m512 dw[MR];
    for (int r = 0; r < MR; ++r) {
      const BlockQ6_K* blk = reinterpret_cast<const BlockQ6_K*>(a.w + (r0 + r) * a.w_stride) + b;
      for (int off = 0; off < 210; off += 64)
        PrefetchNextTile<MR>(reinterpret_cast<const uint8_t*>(blk) + off, a.w_stride);
      const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk->scales));
      const __m512i sc32 = _mm512_cvtepi8_epi32(sc);
      // Scales as int32 lanes with a zero high half (vpdpwssd also multiplies high halves).
      sv[r][0] =
          _mm512_and_si512(_mm512_permutexvar_epi32(
                               DwordIndex<0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3>(), sc32),
                           lo16);
      sv[r][1] =
          _mm512_and_si512(_mm512_permutexvar_epi32(
                               DwordIndex<4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7>(), sc32),
                           lo16);
      sv[r][2] = _mm512_and_si512(
          _mm512_permutexvar_epi32(
              DwordIndex<8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11>(), sc32),
          lo16);
      sv[r][3] = _mm512_and_si512(
          _mm512_permutexvar_epi32(
              DwordIndex<12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15>(), sc32),
          lo16);
      dw[r] = _mm512_set1_ps(HalfToFloat(blk->d));
      const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(0x03);
      for (int h = 0; h < 2; ++h) {
        const __m512i ql = _mm512_loadu_si512(blk->ql + 64 * h);
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qh + 32 * h));
        const __m512i h01 =
            _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
        const __m512i h23 = _mm512_srli_epi16(h01, 4);
        // Elements 128h + [0, 64): low nibbles of ql with bits 0-1 / 2-3 of qh.
        wv[r][2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                       _mm512_slli_epi16(_mm512_and_si512(h01, m3), 4));
        // Elements 128h + [64, 128): high nibbles with bits 4-5 / 6-7.
        wv[r][2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                           _mm512_slli_epi16(_mm512_and_si512(h23, m3), 4));
      }
    }
    for (int t = 0; t < NT; ++t) {
      const BlockQ8_K* y = reinterpret_cast<const BlockQ8_K*>(a.act + (t0 + t) * a.act_stride) + b;
      __m512i xv[4], init[4];
      for (int k = 0; k < 4; ++k) {
        xv[k] = _mm512_loadu_si512(y->qs + 64 * k);
        init[k] = NegBias<5>(xv[k]);  // codes are q + 32
      }
      const __m512 dy = _mm512_set1_ps(y->d);
      for (int r = 0; r < MR; ++r) {
        __m512i isum =
            _mm512_dpwssd_epi32(zero, _mm512_dpbusd_epi32(init[0], wv[r][0], xv[0]), sv[r][0]);
        for (int k = 1; k < 4; ++k) {
          isum = _mm512_dpwssd_epi32(isum, _mm512_dpbusd_epi32(init[k], wv[r][k], xv[k]), sv[r][k]);
        }
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw[r], dy), acc[r][t]);
      }
    }
  }
  StoreTile<MR, NT>(acc, a.y + t0 * a.y_stride + r0, a.y_stride);
}

// One row's super-block times one token's: 6-bit codes are assembled with bit-selects, and
// the scales widen to int32 lanes with a zero high half (vpdpwssd multiplies both halves).
struct Q6KDot {
  __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(0x03), m30 = _mm512_set1_epi8(0x30);
  // Lane i of code vector k belongs to sub-block 4k + i / 4.
  __m512i scale_idx[4] = {
      DwordIndex<0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3>(),
      DwordIndex<4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7>(),
      DwordIndex<8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11>(),
      DwordIndex<12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15>()};

  // The integer sum of the block (codes q + 32 against xv, corrected by init = NegBias).
  inline __m512i Run(const BlockQ6_K* blk, const __m512i* xv, const __m512i* init) const {
    const __m512i sc32 = _mm512_cvtepu16_epi32(
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk->scales))));
    const __m512i qh = _mm512_loadu_si512(blk->qh);
    const __m512i qh2 = _mm512_srli_epi16(qh, 2);
    // Per half h: [qh bits of elements 0-31 | of 32-63], both at bit positions 0-1 and 4-5.
    const __m512i h01[2] = {_mm512_shuffle_i64x2(qh, qh2, _MM_SHUFFLE(1, 0, 1, 0)),
                            _mm512_shuffle_i64x2(qh, qh2, _MM_SHUFFLE(3, 2, 3, 2))};
    __m512i isum = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(blk->ql + 64 * h);
      // m4 selects (0xCA: m4 ? ql : high bits): (ql & 0x0F) | (h01 bits 0-1 << 4), and
      // (ql >> 4 & 0x0F) | (h01 bits 4-5).
      const __m512i hi_lo = _mm512_slli_epi16(_mm512_and_si512(h01[h], m3), 4);
      const __m512i w_lo = _mm512_ternarylogic_epi32(m4, ql, hi_lo, 0xCA);
      const __m512i w_hi = _mm512_ternarylogic_epi32(m4, _mm512_srli_epi16(ql, 4),
                                                     _mm512_and_si512(h01[h], m30), 0xCA);
      const __m512i d_lo = _mm512_dpbusd_epi32(init[2 * h], w_lo, xv[2 * h]);
      const __m512i d_hi = _mm512_dpbusd_epi32(init[2 * h + 1], w_hi, xv[2 * h + 1]);
      isum = _mm512_dpwssd_epi32(isum, d_lo, _mm512_permutexvar_epi32(scale_idx[2 * h], sc32));
      isum = _mm512_dpwssd_epi32(isum, d_hi, _mm512_permutexvar_epi32(scale_idx[2 * h + 1], sc32));
    }
    return isum;
  }
};

// One token (decode), one row after another: each row's super-block is unpacked and
// multiplied at once. The token's vectors and their bias corrections (NegBias) are made once
// per call into a per-thread table, so the row loop only loads them from L1.
void GemvQ6KRows(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0) {
  const int64_t nb = a.cols / kQKK;
  const BlockQ8_K* y = reinterpret_cast<const BlockQ8_K*>(a.act + t0 * a.act_stride);
  struct alignas(64) Vec {
    __m512i v;
  };
  thread_local std::vector<Vec> init_table;
  if (static_cast<int64_t>(init_table.size()) < 4 * nb) init_table.resize(4 * nb);
  __m512i* init = &init_table[0].v;
  for (int64_t b = 0; b < nb; ++b) {
    for (int k = 0; k < 4; ++k)
      init[4 * b + k] = NegBias<5>(_mm512_loadu_si512(y[b].qs + 64 * k));  // codes are q + 32
  }
  const Q6KDot dot;
  float* out = a.y + t0 * a.y_stride;
  for (int64_t r = r0; r < r1; ++r) {
    const BlockQ6_K* row = reinterpret_cast<const BlockQ6_K*>(a.w + r * a.w_stride);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ6_K* blk = row + b;
      for (int off = 0; off < 210; off += 64)
        PrefetchNextTile<1>(reinterpret_cast<const uint8_t*>(blk) + off, a.w_stride);
      __m512i xv[4];
      for (int k = 0; k < 4; ++k) xv[k] = _mm512_loadu_si512(y[b].qs + 64 * k);
      const __m512i isum = dot.Run(blk, xv, &init[4 * b]);
      const __m512 dwy = _mm512_set1_ps(HalfToFloat(blk->d) * y[b].d);
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), dwy, acc);
    }
    out[r] = _mm512_reduce_add_ps(acc);
  }
}

template <int MR, int NT>
struct Q6KTile {
  static void Run(const GemmArgs& a, int64_t r0, int64_t t0) { TileQ6K<MR, NT>(a, r0, t0); }
};

// K-quant products: packed panels for batches (prefill), a row at a time for one or several
// single tokens.
void GemmQ4K(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  if (a.batch) {
    PackedKGemmAvx512(WType::kQ4_K)(a, r0, r1, t0, t1);
  } else if (t1 - t0 == 1) {
    GemvQ4KRows(a, r0, r1, t0);
  } else {
    GemmRowTokenTiles<Q4KTile>(a, r0, r1, t0, t1);
  }
}

void GemmQ6K(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  if (a.batch) {
    PackedKGemmAvx512(WType::kQ6_K)(a, r0, r1, t0, t1);
  } else if (t1 - t0 == 1) {
    GemvQ6KRows(a, r0, r1, t0);
  } else {
    GemmRowTokenTiles<Q6KTile>(a, r0, r1, t0, t1);
  }
}

// ---------------------------------------------------------------------------------------
// F32 / F16 / BF16 weights.

template <WType T>
struct FloatFormat;

template <>
struct FloatFormat<WType::kF32> {
  static constexpr int kElemBytes = 4;
  static inline __m512 LoadW(const uint8_t* row, int64_t i) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
  static inline __m512 LoadWTail(const uint8_t* row, int64_t i, __mmask16 k) {
    return _mm512_maskz_loadu_ps(k, reinterpret_cast<const float*>(row) + i);
  }
};

template <>
struct FloatFormat<WType::kF16> {
  static constexpr int kElemBytes = 2;
  static inline __m512 LoadW(const uint8_t* row, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
  }
  static inline __m512 LoadWTail(const uint8_t* row, int64_t i, __mmask16 k) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, row + 2 * i));
  }
};

// Weights converted per 16 values; activations are float rows (F32: x itself, F16: x
// rounded to f16 and stored as float).
template <WType T, int MR, int NT>
void TileFloat(const GemmArgs& a, int64_t r0, int64_t t0) {
  using F = FloatFormat<T>;
  const int64_t cols = a.cols;
  const uint8_t* w[MR];
  for (int r = 0; r < MR; ++r) w[r] = a.w + (r0 + r) * a.w_stride;
  const float* x[NT];
  for (int t = 0; t < NT; ++t)
    x[t] = reinterpret_cast<const float*>(a.act + (t0 + t) * a.act_stride);
  __m512 acc[MR][NT];
  for (int r = 0; r < MR; ++r) {
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 16 <= cols; i += 16) {
    __m512 wv[MR];
    for (int r = 0; r < MR; ++r) {
      PrefetchNextTile<MR>(w[r] + i * F::kElemBytes, a.w_stride);
      wv[r] = F::LoadW(w[r], i);
    }
    for (int t = 0; t < NT; ++t) {
      const __m512 xv = _mm512_loadu_ps(x[t] + i);
      for (int r = 0; r < MR; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  if (i < cols) {
    const __mmask16 k = static_cast<__mmask16>((1u << (cols - i)) - 1);
    __m512 wv[MR];
    for (int r = 0; r < MR; ++r) wv[r] = F::LoadWTail(w[r], i, k);
    for (int t = 0; t < NT; ++t) {
      const __m512 xv = _mm512_maskz_loadu_ps(k, x[t] + i);
      for (int r = 0; r < MR; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  StoreTile<MR, NT>(acc, a.y + t0 * a.y_stride + r0, a.y_stride);
}

template <WType T>
struct FloatTiles {
  template <int MR, int NT>
  struct Tile {
    static void Run(const GemmArgs& a, int64_t r0, int64_t t0) { TileFloat<T, MR, NT>(a, r0, t0); }
  };
};

// BF16 x BF16 pairs with vdpbf16ps (32 products per instruction).
template <int MR, int NT>
void TileBF16(const GemmArgs& a, int64_t r0, int64_t t0) {
  const int64_t cols = a.cols;
  const uint16_t* w[MR];
  for (int r = 0; r < MR; ++r)
    w[r] = reinterpret_cast<const uint16_t*>(a.w + (r0 + r) * a.w_stride);
  const uint16_t* x[NT];
  for (int t = 0; t < NT; ++t)
    x[t] = reinterpret_cast<const uint16_t*>(a.act + (t0 + t) * a.act_stride);
  __m512 acc[MR][NT];
  for (int r = 0; r < MR; ++r) {
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 32 <= cols; i += 32) {
    __m512bh wv[MR];
    for (int r = 0; r < MR; ++r) {
      PrefetchNextTile<MR>(reinterpret_cast<const uint8_t*>(w[r] + i), a.w_stride);
      wv[r] = (__m512bh)_mm512_loadu_si512(w[r] + i);
    }
    for (int t = 0; t < NT; ++t) {
      const __m512bh xv = (__m512bh)_mm512_loadu_si512(x[t] + i);
      for (int r = 0; r < MR; ++r) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv[r], xv);
    }
  }
  if (i < cols) {
    const __mmask32 k = static_cast<__mmask32>((1ull << (cols - i)) - 1);
    __m512bh wv[MR];
    for (int r = 0; r < MR; ++r) wv[r] = (__m512bh)_mm512_maskz_loadu_epi16(k, w[r] + i);
    for (int t = 0; t < NT; ++t) {
      const __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(k, x[t] + i);
      for (int r = 0; r < MR; ++r) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv[r], xv);
    }
  }
  StoreTile<MR, NT>(acc, a.y + t0 * a.y_stride + r0, a.y_stride);
}

template <int MR, int NT>
struct BF16Tile {
  static void Run(const GemmArgs& a, int64_t r0, int64_t t0) { TileBF16<MR, NT>(a, r0, t0); }
};

// ---------------------------------------------------------------------------------------
// Vector helpers.

void F16ToF32Avx512(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(
                                  reinterpret_cast<const __m256i*>(src + i))));
  }
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(dst + i, k, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, src + i)));
  }
}

float DotF32Avx512(const float* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(),
         s3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= n; i += 16)
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

void AxpyF32Avx512(float alpha, const float* x, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  }
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(
        y + i, k,
        _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(k, x + i), _mm512_maskz_loadu_ps(k, y + i)));
  }
}

// kQ8KLanes: the kQ8K row, then its codes in the order of Q6_K's lanes layout.
void QuantizeActQ8KLanes(const float* x, int64_t cols, uint8_t* row) {
  QuantizeActQ8K(x, cols, row);
  AppendQ8KLanes(cols, row);
}

}  // namespace

void FillAvx512Kernels(KernelSet* ks, bool has_bf16, bool has_gfni) {
  ks->gemm[static_cast<int>(WType::kQ8_0)] = GemmQ0<WType::kQ8_0>;
  ks->gemm[static_cast<int>(WType::kQ4_0)] = GemmQ0<WType::kQ4_0>;
  ks->gemm[static_cast<int>(WType::kQ5_0)] = GemmQ0<WType::kQ5_0>;
  ks->gemm[static_cast<int>(WType::kF32)] = GemmTiled<4, 4, FloatTiles<WType::kF32>::Tile>;
  ks->gemm[static_cast<int>(WType::kF16)] = GemmTiled<4, 4, FloatTiles<WType::kF16>::Tile>;
  ks->gemm[static_cast<int>(WType::kQ4_K)] = GemmQ4K;
  ks->gemm[static_cast<int>(WType::kQ6_K)] = GemmQ6K;
  ks->gemm[static_cast<int>(WType::kQ4_0P)] = Panels16GemmAvx512();
  if (has_bf16) ks->gemm[static_cast<int>(WType::kBF16)] = GemmTiled<4, 4, BF16Tile>;
  if (has_gfni) ks->gemm[static_cast<int>(WType::kQ6_KL)] = Q6KLanesGemmAvx512();
  ks->act_quant[static_cast<int>(ActKind::kQ8KLanes)] = QuantizeActQ8KLanes;
  ks->act_quant[static_cast<int>(ActKind::kQ8)] = QuantizeActQ8;
  ks->act_quant[static_cast<int>(ActKind::kQ8K)] = QuantizeActQ8K;
  ks->act_quant[static_cast<int>(ActKind::kF16)] = QuantizeActF16;
  ks->act_quant[static_cast<int>(ActKind::kBF16)] = QuantizeActBF16;
  ks->dot_f32 = DotF32Avx512;
  ks->axpy_f32 = AxpyF32Avx512;
  ks->f16_to_f32 = F16ToF32Avx512;
}

}  // namespace llmux::kernels
