// Prefill GEMM for Q8_0 / Q4_0 / Q5_0 weights x Q8 activations on AVX-512 VNNI, compiled
// with LLMUX_AVX512_FLAGS and only called when the CPU has those features. No AMX.
//
// The weights of 16 rows are unpacked once per call into a panel of byte codes (q + 128 for
// every format) laid out so that one zmm holds 4 consecutive codes of each of the 16 rows.
// One activation dword (4 codes of one token) is broadcast and a single vpdpbusd advances
// all 16 rows: 8 vpdpbusd per block and token, then one float scale-and-add, and no
// horizontal sums at all (lane r of the accumulator is row r). The unpacking is paid once
// per panel and shared by every token of the call, so this path is for batches (prefill).
//
// Everything except the exported lookup lives in an anonymous namespace (see
// avx512_kernels.cc for why: no inline functions shared with baseline code).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "engine/backend/cpu/kernels/avx512_packed.h"
#include "engine/backend/cpu/kernels/blocks.h"
#include "engine/backend/cpu/kernels/panels16.h"

namespace llmux::kernels {
namespace {

constexpr int kPanelRows = 16;  // one zmm lane per row
constexpr int kKBlocks = 32;    // blocks per panel chunk: 16 KiB of codes, stays in L1
constexpr int kTokenTile = 8;   // tokens per register tile (8 float accumulators)
constexpr int kBiasShift = 7;   // codes are q + 128

inline int64_t Min64(int64_t a, int64_t b) { return a < b ? a : b; }

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

struct Panel {
  // codes[b][j]: bytes 4r..4r+3 are codes 4j..4j+3 of block b of row r.
  alignas(64) uint8_t codes[kKBlocks][8][64];
  // scale[b][r]: the f16 scale of block b of row r, as float (0 for missing rows).
  alignas(64) float scale[kKBlocks][kPanelRows];
};

// Codes (q + 128) of the 32 elements of one block, in element order, and the block scale.
template <WType T>
struct Format;

template <>
struct Format<WType::kQ8_0> {
  static constexpr int kBlockBytes = 34;
  static inline __m256i Codes(const uint8_t* p) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2));
    return _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80)));
  }
};

// 16 nibble bytes as 32 values: low nibbles (elements 0-15), then high nibbles (16-31).
inline __m256i Nibbles(const uint8_t* qs) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
  return _mm256_and_si256(t, _mm256_set1_epi8(0x0F));
}

template <>
struct Format<WType::kQ4_0> {
  static constexpr int kBlockBytes = 18;
  static inline __m256i Codes(const uint8_t* p) {  // q = nibble - 8
    return _mm256_add_epi8(Nibbles(p + 2), _mm256_set1_epi8(120));
  }
};

template <>
struct Format<WType::kQ5_0> {
  static constexpr int kBlockBytes = 22;
  static inline __m256i Codes(const uint8_t* p) {  // q = (nibble | fifth bit << 4) - 16
    const __mmask32 h = static_cast<__mmask32>(Load32(p + 2));
    const __m256i lo4 = _mm256_add_epi8(Nibbles(p + 6), _mm256_set1_epi8(112));
    return _mm256_mask_add_epi8(lo4, h, lo4, _mm256_set1_epi8(0x10));
  }
};

