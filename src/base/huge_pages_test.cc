#include "base/huge_pages.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "tests/support/proc_smaps.h"

namespace llmux {
namespace {

// The VmFlags line of the mapping that holds p ("" if none).
std::string VmFlagsOf(const void* p) { return llmux::testing::SmapsLine(p, "VmFlags:"); }

TEST(HugePageBufferTest, StartsAtAHugePageZeroedAndAdvised) {
  HugePageBuffer buf(3 * 4096 + 5);
  ASSERT_NE(buf.data(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buf.data()) % (uintptr_t{2} << 20), 0u);
  EXPECT_EQ(buf.size(), 4u * 4096);
  const auto* bytes = static_cast<const uint8_t*>(buf.data());
  for (size_t i = 0; i < buf.size(); ++i) ASSERT_EQ(bytes[i], 0) << i;
  std::memset(buf.data(), 7, buf.size());  // writable to the last byte
  // MADV_HUGEPAGE shows as "hg" among the mapping's flags (whatever the kernel then backs it
  // with).
  EXPECT_NE(VmFlagsOf(buf.data()).find(" hg"), std::string::npos) << VmFlagsOf(buf.data());
}

TEST(HugePageBufferTest, MovesOwnershipAndUnmapsOnce) {
  HugePageBuffer a(1 << 20);
  void* p = a.data();
  ASSERT_NE(p, nullptr);
  HugePageBuffer b(std::move(a));
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(b.data(), p);
  HugePageBuffer c;
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_FALSE(VmFlagsOf(p).empty());
}

TEST(HugePageBufferTest, ZeroOrImpossibleSizesMapNothing) {
  EXPECT_EQ(HugePageBuffer(0).data(), nullptr);
  EXPECT_EQ(HugePageBuffer(SIZE_MAX - 4096).data(), nullptr);
  EXPECT_EQ(HugePageBuffer(SIZE_MAX).data(), nullptr);
}

}  // namespace
}  // namespace llmux
