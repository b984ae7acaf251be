// Block layouts of the ggml quantization formats, byte for byte as GGUF files store them
// (little-endian, no padding). Half-precision fields are raw IEEE binary16 bits.
#pragma once

#include <cstdint>

namespace llmux::kernels {

constexpr int kQK = 32;    // elements per block of the *_0 formats
constexpr int kQKK = 256;  // elements per K-quant super-block

struct BlockQ8_0 {
  uint16_t d;  // scale; value = qs[i] * d
  int8_t qs[kQK];
};

struct BlockQ4_0 {
  uint16_t d;           // value = (nibble - 8) * d
  uint8_t qs[kQK / 2];  // byte j: low nibble = element j, high nibble = element j + 16
};

struct BlockQ5_0 {
  uint16_t d;           // value = (q - 16) * d with q = nibble | (fifth bit << 4)
  uint8_t qh[4];        // bit j (little-endian uint32) = fifth bit of element j
  uint8_t qs[kQK / 2];  // as Q4_0
};

// 8 sub-blocks of 32; sub-block j: value = d * sc_j * q - dmin * m_j, q a 4-bit nibble.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];    // 6-bit sc_j and m_j, packed (see UnpackQ4KScales)
  uint8_t qs[kQKK / 2];  // 32 bytes per 64 elements: low nibbles first 32, high nibbles next 32
};

// 16 sub-blocks of 16; value = d * scales[j] * (q - 32), q 6 bits (4 in ql, 2 in qh).
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];
  uint8_t qh[kQKK / 4];
  int8_t scales[kQKK / 16];
  uint16_t d;
};

// Activations for K-quant products: value = qs[i] * d.
struct BlockQ8_K {
  float d;
  int8_t qs[kQKK];
  int16_t bsums[kQKK / 16];  // sums of qs over groups of 16
};

static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K block.
inline void Q4KScaleMin(int j, const uint8_t* s, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

}  // namespace llmux::kernels