// Unpacks rows [r, r + nr) x blocks [b0, b0 + kb) into the panel, four rows at a time: a
// 4 x 8 dword transpose turns four rows of codes into the 16-byte slices of eight zmm.
template <WType T>
void PackPanel(const GemmArgs& a, int64_t r, int nr, int64_t b0, int kb, Panel* panel) {
  using F = Format<T>;
  for (int g = 0; g < kPanelRows; g += 4) {
    const uint8_t* rows[4];
    for (int i = 0; i < 4; ++i) {
      rows[i] = g + i < nr ? a.w + (r + g + i) * a.w_stride + b0 * F::kBlockBytes : nullptr;
    }
    for (int b = 0; b < kb; ++b) {
      __m256i c[4];
      for (int i = 0; i < 4; ++i) {
        if (rows[i] != nullptr) {
          const uint8_t* p = rows[i] + b * F::kBlockBytes;
          c[i] = F::Codes(p);
          panel->scale[b][g + i] = _cvtsh_ss(Load16(p));
        } else {
          c[i] = _mm256_setzero_si256();
          panel->scale[b][g + i] = 0.0f;
        }
      }
      const __m256i t0 = _mm256_unpacklo_epi32(c[0], c[1]), t1 = _mm256_unpackhi_epi32(c[0], c[1]);
      const __m256i t2 = _mm256_unpacklo_epi32(c[2], c[3]), t3 = _mm256_unpackhi_epi32(c[2], c[3]);
      // u[k]: low lane = dword k of the four rows, high lane = dword k + 4.
      const __m256i u[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2),
                            _mm256_unpacklo_epi64(t1, t3), _mm256_unpackhi_epi64(t1, t3)};
      for (int k = 0; k < 4; ++k) {
        _mm_store_si128(reinterpret_cast<__m128i*>(panel->codes[b][k] + 4 * g),
                        _mm256_castsi256_si128(u[k]));
        _mm_store_si128(reinterpret_cast<__m128i*>(panel->codes[b][k + 4] + 4 * g),
                        _mm256_extracti128_si256(u[k], 1));
      }
    }
  }
}

// Weights come from DRAM once per call: fetch the next chunk of this call into L2 while the
// current one is multiplied with every token, so that unpacking it does not wait on memory.
template <WType T>
void PrefetchChunk(const GemmArgs& a, int64_t r, int64_t r1, int64_t b0, int64_t nb) {
  using F = Format<T>;
  const int64_t nr = Min64(kPanelRows, r1 - r);
  const int64_t bytes = Min64(kKBlocks, nb - b0) * F::kBlockBytes;
  for (int64_t i = 0; i < nr; ++i) {
    const uint8_t* p = a.w + (r + i) * a.w_stride + b0 * F::kBlockBytes;
    for (int64_t off = 0; off < bytes + 63; off += 64)
      _mm_prefetch(reinterpret_cast<const char*>(p + Min64(off, bytes - 1)), _MM_HINT_T1);
  }
}

// The same panel chunk from Q4_0 stored in 16-row panels (panels16.h): no transpose, only
// the nibbles split and offset to q + 128, and the 16 scales converted at once. The panel
// holds exactly what PackPanel makes from the row-major rows, so results are the same.
void PackPanelFromPanels16(const GemmArgs& a, int64_t r, int64_t b0, int kb, Panel* panel) {
  const uint8_t* base = a.w + r * a.w_stride + (b0 / 2) * kPanel16PairBytes;
  const __m512i m4 = _mm512_set1_epi8(0x0F), off = _mm512_set1_epi8(120);
  for (int b = 0; b < kb; ++b) {
    const uint8_t* pair = base + (b / 2) * kPanel16PairBytes;
    const int h = b % 2;
    _mm512_store_ps(
        panel->scale[b],
        _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pair + 32 * h))));
    for (int c = 0; c < 4; ++c) {
      const __m512i z = _mm512_loadu_si512(pair + 64 + 256 * h + 64 * c);
      _mm512_store_si512(panel->codes[b][c], _mm512_add_epi8(_mm512_and_si512(z, m4), off));
      _mm512_store_si512(panel->codes[b][c + 4],
                         _mm512_add_epi8(_mm512_and_si512(_mm512_srli_epi16(z, 4), m4), off));
    }
  }
}

void PrefetchChunkPanels16(const GemmArgs& a, int64_t r, int64_t b0, int64_t nb) {
  const uint8_t* p = a.w + r * a.w_stride + (b0 / 2) * kPanel16PairBytes;
  const int64_t bytes = Min64(kKBlocks, nb - b0) / 2 * kPanel16PairBytes;
  for (int64_t off = 0; off < bytes; off += 64)
    _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T1);
}

