#include "discovery/worker_record.h"

#include <gtest/gtest.h>

#include "discovery/discovery_test_util.h"
#include "discovery/worker_watcher.h"

namespace llmux::discovery {
namespace {

WorkerRecord Sample() {
  return {.id = "w1",
          .address = "10.0.0.7:50051",
          .models = {"qwen3-0.6b", "llama-3.2-1b"},
          .capacity = 8,
          .version = "0.1.0",
          .standby = true};
}

TEST(WorkerRecordTest, RoundTrips) {
  auto decoded = DecodeWorkerRecord(EncodeWorkerRecord(Sample()));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, Sample());
}

TEST(WorkerRecordTest, OptionalFieldsDefaultAndUnknownFieldsAreIgnored) {
  auto decoded = DecodeWorkerRecord(R"({"id":"a","address":"[::1]:9000","extra":{"x":1}})");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->address, "[::1]:9000");
  EXPECT_TRUE(decoded->models.empty());
  EXPECT_EQ(decoded->capacity, 0);
  EXPECT_FALSE(decoded->standby);
}

TEST(WorkerRecordTest, RefusesGarbage) {
  for (const char* text : {"",
                           "not json",
                           "[]",
                           "null",
                           "{",
                           R"({"address":"h:1"})",
                           R"({"id":"a"})",
                           R"({"id":"a/b","address":"h:1"})",
                           R"({"id":"","address":"h:1"})",
                           R"({"id":"a b","address":"h:1"})",
                           R"({"id":"a","address":"h"})",
                           R"({"id":"a","address":"h:0"})",
                           R"({"id":"a","address":"h:65536"})",
                           R"({"id":"a","address":"h:1x"})",
                           R"({"id":7,"address":"h:1"})",
                           R"({"id":"a","address":"h:1","models":"m"})",
                           R"({"id":"a","address":"h:1","models":[1]})",
                           R"({"id":"a","address":"h:1","models":[""]})",
                           R"({"id":"a","address":"h:1","capacity":-1})",
                           R"({"id":"a","address":"h:1","capacity":1.5})",
                           R"({"id":"a","address":"h:1","capacity":18446744073709551615})",
                           R"({"id":"a","address":"h:1","standby":"yes"})"}) {
    auto decoded = DecodeWorkerRecord(text);
    EXPECT_FALSE(decoded.ok()) << text;
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << text;
    }
  }
}

TEST(WorkerRecordTest, RefusesRecordsOver64KiB) {
  WorkerRecord big = Sample();
  big.version = std::string(kMaxWorkerRecordBytes, 'v');
  std::string encoded = EncodeWorkerRecord(big);
  ASSERT_GT(encoded.size(), kMaxWorkerRecordBytes);
  auto decoded = DecodeWorkerRecord(encoded);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("over the limit"), std::string::npos);
  // Whitespace counts too: the limit is on bytes read, before parsing.
  std::string padded = EncodeWorkerRecord(Sample()) + std::string(kMaxWorkerRecordBytes, ' ');
  EXPECT_FALSE(DecodeWorkerRecord(padded).ok());
}

TEST(WorkerRecordTest, InvalidUtf8IsEncodedWithoutThrowing) {
  WorkerRecord record = Sample();
  record.version = "\xff\xfe";
  auto decoded = DecodeWorkerRecord(EncodeWorkerRecord(record));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_NE(decoded->version, record.version);  // replaced by U+FFFD
}

TEST(WorkerViewDiffTest, AddedRemovedAndChangedById) {
  WorkerRecord moved = TestWorker("b", 7000);
  auto diff = DiffWorkerViews({TestWorker("a"), TestWorker("b"), TestWorker("c")},
                              {moved, TestWorker("c"), TestWorker("d")});
  EXPECT_EQ(Ids(diff.added), "d");
  EXPECT_EQ(Ids(diff.removed), "a");
  ASSERT_EQ(Ids(diff.changed), "b");
  EXPECT_EQ(diff.changed[0].address, "127.0.0.1:7000");
  auto none = DiffWorkerViews({TestWorker("a")}, {TestWorker("a")});
  EXPECT_TRUE(none.added.empty() && none.removed.empty() && none.changed.empty());
}

}  // namespace
}  // namespace llmux::discovery
