// Block layouts (hand-built known-answer blocks) and quantize/dequantize round trips.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/backend/cpu/kernels/blocks.h"
#include "engine/backend/cpu/kernels/half.h"
#include "engine/backend/cpu/kernels/test_util.h"
#include "engine/backend/cpu/kernels/kernels.h"

namespace llmux::kernels {
namespace {

using testing::RandomNormal;

TEST(BlockLayoutTest, Q4_0KnownAnswer) {
  uint8_t blk[18];
  const uint16_t d = 0x3800;  // 0.5
  std::memcpy(blk, &d, 2);
  for (int j = 0; j < 16; ++j) blk[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float out[32];
  DequantizeRow(DType::kQ4_0, blk, out, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], (j - 8) * 0.5f) << j;
    EXPECT_EQ(out[16 + j], (15 - j - 8) * 0.5f) << j;
  }
}

TEST(BlockLayoutTest, Q8_0KnownAnswer) {
  uint8_t blk[34 * 2];
  const uint16_t d0 = 0x3400, d1 = 0xc000;  // 0.25, -2
  std::memcpy(blk, &d0, 2);
  std::memcpy(blk + 34, &d1, 2);
  for (int j = 0; j < 32; ++j) {
    blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j * 4 - 64));
    blk[36 + j] = static_cast<uint8_t>(static_cast<int8_t>(127 - j));
  }
  float out[64];
  DequantizeRow(DType::kQ8_0, blk, out, 64);
  for (int j = 0; j < 32; ++j) {
    EXPECT_EQ(out[j], (j * 4 - 64) * 0.25f);
    EXPECT_EQ(out[32 + j], (127 - j) * -2.0f);
  }
}

TEST(BlockLayoutTest, Q5_0KnownAnswer) {
  uint8_t blk[22];
  const uint16_t d = 0x3c00;  // 1.0
  std::memcpy(blk, &d, 2);
  const uint32_t qh = 0xA5C30F01u;  // little-endian bit j = fifth bit of element j
  blk[2] = 0x01;
  blk[3] = 0x0F;
  blk[4] = 0xC3;
  blk[5] = 0xA5;
  for (int j = 0; j < 16; ++j)
    blk[6 + j] = static_cast<uint8_t>((j * 7) % 16 | (((j * 3) % 16) << 4));
  float out[32];
  DequantizeRow(DType::kQ5_0, blk, out, 32);
  for (int j = 0; j < 16; ++j) {
    const int lo = (j * 7) % 16 | static_cast<int>(((qh >> j) & 1) << 4);
    const int hi = (j * 3) % 16 | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
    EXPECT_EQ(out[j], static_cast<float>(lo - 16)) << j;
    EXPECT_EQ(out[16 + j], static_cast<float>(hi - 16)) << j;
  }
}

TEST(BlockLayoutTest, Q4_KHandPackedScales) {
  // Scales/mins chosen to use all 6 bits, packed per the documented layout:
  // bytes 0-3: sc0..3 (low 6 bits) | high 2 bits of sc4..7; bytes 4-7: m0..3 | high bits of
  // m4..7; bytes 8-11: low nibble sc4..7, high nibble m4..7.
  const int sc[8] = {1, 63, 17, 32, 45, 60, 7, 50};
  const int mn[8] = {0, 5, 63, 33, 19, 48, 62, 1};
  uint8_t blk[144] = {};
  const uint16_t d = 0x3800, dmin = 0x3400;  // 0.5, 0.25
  std::memcpy(blk, &d, 2);
  std::memcpy(blk + 2, &dmin, 2);
  uint8_t* s = blk + 4;
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
  // Element i: 64-chunk c = i/64 uses bytes 32c..32c+31, low nibble for i%64 < 32.
  auto code = [](int i) { return (i * 5 + 3) % 16; };
  uint8_t* qs = blk + 16;
  for (int i = 0; i < 256; ++i) {
    const int c = i / 64, w = i % 64;
    qs[32 * c + w % 32] |= static_cast<uint8_t>(w < 32 ? code(i) : code(i) << 4);
  }
  float out[256];
  DequantizeRow(DType::kQ4_K, blk, out, 256);
  for (int i = 0; i < 256; ++i) {
    const int j = i / 32;
    EXPECT_FLOAT_EQ(out[i], 0.5f * sc[j] * code(i) - 0.25f * mn[j]) << i;
  }
}