// Activations of one token tile for one panel chunk.
struct TokenTile {
  // Activation rows (ActQ8 layout). The codes of block b0 + b start at qs_off + 32 b, its
  // scale at d_off + 4 b: offsets shared by all rows, so the kernel needs one register per
  // row (general registers run short with a separate scale pointer per token).
  const uint8_t* row[kTokenTile];
  int64_t qs_off, d_off;
  alignas(64) int32_t bias[kTokenTile][kKBlocks];  // -128 * (sum of the block's codes)
};

// y[t][0..16) (+)= the panel chunk times token t, for NT tokens; `mask` selects the rows
// that exist. Lane r of every accumulator is row r, so results are stored, not reduced.
template <int NT>
void PanelKernel(const Panel& p, int kb, const TokenTile& tt, float* y, int64_t y_stride,
                 __mmask16 mask, bool first) {
  __m512 acc[NT];
  const uint8_t* row[NT];
#pragma GCC unroll 16
  for (int t = 0; t < NT; ++t) {
    acc[t] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, y + t * y_stride);
    row[t] = tt.row[t];
  }
  for (int b = 0; b < kb; ++b) {
    __m512i w[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) w[j] = _mm512_load_si512(p.codes[b][j]);
    const __m512 dw = _mm512_load_ps(p.scale[b]);
#pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) {
      const uint8_t* q = row[t] + tt.qs_off + b * kQK;
      float dx;
      std::memcpy(&dx, row[t] + tt.d_off + 4 * b, 4);
      // Starting from -128 * sum(x) cancels the code offset exactly, lane by lane.
      __m512i s = _mm512_set1_epi32(tt.bias[t][b]);
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j)
        s = _mm512_dpbusd_epi32(s, w[j], _mm512_set1_epi32(static_cast<int>(Load32(q + 4 * j))));
      acc[t] =
          _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(dx)), acc[t]);
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + t * y_stride, mask, acc[t]);
}

template <int N = 1>
inline void RunPanelKernel(int nt, const Panel& p, int kb, const TokenTile& tt, float* y,
                           int64_t y_stride, __mmask16 mask, bool first) {
  if (nt == N) {
    PanelKernel<N>(p, kb, tt, y, y_stride, mask, first);
  } else if constexpr (N < kTokenTile) {
    RunPanelKernel<N + 1>(nt, p, kb, tt, y, y_stride, mask, first);
  }
}

// kStored: the weights are Q4_0 stored in 16-row panels (r0 is then a panel boundary).
template <WType T, bool kStored = false>
void GemmPacked(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  const int64_t nb = a.cols / kQK;
  Panel panel;
  TokenTile tt;
  auto prefetch = [&](int64_t r, int64_t b0) {
    if constexpr (kStored) {
      PrefetchChunkPanels16(a, r, b0, nb);
    } else {
      PrefetchChunk<T>(a, r, r1, b0, nb);
    }
  };
  prefetch(r0, 0);
  for (int64_t r = r0; r < r1; r += kPanelRows) {
    const int nr = static_cast<int>(Min64(kPanelRows, r1 - r));
    const __mmask16 mask = static_cast<__mmask16>((1u << nr) - 1);
    for (int64_t b0 = 0; b0 < nb; b0 += kKBlocks) {
      const int kb = static_cast<int>(Min64(kKBlocks, nb - b0));
      if constexpr (kStored) {
        PackPanelFromPanels16(a, r, b0, kb, &panel);
      } else {
        PackPanel<T>(a, r, nr, b0, kb, &panel);
      }
      if (b0 + kKBlocks < nb) {
        prefetch(r, b0 + kKBlocks);
      } else if (r + kPanelRows < r1) {
        prefetch(r + kPanelRows, 0);
      }
      for (int64_t t = t0; t < t1; t += kTokenTile) {
        const int nt = static_cast<int>(Min64(kTokenTile, t1 - t));
        tt.qs_off = b0 * kQK;
        tt.d_off = a.cols + b0 * 4;
        for (int i = 0; i < nt; ++i) {
          tt.row[i] = a.act + (t + i) * a.act_stride;
          const int32_t* sum = ViewActQ8(tt.row[i], a.cols).sum + b0;
          int b = 0;
          for (; b + 16 <= kb; b += 16) {
            const __m512i s = _mm512_loadu_si512(sum + b);
            _mm512_store_si512(tt.bias[i] + b, _mm512_sub_epi32(_mm512_setzero_si512(),
                                                                _mm512_slli_epi32(s, kBiasShift)));
          }
          for (; b < kb; ++b) tt.bias[i][b] = -(sum[b] * (1 << kBiasShift));
        }
        RunPanelKernel(nt, panel, kb, tt, a.y + t * a.y_stride + r, a.y_stride, mask, b0 == 0);
      }
    }
  }
}

