#include "engine/runtime/prefix_cache_journal.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace llmux {
namespace {

std::vector<uint64_t> Sorted(std::vector<uint64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(PrefixCacheJournalTest, NewReaderGetsTheFullSetThenChanges) {
  PrefixCacheJournal j(8, 42);
  const std::vector<BlockHashEvent> first = {{1, true}, {2, true}, {3, true}, {2, false}};
  j.Record(first);
  PrefixCacheUpdate u = j.Since(0, 0, 100);  // another epoch
  EXPECT_TRUE(u.full);
  EXPECT_EQ(u.epoch, 42u);
  EXPECT_EQ(u.seq, 4u);
  EXPECT_EQ(Sorted(u.added), (std::vector<uint64_t>{1, 3}));

  const std::vector<BlockHashEvent> more = {{4, true}, {1, false}};
  j.Record(more);
  PrefixCacheUpdate d = j.Since(42, u.seq, 100);
  EXPECT_FALSE(d.full);
  EXPECT_EQ(d.seq, 6u);
  EXPECT_EQ(d.added, (std::vector<uint64_t>{4}));
  EXPECT_EQ(d.evicted, (std::vector<uint64_t>{1}));

  PrefixCacheUpdate none = j.Since(42, d.seq, 100);
  EXPECT_FALSE(none.full);
  EXPECT_TRUE(none.added.empty());
  EXPECT_TRUE(none.evicted.empty());
}

TEST(PrefixCacheJournalTest, AReaderThatFellBehindGetsTheFullSet) {
  PrefixCacheJournal j(2, 7);
  const std::vector<BlockHashEvent> e = {{1, true}, {2, true}, {3, true}};
  j.Record(e);
  PrefixCacheUpdate u = j.Since(7, 0, 100);  // event 1 is gone from the journal
  EXPECT_TRUE(u.full);
  EXPECT_EQ(Sorted(u.added), (std::vector<uint64_t>{1, 2, 3}));
  PrefixCacheUpdate d = j.Since(7, 1, 100);  // events 2 and 3 are kept
  EXPECT_FALSE(d.full);
  EXPECT_EQ(d.added, (std::vector<uint64_t>{2, 3}));
  // A cursor from the future (a restarted engine with the same epoch cannot happen, but a
  // corrupt one can) gets the full set too.
  EXPECT_TRUE(j.Since(7, 99, 100).full);
}

TEST(PrefixCacheJournalTest, ResetSendsEveryoneTheNewSetAndSizesAreBounded) {
  PrefixCacheJournal j(8, 1);
  const std::vector<BlockHashEvent> e = {{1, true}};
  j.Record(e);
  const uint64_t cursor = j.Since(1, 0, 100).seq;
  j.Reset({5, 6, 7});
  PrefixCacheUpdate u = j.Since(1, cursor, 100);
  EXPECT_TRUE(u.full);
  EXPECT_EQ(Sorted(u.added), (std::vector<uint64_t>{5, 6, 7}));
  PrefixCacheUpdate cut = j.Since(1, cursor, 2);
  EXPECT_TRUE(cut.full);
  EXPECT_TRUE(cut.truncated);
  EXPECT_EQ(cut.added.size(), 2u);
  // More changes than max_hashes since the cursor: the (truncated) set rather than a partial delta.
  const std::vector<BlockHashEvent> many = {{8, true}, {9, true}, {10, true}};
  const uint64_t c2 = u.seq;
  j.Record(many);
  EXPECT_TRUE(j.Since(1, c2, 2).full);
  EXPECT_FALSE(j.Since(1, c2, 3).full);
}

}  // namespace
}  // namespace llmux