TEST(BlockLayoutTest, Q6_KHandPacked) {
  uint8_t blk[210] = {};
  uint8_t* ql = blk;
  uint8_t* qh = blk + 128;
  int8_t* scales = reinterpret_cast<int8_t*>(blk + 192);
  const uint16_t d = 0x3800;  // 0.5
  std::memcpy(blk + 208, &d, 2);
  for (int j = 0; j < 16; ++j) scales[j] = static_cast<int8_t>(j * 17 - 128);
  auto code = [](int i) { return (i * 29 + 11) % 64; };  // 6-bit code, value = code - 32
  // Element i: half h = i/128, quadrant g = (i%128)/32, lane l = i%32. Low 4 bits in
  // ql[64h + l + 32(g&1)] (low nibble for g < 2), high 2 bits in qh[32h + l] at bit 2g.
  for (int i = 0; i < 256; ++i) {
    const int h = i / 128, g = (i % 128) / 32, l = i % 32;
    const int c = code(i);
    ql[64 * h + l + 32 * (g & 1)] |= static_cast<uint8_t>(g < 2 ? (c & 15) : (c & 15) << 4);
    qh[32 * h + l] |= static_cast<uint8_t>((c >> 4) << (2 * g));
  }
  float out[256];
  DequantizeRow(DType::kQ6_K, blk, out, 256);
  for (int i = 0; i < 256; ++i) {
    EXPECT_FLOAT_EQ(out[i], 0.5f * scales[i / 16] * (code(i) - 32)) << i;
  }
}

// Relative RMS error of quantize -> dequantize on Gaussian data, and the max error in
// units of the block's largest magnitude.
struct RoundTrip {
  double rel_rms;
  double max_rel_err;
};

RoundTrip MeasureRoundTrip(DType type, int64_t n, uint32_t seed) {
  const auto x = RandomNormal(n, seed);
  std::vector<uint8_t> q(*RowBytes(type, n));
  EXPECT_TRUE(QuantizeRow(type, x.data(), q.data(), n).ok());
  std::vector<float> y(static_cast<size_t>(n));
  DequantizeRow(type, q.data(), y.data(), n);
  const int64_t bs = Traits(type).block_size == 1 ? 32 : Traits(type).block_size;
  double se = 0, sx = 0, max_rel = 0;
  for (int64_t b = 0; b < n / bs; ++b) {
    double amax = 0;
    for (int64_t i = b * bs; i < (b + 1) * bs; ++i) amax = std::max(amax, std::fabs(double{x[i]}));
    for (int64_t i = b * bs; i < (b + 1) * bs; ++i) {
      const double e = double{y[i]} - double{x[i]};
      se += e * e;
      sx += double{x[i]} * x[i];
      max_rel = std::max(max_rel, std::fabs(e) / amax);
    }
  }
  return {std::sqrt(se / sx), max_rel};
}

TEST(RoundTripTest, ErrorBoundsPerType) {
  struct Case {
    DType type;
    double max_rel_rms;
    double max_rel_err;  // worst element error / block max magnitude
  };
  // Bounds from the formats' step sizes: Q8_0 step amax/127 (error <= step/2 plus the f16
  // rounding of d), Q4_0 step amax/8 (error <= one step where +8 clamps to +7), Q5_0 amax/16.
  const Case cases[] = {
      {DType::kF32, 0.0, 0.0},
      {DType::kF16, 5e-4, 1e-3},
      {DType::kBF16, 4e-3, 8e-3},
      {DType::kQ8_0, 0.01, 0.5 / 127 + 2e-3},
      {DType::kQ4_0, 0.13, 1.0 / 8 + 2e-3},
      {DType::kQ5_0, 0.065, 1.0 / 16 + 2e-3},
      {DType::kQ4_K, 0.11, 0.2},
      {DType::kQ6_K, 0.03, 0.06},
  };
  for (const Case& c : cases) {
    const RoundTrip r = MeasureRoundTrip(c.type, 256 * 64, 42);
    EXPECT_LE(r.rel_rms, c.max_rel_rms) << Traits(c.type).name;
    EXPECT_LE(r.max_rel_err, c.max_rel_err) << Traits(c.type).name;
  }
}

