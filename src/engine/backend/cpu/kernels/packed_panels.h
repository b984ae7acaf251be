// What the packed-panel prefill kernels share across instruction sets (avx512_packed_*.cc,
// avx2_packed_*.cc): Q4_K / Q6_K super-blocks unpacked to one byte per code in element order
// with their sub-block scales as floats, the prefetch of a panel's next chunk, and for the
// AVX2 kernels the 8 x 8 dword transpose that makes their panels and the loop over them.
//
// AVX2 + F16C intrinsics: include only from files compiled with at least LLMUX_AVX2_FLAGS.
// Every function is `static`, so each kernel file keeps its own copy compiled with its own
// flags (an inline function with external linkage could be shared between them by the linker,
// and a baseline or AVX2 caller might then run a copy compiled for AVX-512).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "engine/backend/cpu/kernels/blocks.h"
#include "engine/backend/cpu/kernels/kernel_set.h"

namespace llmux::kernels {

// Q4_K: the 256 codes (0..15) in element order, the scales d * sc_j and the mins dmin * m_j
// of its 8 sub-blocks of 32. `codes` is 32-byte aligned.
static inline void UnpackQ4KBlock(const BlockQ4_K& b, uint8_t* codes, float* scale, float* mins) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  for (int j = 0; j < 4; ++j) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * j));
    _mm256_store_si256(reinterpret_cast<__m256i*>(codes + 64 * j), _mm256_and_si256(v, m4));
    _mm256_store_si256(reinterpret_cast<__m256i*>(codes + 64 * j + 32),
                       _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
  }
  const float d = _cvtsh_ss(b.d), dmin = _cvtsh_ss(b.dmin);
  const uint8_t* s = b.scales;
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    if (j < 4) {
      sc = s[j] & 63;
      m = s[j + 4] & 63;
    } else {
      sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
      m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
    scale[j] = d * static_cast<float>(sc);
    mins[j] = dmin * static_cast<float>(m);
  }
}

// Q6_K: the 256 codes q + 32 (0..63; 4 bits in ql, 2 in qh) in element order and the scales
// d * sc_j of its 16 sub-blocks of 16. `codes` is 32-byte aligned.
static inline void UnpackQ6KBlock(const BlockQ6_K& b, uint8_t* codes, float* scale) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(0x03);
  for (int h = 0; h < 2; ++h) {
    const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h));
    const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h + 32));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
    auto high = [&](int shift) {  // bits shift..shift+1 of qh, moved to bits 4-5
      return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, shift), m3), 4);
    };
    uint8_t* out = codes + 128 * h;
    _mm256_store_si256(reinterpret_cast<__m256i*>(out),
                       _mm256_or_si256(_mm256_and_si256(ql0, m4), high(0)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(out + 32),
                       _mm256_or_si256(_mm256_and_si256(ql1, m4), high(2)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(out + 64),
                       _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), high(4)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(out + 96),
                       _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), high(6)));
  }
  const float d = _cvtsh_ss(b.d);
  for (int j = 0; j < 16; ++j) scale[j] = d * static_cast<float>(b.scales[j]);
}

// An 8 x 8 dword transpose: out[j] holds dword j of rows v[0..7].
static inline void Transpose8x8(const __m256i* v, __m256i* out) {
  __m256i t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_epi32(v[i], v[i + 1]);      // dwords 0 1 | 4 5 of rows i, i + 1
    t[i + 1] = _mm256_unpackhi_epi32(v[i], v[i + 1]);  // dwords 2 3 | 6 7
  }
  for (int h = 0; h < 2; ++h) {  // rows 4h .. 4h + 3
    const __m256i* th = t + 4 * h;
    u[4 * h + 0] = _mm256_unpacklo_epi64(th[0], th[2]);  // dword 0 | 4
    u[4 * h + 1] = _mm256_unpackhi_epi64(th[0], th[2]);  // dword 1 | 5
    u[4 * h + 2] = _mm256_unpacklo_epi64(th[1], th[3]);  // dword 2 | 6
    u[4 * h + 3] = _mm256_unpackhi_epi64(th[1], th[3]);  // dword 3 | 7
  }
  for (int k = 0; k < 4; ++k) {
    out[k] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x20);
    out[k + 4] = _mm256_permute2x128_si256(u[k], u[k + 4], 0x31);
  }
}

