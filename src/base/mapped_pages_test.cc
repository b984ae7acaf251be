#include "base/mapped_pages.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

namespace llmux {
namespace {

// An anonymous mapping shows which pages were released: they read back as zeros.
class ReleaseMappedPagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* p =
        mmap(nullptr, kPages * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    bytes_ = static_cast<uint8_t*>(p);
    std::memset(bytes_, 0xAB, kPages * page_);
  }
  void TearDown() override {
    if (bytes_ != nullptr) munmap(bytes_, kPages * page_);
  }
  bool PageKept(size_t i) const {
    return bytes_[i * page_] == 0xAB && bytes_[(i + 1) * page_ - 1] == 0xAB;
  }
  bool PageReleased(size_t i) const {
    return bytes_[i * page_] == 0 && bytes_[(i + 1) * page_ - 1] == 0;
  }

  static constexpr size_t kPages = 6;
  size_t page_ = 0;
  uint8_t* bytes_ = nullptr;
};

TEST_F(ReleaseMappedPagesTest, OnlyWholePagesInsideTheRangeAreReleased) {
  // From the middle of page 1 to the middle of page 4: pages 2 and 3 lie wholly inside.
  ReleaseMappedPages(bytes_, kPages * page_, bytes_ + page_ + page_ / 2, 3 * page_);
  EXPECT_TRUE(PageKept(0));
  EXPECT_TRUE(PageKept(1));
  EXPECT_TRUE(PageReleased(2));
  EXPECT_TRUE(PageReleased(3));
  EXPECT_TRUE(PageKept(4));
  EXPECT_TRUE(PageKept(5));
}

TEST_F(ReleaseMappedPagesTest, TheRangeIsClampedToTheMapping) {
  // The "mapping" is pages 1..3; the range covers all six pages and reaches past the end of
  // the address space.
  ReleaseMappedPages(bytes_ + page_, 3 * page_, bytes_, SIZE_MAX);
  EXPECT_TRUE(PageKept(0));
  EXPECT_TRUE(PageReleased(1));
  EXPECT_TRUE(PageReleased(3));
  EXPECT_TRUE(PageKept(4));
  EXPECT_TRUE(PageKept(5));
}

TEST_F(ReleaseMappedPagesTest, RangesOutsideOrSmallerThanAPageReleaseNothing) {
  ReleaseMappedPages(bytes_ + page_, page_, bytes_ + 3 * page_, page_);  // after the mapping
  ReleaseMappedPages(bytes_ + 3 * page_, page_, bytes_, page_);          // before it
  ReleaseMappedPages(bytes_, kPages * page_, bytes_ + 10, page_);        // no whole page
  ReleaseMappedPages(bytes_, kPages * page_, nullptr, page_);
  ReleaseMappedPages(nullptr, 0, bytes_, page_);
  for (size_t i = 0; i < kPages; ++i) EXPECT_TRUE(PageKept(i)) << "page " << i;
}

}  // namespace
}  // namespace llmux
