// Single-token products of Q6_K weights in the lanes layout (q6k_lanes.h), compiled with
// LLMUX_AVX512_FLAGS and -mgfni and only called when the CPU has those features. No AMX.
//
// Per block and token: three loads and seven instructions give the four code vectors (GFNI
// moves vector 3's bit pairs in one instruction each), four vpdpbusd starting from the
// token's bias add into the 16 sub-block lanes, one multiply by the 16 scales makes the
// block's exact integer sums, and one conversion and fmadd scale them by d and the token's d.
// Batches (prefill) go to the packed panels of avx512_packed_k.cc.
//
// Everything except the exported lookup lives in an anonymous namespace, and no inline
// function of a shared header is called (see avx512_kernels.cc for why).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "engine/backend/cpu/kernels/avx512_packed.h"
#include "engine/backend/cpu/kernels/blocks.h"
#include "engine/backend/cpu/kernels/q6k_lanes.h"

namespace llmux::kernels {
namespace {

// Decode reads one row after another, one linear stream per thread. For rows of at least
// kMinPrefetchBlocks blocks a software prefetch runs this many rows (and at least kMinAhead
// bytes) ahead into L2, across 4 KiB pages where the hardware prefetchers stop. Measured with
// matmul_bench (AMD EPYC Zen 4, 2 threads, GB/s from memory, alternating runs): the
// DeepSeek-V3 output (28 blocks a row) 28-33 with it against 23-24 without or into L1; the
// 1024- and 2048-column outputs (4 and 8 blocks) 30-37 without it against 24-28 with it.
// Each block's step prefetches its share of the row (w_stride / nb bytes), so the row's
// scales and d, stored after its codes, come ahead too. When only the codes were prefetched,
// DeepSeek-V3-shaped decode ran at 0.84-1.12x llama.cpp in the rounds that gave 1.06-1.32x
// with the whole row.
constexpr int64_t kRowsAhead = 4;
constexpr size_t kMinAhead = 16 * 1024;
constexpr int64_t kMinPrefetchBlocks = 16;
constexpr int kTokenTile = 4;

// GF(2) affine matrices for vgf2p8affineqb: byte 7 - i selects the source bits of result
// bit i. Each moves bits 6-7 of every byte to bits 0-1, 2-3 or 4-5 and clears the rest.
constexpr long long kTopTo01 = 0x4080000000000000LL;
constexpr long long kTopTo23 = 0x0000408000000000LL;
constexpr long long kTopTo45 = 0x0000000040800000LL;

inline int64_t Min64(int64_t a, int64_t b) { return a < b ? a : b; }

template <int NT>
void LanesRows(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0) {
  const int64_t nb = a.cols / kQKK;
  const size_t lanes_offset = Q8KLanesOffset(a.cols);
  const BlockQ8_K* xb[NT];
  const uint8_t* xl[NT];
  for (int t = 0; t < NT; ++t) {
    const uint8_t* row = a.act + (t0 + t) * a.act_stride;
    xb[t] = reinterpret_cast<const BlockQ8_K*>(row);
    xl[t] = row + lanes_offset;
  }
  const __m512i m6 = _mm512_set1_epi8(0x3F);
  const __m512i g01 = _mm512_set1_epi64(kTopTo01), g23 = _mm512_set1_epi64(kTopTo23),
                g45 = _mm512_set1_epi64(kTopTo45);
  const bool prefetch = nb >= kMinPrefetchBlocks;
  const size_t ahead = kRowsAhead * a.w_stride > kMinAhead ? kRowsAhead * a.w_stride : kMinAhead;
  const size_t block_stride = a.w_stride / nb;  // the row's bytes per block (210)
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = a.w + r * a.w_stride;
    const uint8_t* scales = row + nb * kQ6KLanesCodeBytes;
    const uint8_t* ds = scales + nb * 16;
    __m512 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* c = row + b * kQ6KLanesCodeBytes;
      if (prefetch) {
        // Block b's share of the row ahead: codes, scales and d alike.
        const uint8_t* pf = row + ahead + b * block_stride;
        for (int off = 0; off < 256; off += 64)
          _mm_prefetch(reinterpret_cast<const char*>(pf + off), _MM_HINT_T1);
      }
      const __m512i ca = _mm512_loadu_si512(c), cb = _mm512_loadu_si512(c + 64),
                    cc = _mm512_loadu_si512(c + 128);
      const __m512i v0 = _mm512_and_si512(ca, m6), v1 = _mm512_and_si512(cb, m6),
                    v2 = _mm512_and_si512(cc, m6);
      const __m512i v3 = _mm512_ternarylogic_epi32(_mm512_gf2p8affine_epi64_epi8(ca, g01, 0),
                                                   _mm512_gf2p8affine_epi64_epi8(cb, g23, 0),
                                                   _mm512_gf2p8affine_epi64_epi8(cc, g45, 0),
                                                   0xFE);  // a | b | c
      const __m512i sc =
          _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 16 * b)));
      uint16_t dh;
      std::memcpy(&dh, ds + 2 * b, 2);
      const float d = _cvtsh_ss(dh);
#pragma GCC unroll 4
      for (int t = 0; t < NT; ++t) {
        const uint8_t* x = xl[t] + b * kQ8KLanesBlockBytes;
        __m512i s = _mm512_loadu_si512(x + 256);  // -32 sum(x) per sub-block: codes are q + 32
        s = _mm512_dpbusd_epi32(s, v0, _mm512_loadu_si512(x));
        s = _mm512_dpbusd_epi32(s, v1, _mm512_loadu_si512(x + 64));
        s = _mm512_dpbusd_epi32(s, v2, _mm512_loadu_si512(x + 128));
        s = _mm512_dpbusd_epi32(s, v3, _mm512_loadu_si512(x + 192));
        s = _mm512_mullo_epi32(s, sc);  // |s| <= 16 * 32 * 127, times |sc| <= 128: exact
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(d * xb[t][b].d), acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) a.y[(t0 + t) * a.y_stride + r] = _mm512_reduce_add_ps(acc[t]);
  }
}

// Batches take the packed panels; single tokens (and several outside a batch, up to four
// per pass over the weights) take LanesRows. A token's arithmetic is the same in each.
void GemmQ6KLanes(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  if (a.batch) {
    PackedKGemmAvx512(WType::kQ6_KL)(a, r0, r1, t0, t1);
    return;
  }
  for (int64_t t = t0; t < t1; t += kTokenTile) {
    switch (Min64(kTokenTile, t1 - t)) {
      case 1:
        LanesRows<1>(a, r0, r1, t);
        break;
      case 2:
        LanesRows<2>(a, r0, r1, t);
        break;
      case 3:
        LanesRows<3>(a, r0, r1, t);
        break;
      default:
        LanesRows<4>(a, r0, r1, t);
        break;
    }
  }
}

}  // namespace

GemmFn Q6KLanesGemmAvx512() { return GemmQ6KLanes; }

}  // namespace llmux::kernels