TEST(RoundTripTest, KQuantsBeatLegacyFormatsOfSameWidth) {
  // Q4_K's per-sub-block scales + mins must do at least as well as Q4_0 on Gaussian data,
  // and Q6_K must be far better than Q5_0: catches a quantizer that "works" but is weak.
  const double q4_0 = MeasureRoundTrip(DType::kQ4_0, 256 * 64, 5).rel_rms;
  const double q4_k = MeasureRoundTrip(DType::kQ4_K, 256 * 64, 5).rel_rms;
  const double q5_0 = MeasureRoundTrip(DType::kQ5_0, 256 * 64, 5).rel_rms;
  const double q6_k = MeasureRoundTrip(DType::kQ6_K, 256 * 64, 5).rel_rms;
  EXPECT_LT(q4_k, q4_0);
  EXPECT_LT(q6_k, 0.6 * q5_0);
}

TEST(RoundTripTest, ExactlyRepresentableValuesSurvive) {
  // Values on the Q8_0 grid of their block come back exactly.
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[i] = static_cast<float>((i * 37) % 255 - 127) * 0.125f;
  x[0] = 127 * 0.125f;
  x[32] = -127 * 0.125f;
  std::vector<uint8_t> q(68);
  ASSERT_TRUE(QuantizeRow(DType::kQ8_0, x.data(), q.data(), 64).ok());
  std::vector<float> y(64);
  DequantizeRow(DType::kQ8_0, q.data(), y.data(), 64);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(y[i], x[i]) << i;
}

TEST(RoundTripTest, ZerosAndTinyBlocks) {
  for (DType t : {DType::kQ8_0, DType::kQ4_0, DType::kQ5_0, DType::kQ4_K, DType::kQ6_K}) {
    std::vector<float> x(256, 0.0f);
    std::vector<uint8_t> q(*RowBytes(t, 256), 0xAB);
    ASSERT_TRUE(QuantizeRow(t, x.data(), q.data(), 256).ok());
    std::vector<float> y(256, 1.0f);
    DequantizeRow(t, q.data(), y.data(), 256);
    for (float v : y) ASSERT_EQ(v, 0.0f) << Traits(t).name;
  }
}

TEST(QuantizeRowTest, RejectsBadInput) {
  std::vector<float> x(64, 1.0f);
  std::vector<uint8_t> q(1024);
  EXPECT_EQ(QuantizeRow(DType::kQ8_0, x.data(), q.data(), 33).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(QuantizeRow(DType::kQ4_K, x.data(), q.data(), 64).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(QuantizeRow(DType::kQ4_1, x.data(), q.data(), 64).ok());
  EXPECT_TRUE(QuantizeRow(DType::kF16, x.data(), q.data(), 7).ok());
}

TEST(QuantizeRowTest, MatchesGgmlReferenceRounding) {
  // Q4_0: d = max / -8 where max is the signed value of largest magnitude, so that value
  // encodes as nibble 0; v*id + 8.5 truncated.
  std::vector<float> x(32, 0.0f);
  x[3] = -4.0f;    // max magnitude, negative -> d = 0.5
  x[4] = 4.0f;     // +8 steps -> 16.5 -> clamps to nibble 15
  x[5] = 0.25f;    // 0.5 step -> 9.0 -> nibble 9
  x[20] = -0.75f;  // -1.5 steps -> 7.0 -> nibble 7
  uint8_t q[18];
  ASSERT_TRUE(QuantizeRow(DType::kQ4_0, x.data(), q, 32).ok());
  uint16_t d;
  std::memcpy(&d, q, 2);
  EXPECT_EQ(d, 0x3800);
  EXPECT_EQ(q[2 + 3] & 0xF, 0);
  EXPECT_EQ(q[2 + 4] & 0xF, 15);
  EXPECT_EQ(q[2 + 5] & 0xF, 9);
  EXPECT_EQ(q[2 + 4] >> 4, 7);   // element 20 is the high nibble of byte 4
  EXPECT_EQ(q[2 + 0] & 0xF, 8);  // zero -> 8
}

}  // namespace
}  // namespace llmux::kernels