// Single-token rows (decode) on Q4_0 stored in 16-row panels: NT tokens x 16 rows, one zmm
// lane per row. Per block: 4 code loads split into 8 nibble vectors, one scale conversion
// for the 16 rows, 8 vpdpbusd per token with broadcast activation dwords. Each lane's
// arithmetic is PanelKernel's (exact integer block sum from the -bias start, then
// fma(sum, d_w * d_x, acc) in block order), so decode and prefill rows of a panel matrix
// agree bit for bit, whatever NT.
template <int NT>
void Panels16SingleTile(const GemmArgs& a, int64_t r, int nr, int64_t t0) {
  const int64_t n_pairs = a.cols / (2 * kQK);
  const uint8_t* pair = a.w + r * a.w_stride;
  ActQ8 act[NT];
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) {
    act[t] = ViewActQ8(a.act + (t0 + t) * a.act_stride, a.cols);
    acc[t] = _mm512_setzero_ps();
  }
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  for (int64_t k = 0; k < n_pairs; ++k, pair += kPanel16PairBytes) {
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const int64_t b = 2 * k + h;
      const __m512 dw =
          _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pair + 32 * h)));
      __m512i lo[4], hi[4];
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        const __m512i z = _mm512_loadu_si512(pair + 64 + 256 * h + 64 * c);
        lo[c] = _mm512_and_si512(z, m4);
        hi[c] = _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
      }
#pragma GCC unroll 4
      for (int t = 0; t < NT; ++t) {
        const int8_t* q = act[t].qs + b * kQK;
        __m512i s = _mm512_set1_epi32(-(act[t].sum[b] * 8));  // codes are q + 8
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c)
          s = _mm512_dpbusd_epi32(s, lo[c], _mm512_set1_epi32(static_cast<int>(Load32(q + 4 * c))));
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
          s = _mm512_dpbusd_epi32(s, hi[c],
                                  _mm512_set1_epi32(static_cast<int>(Load32(q + 16 + 4 * c))));
        }
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s),
                                 _mm512_mul_ps(dw, _mm512_set1_ps(act[t].d[b])), acc[t]);
      }
    }
  }
  const __mmask16 mask = static_cast<__mmask16>((1u << nr) - 1);
  for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(a.y + (t0 + t) * a.y_stride + r, mask, acc[t]);
}

constexpr int kSingleTokenTile = 4;

template <int N = 1>
inline void RunPanels16SingleTile(int nt, const GemmArgs& a, int64_t r, int nr, int64_t t) {
  if (nt == N) {
    Panels16SingleTile<N>(a, r, nr, t);
  } else if constexpr (N < kSingleTokenTile) {
    RunPanels16SingleTile<N + 1>(nt, a, r, nr, t);
  }
}

// Q4_0 stored in 16-row panels: batches through the prefill panels, single tokens through
// Panels16SingleTile, a panel at a time with every token of the call streamed past it.
void GemmPanels16(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  if (a.batch) return GemmPacked<WType::kQ4_0, true>(a, r0, r1, t0, t1);
  for (int64_t r = r0; r < r1; r += kPanelRows) {
    const int nr = static_cast<int>(Min64(kPanelRows, r1 - r));
    for (int64_t t = t0; t < t1; t += kSingleTokenTile) {
      RunPanels16SingleTile(static_cast<int>(Min64(kSingleTokenTile, t1 - t)), a, r, nr, t);
    }
  }
}

}  // namespace

GemmFn Panels16GemmAvx512() { return GemmPanels16; }

GemmFn PackedQ0GemmAvx512(WType t) {
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