// Fetches `blocks` blocks of `block_bytes` from block b0 on of rows [r, r + nr) into L2, while
// the current chunk of a panel is multiplied.
static inline void PrefetchPanelChunk(const uint8_t* w, size_t w_stride, int64_t r, int64_t nr,
                                      int64_t b0, int64_t blocks, int64_t block_bytes) {
  const int64_t bytes = blocks * block_bytes;
  for (int64_t i = 0; i < nr; ++i) {
    const uint8_t* p = w + (r + i) * w_stride + b0 * block_bytes;
    for (int64_t off = 0; off < bytes + 63; off += 64)
      _mm_prefetch(reinterpret_cast<const char*>(p + (off < bytes - 1 ? off : bytes - 1)),
                   _MM_HINT_T1);
  }
}

// One activation dword (4 codes of a token) in every lane: the operand that advances 8 rows of
// an AVX2 panel with one vpmaddubsw.
static inline __m256i Avx2Broadcast32(const int8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(static_cast<int>(v));
}

// AVX2 panels: 16 rows (MatMul's batch work items start at 16-row boundaries), in two groups of
// 8 (one ymm dword lane per row).
inline constexpr int kAvx2PanelRows = 16;
inline constexpr int kAvx2GroupRows = 8;

// The loop of the AVX2 packed-panel GEMMs: rows [r0, r1) in panels of kAvx2PanelRows, and the nb
// blocks of `block_bytes` of a row in chunks of kChunk. Per panel chunk: pack(r, nr, b0, kb)
// unpacks rows [r, r + nr) x blocks [b0, b0 + kb) (the next chunk is prefetched meanwhile), then
// tile(g, mask, r, b0, kb, t, nt) multiplies group g (rows r + 8g .., `mask` the lanes of rows that
// exist) with tokens [t, t + nt), nt <= kTokens, every token of the call in turn.
template <int kChunk, int kTokens, class Pack, class Tile>
static inline void Avx2PanelLoop(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1,
                                 int64_t nb, int64_t block_bytes, Pack pack, Tile tile) {
  constexpr int64_t kPanel = kAvx2PanelRows, kGroup = kAvx2GroupRows;
  auto min = [](int64_t x, int64_t y) { return x < y ? x : y; };
  PrefetchPanelChunk(a.w, a.w_stride, r0, min(kPanel, r1 - r0), 0, min(kChunk, nb), block_bytes);
  for (int64_t r = r0; r < r1; r += kPanel) {
    const int nr = static_cast<int>(min(kPanel, r1 - r));
    for (int64_t b0 = 0; b0 < nb; b0 += kChunk) {
      const int kb = static_cast<int>(min(kChunk, nb - b0));
      pack(r, nr, b0, kb);
      if (b0 + kChunk < nb) {
        PrefetchPanelChunk(a.w, a.w_stride, r, nr, b0 + kChunk, min(kChunk, nb - b0 - kChunk),
                           block_bytes);
      } else if (r + kPanel < r1) {
        PrefetchPanelChunk(a.w, a.w_stride, r + kPanel, min(kPanel, r1 - r - kPanel), 0,
                           min(kChunk, nb), block_bytes);
      }
      for (int g = 0; kGroup * g < nr; ++g) {
        const __m256i mask =
            _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - static_cast<int>(kGroup) * g),
                               _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (int64_t t = t0; t < t1; t += kTokens) {
          tile(g, mask, r, b0, kb, t, static_cast<int>(min(kTokens, t1 - t)));
        }
      }
    }
  }
}

}  // namespace llmux::kernels
