#include "engine/backend/cpu/kernels/half.h"

#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <limits>
#include <random>

namespace llmux::kernels {
namespace {

// Hardware conversions as an independent oracle, used only when the CPU has F16C.
__attribute__((target("f16c"))) uint16_t HwF32ToF16(float f) { return _cvtss_sh(f, 0); }
__attribute__((target("f16c"))) float HwF16ToF32(uint16_t h) { return _cvtsh_ss(h); }
bool HaveF16C() { return __builtin_cpu_supports("f16c"); }

TEST(HalfTest, KnownF16Values) {
  EXPECT_EQ(F32ToF16(1.0f), 0x3c00);
  EXPECT_EQ(F32ToF16(-2.0f), 0xc000);
  EXPECT_EQ(F32ToF16(0.0f), 0x0000);
  EXPECT_EQ(F32ToF16(-0.0f), 0x8000);
  EXPECT_EQ(F32ToF16(65504.0f), 0x7bff);  // largest finite
  EXPECT_EQ(F32ToF16(65519.0f), 0x7bff);  // rounds down
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);  // halfway: ties to even = inf
  EXPECT_EQ(F32ToF16(1e10f), 0x7c00);
  EXPECT_EQ(F32ToF16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(F32ToF16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(F32ToF16(0x1p-14f), 0x0400);         // smallest normal
  EXPECT_EQ(F32ToF16(0x1p-24f), 0x0001);         // smallest subnormal
  EXPECT_EQ(F32ToF16(0x1p-25f), 0x0000);         // tie between 0 and 2^-24: even is 0
  EXPECT_EQ(F32ToF16(0x3p-26f), 0x0001);         // 0.75 ulp rounds up
  EXPECT_EQ(F32ToF16(0x3p-25f), 0x0002);         // 1.5 ulp: tie to even 2
  EXPECT_EQ(F32ToF16(1.0f + 0x1p-11f), 0x3c00);  // tie, even stays
  EXPECT_EQ(F32ToF16(1.0f + 0x3p-11f), 0x3c02);  // tie, odd rounds up
  EXPECT_EQ(F32ToF16(0.1f), 0x2e66);
  const uint16_t nan = F32ToF16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  EXPECT_EQ(F16ToF32(0x3c00), 1.0f);
  EXPECT_EQ(F16ToF32(0x0001), 0x1p-24f);
  EXPECT_EQ(F16ToF32(0x03ff), 0x3ffp-24f);
  EXPECT_EQ(F16ToF32(0x8000), -0.0f);
  EXPECT_TRUE(std::signbit(F16ToF32(0x8000)));
  EXPECT_EQ(F16ToF32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(F16ToF32(0x7e00)));
  EXPECT_TRUE(std::isnan(F16ToF32(0xfc01)));
}

TEST(HalfTest, EveryF16RoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = F16ToF32(static_cast<uint16_t>(h));
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0) {
      ASSERT_TRUE(std::isnan(f)) << h;
      const uint16_t back = F32ToF16(f);
      ASSERT_EQ(back & 0x7c00, 0x7c00);
      ASSERT_NE(back & 0x3ff, 0);
      continue;
    }
    ASSERT_EQ(F32ToF16(f), h) << h;
    if (HaveF16C()) {
      ASSERT_EQ(FloatBits(f), FloatBits(HwF16ToF32(static_cast<uint16_t>(h)))) << h;
    }
  }
}

TEST(HalfTest, F32ToF16MatchesHardwareOnRandomBits) {
  if (!HaveF16C()) GTEST_SKIP() << "no F16C";
  std::mt19937 rng(7);
  for (int i = 0; i < 2000000; ++i) {
    uint32_t bits = rng();
    // Bias toward the half range (exponents 100..150) where rounding matters.
    if (i & 1) bits = (bits & 0x807fffffu) | ((100u + rng() % 50u) << 23);
    const float f = BitsFloat(bits);
    if (std::isnan(f)) continue;
    ASSERT_EQ(F32ToF16(f), HwF32ToF16(f)) << std::hex << bits;
  }
}

TEST(HalfTest, BF16) {
  EXPECT_EQ(F32ToBF16(1.0f), 0x3f80);
  EXPECT_EQ(F32ToBF16(-2.0f), 0xc000);
  EXPECT_EQ(F32ToBF16(BitsFloat(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(F32ToBF16(BitsFloat(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(F32ToBF16(BitsFloat(0x3f808001u)), 0x3f81);
  EXPECT_EQ(F32ToBF16(BitsFloat(0x7f7fffffu)), 0x7f80);  // FLT_MAX rounds to inf
  EXPECT_EQ(F32ToBF16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(F32ToBF16(BitsFloat(0x00010000u)), 0x0001);  // subnormals kept
  EXPECT_EQ(F32ToBF16(BitsFloat(0x00018000u)), 0x0002);
  const uint16_t nan = F32ToBF16(BitsFloat(0x7f800001u));  // signalling NaN with low payload
  EXPECT_EQ(nan & 0x7f80, 0x7f80);
  EXPECT_NE(nan & 0x007f, 0);
  for (uint32_t b = 0; b < 65536; ++b) {
    const float f = BF16ToF32(static_cast<uint16_t>(b));
    ASSERT_EQ(FloatBits(f), b << 16);
    if (!std::isnan(f)) {
      ASSERT_EQ(F32ToBF16(f), b);
    }
  }
}

}  // namespace
}  // namespace llmux::kernels
