// RequestLog on real SQLite and PostgreSQL stores: what is written, filtered, paged, aggregated
// (percentiles checked against the inserted rows) and pruned; prompt text only when enabled;
// a full queue drops and counts; and the CSV of hostile values.
#include "services/requestlog/request_log.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <random>

#include "base/rfc3339.h"
#include "services/requestlog/request_csv.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "store/test_postgres_server.h"

namespace llmux::requestlog {
namespace {

namespace fs = std::filesystem;

enum class Backend { kSqlite, kPostgres };

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An hour's start, so that the hour groups are known in advance.
const int64_t kBase = (NowMillis() / 3'600'000 - 5) * 3'600'000;

// The nearest-rank percentile as its definition reads: the smallest value such that at least
// p% of the values are at or below it.
int64_t ExpectedPercentile(std::vector<int64_t> values, double p) {
  std::sort(values.begin(), values.end());
  for (int64_t v : values) {
    const auto at_or_below =
        std::count_if(values.begin(), values.end(), [&](int64_t x) { return x <= v; });
    if (static_cast<double>(at_or_below) * 100.0 >= p * static_cast<double>(values.size()))
      return v;
  }
  return 0;
}

// 60 records over three hours, three keys (and none), two users, three models, some errors.
std::vector<RequestRecord> Sample() {
  std::mt19937 rng(7);
  std::vector<RequestRecord> out;
  const char* models[] = {"qwen3", "llama", "deepseek"};
  for (int i = 0; i < 60; ++i) {
    RequestRecord r;
    r.time_ms = kBase + (i % 3) * 3'600'000 + i * 1000;
    r.protocol = i % 4 == 0 ? "grpc" : "http";
    r.route = i % 4 == 0 ? "/llmux.v1.Inference/Chat" : "POST /v1/chat/completions";
    r.key_id = i % 4;  // 0: not a key
    r.user_id = i % 2 == 0 ? 3 : 0;
    r.principal = r.key_id != 0 ? fmt::format("key:{}", r.key_id) : "user:3";
    r.model = models[i % 3];
    r.prompt_tokens = 10 + i;
    r.completion_tokens = i % 5 == 0 ? 0 : 20 + i;
    r.cached_tokens = i % 7;
    r.latency_ms = static_cast<int64_t>(rng() % 5000);
    r.ttft_ms = i % 5 == 0 ? -1 : r.latency_ms / 4;
    const bool error = i % 5 == 0;
    r.status = error ? (i % 10 == 0 ? 429 : 400) : 200;
    r.error_class = error ? (i % 10 == 0 ? "resource_exhausted" : "invalid_argument") : "";
    r.client = fmt::format("10.0.0.{}", i % 9);
    out.push_back(std::move(r));
  }
  return out;
}

class RequestLogTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      auto server = store::testing::TestPostgresServer::Get();
      ASSERT_TRUE(server.ok()) << server.status().ToString();
      auto conninfo = (*server)->CreateDatabase();
      ASSERT_TRUE(conninfo.ok()) << conninfo.status().ToString();
      auto s = store::OpenPostgresStore(*conninfo);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      store_ = std::move(s).value();
    } else {
      char tmpl[] = "/tmp/llmux-requestlog-XXXXXX";
      ASSERT_NE(mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
      auto s = store::OpenSqliteStore(dir_ + "/store.db");
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      store_ = std::move(s).value();
    }
  }
  void TearDown() override {
    log_.reset();
    store_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  RequestLog& Log(RequestLogOptions options = {}) {
    log_ = std::make_unique<RequestLog>(*store_, options);
    return *log_;
  }

  // Records every sample and waits until they are stored.
  std::vector<RequestRecord> WriteSample(RequestLog& log) {
    std::vector<RequestRecord> sample = Sample();
    for (const auto& r : sample) log.Record(r);
    log.Flush();
    EXPECT_EQ(log.written(), sample.size());
    return sample;
  }

  // Every matching record, through pages of `limit`, newest first.
  std::vector<RequestRecord> ListAll(RequestLog& log, const RequestFilter& filter, int limit) {
    std::vector<RequestRecord> all;
    RequestPage page{0, limit};
    for (int guard = 0; guard < 1000; ++guard) {
      auto got = log.List(filter, page);
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      if (!got.ok()) break;
      EXPECT_LE(got->items.size(), static_cast<size_t>(limit));
      all.insert(all.end(), got->items.begin(), got->items.end());
      if (!got->has_more) break;
      EXPECT_EQ(got->next_cursor, got->items.back().id);
      page.before_id = got->next_cursor;
    }
    return all;
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<RequestLog> log_;
};

TEST_P(RequestLogTest, FiltersAndPagesMatchWhatWasWritten) {
  RequestLog& log = Log();
  const std::vector<RequestRecord> sample = WriteSample(log);

  // Everything, newest (last written) first, each once, fields as written.
  std::vector<RequestRecord> all = ListAll(log, {}, 7);
  ASSERT_EQ(all.size(), sample.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const RequestRecord& want = sample[sample.size() - 1 - i];
    const RequestRecord& got = all[i];
    if (i > 0) {
      EXPECT_LT(got.id, all[i - 1].id);
    }
    EXPECT_EQ(got.time_ms, want.time_ms);
    EXPECT_EQ(got.protocol, want.protocol);
    EXPECT_EQ(got.route, want.route);
    EXPECT_EQ(got.principal, want.principal);
    EXPECT_EQ(got.key_id, want.key_id);
    EXPECT_EQ(got.user_id, want.user_id);
    EXPECT_EQ(got.model, want.model);
    EXPECT_EQ(got.prompt_tokens, want.prompt_tokens);
    EXPECT_EQ(got.completion_tokens, want.completion_tokens);
    EXPECT_EQ(got.cached_tokens, want.cached_tokens);
    EXPECT_EQ(got.ttft_ms, want.ttft_ms);
    EXPECT_EQ(got.latency_ms, want.latency_ms);
    EXPECT_EQ(got.status, want.status);
    EXPECT_EQ(got.error_class, want.error_class);
    EXPECT_EQ(got.client, want.client);
  }

  // Each filter against the same predicate over the sample.
  struct Case {
    const char* name;
    RequestFilter filter;
    std::function<bool(const RequestRecord&)> match;
  };
  RequestFilter by_key;
  by_key.key_id = 2;
  RequestFilter by_user_model;
  by_user_model.user_id = 3;
  by_user_model.model = "llama";
  RequestFilter by_time;
  by_time.from_ms = kBase + 3'600'000;
  by_time.to_ms = kBase + 2 * 3'600'000 + 30'000;
  RequestFilter errors;
  errors.status = StatusMatch::kError;
  RequestFilter ok;
  ok.status = StatusMatch::kOk;
  ok.model = "qwen3";
  RequestFilter code;
  code.status = StatusMatch::kCode;
  code.status_code = 429;
  const std::vector<Case> cases = {
      {"key", by_key, [](const RequestRecord& r) { return r.key_id == 2; }},
      {"user+model", by_user_model,
       [](const RequestRecord& r) { return r.user_id == 3 && r.model == "llama"; }},
      {"time", by_time,
       [&](const RequestRecord& r) {
         return r.time_ms >= by_time.from_ms && r.time_ms < by_time.to_ms;
       }},
      {"errors", errors, [](const RequestRecord& r) { return !r.error_class.empty(); }},
      {"ok+model", ok,
       [](const RequestRecord& r) { return r.error_class.empty() && r.model == "qwen3"; }},
      {"429", code, [](const RequestRecord& r) { return r.status == 429; }},
  };
  for (const Case& c : cases) {
    std::vector<int64_t> want;
    for (const auto& r : sample) {
      if (c.match(r)) want.push_back(r.time_ms);
    }
    std::reverse(want.begin(), want.end());
    std::vector<int64_t> got;
    for (const auto& r : ListAll(log, c.filter, 4)) got.push_back(r.time_ms);
    EXPECT_FALSE(want.empty()) << c.name;
    EXPECT_EQ(got, want) << c.name;
  }

  EXPECT_FALSE(log.List({}, RequestPage{0, 0}).ok());
  EXPECT_FALSE(log.List({}, RequestPage{0, 1001}).ok());
}

TEST_P(RequestLogTest, AggregatesMatchTheRows) {
  RequestLog& log = Log();
  const std::vector<RequestRecord> sample = WriteSample(log);
  for (StatsGroup group : {StatsGroup::kModel, StatsGroup::kKey, StatsGroup::kHour}) {
    std::map<std::string, std::vector<const RequestRecord*>> want;
    for (const auto& r : sample) {
      std::string name = group == StatsGroup::kModel ? r.model
                         : group == StatsGroup::kKey
                             ? (r.key_id ? fmt::format("key:{}", r.key_id) : "none")
                             : FormatRfc3339Millis(r.time_ms / 3'600'000 * 3'600'000);
      want[name].push_back(&r);
    }
    auto stats = log.Stats({}, group);
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->rows_scanned, 60);
    EXPECT_FALSE(stats->truncated);
    ASSERT_EQ(stats->rows.size(), want.size());
    for (const StatsRow& row : stats->rows) {
      ASSERT_TRUE(want.count(row.group)) << row.group;
      const auto& rows = want[row.group];
      std::vector<int64_t> latencies, ttfts;
      int64_t errors = 0, prompt = 0, completion = 0;
      for (const RequestRecord* r : rows) {
        latencies.push_back(r->latency_ms);
        if (r->ttft_ms >= 0) ttfts.push_back(r->ttft_ms);
        errors += r->error_class.empty() ? 0 : 1;
        prompt += r->prompt_tokens;
        completion += r->completion_tokens;
      }
      EXPECT_EQ(row.requests, static_cast<int64_t>(rows.size())) << row.group;
      EXPECT_EQ(row.errors, errors) << row.group;
      EXPECT_EQ(row.prompt_tokens, prompt) << row.group;
      EXPECT_EQ(row.completion_tokens, completion) << row.group;
      EXPECT_EQ(row.p50_latency_ms, ExpectedPercentile(latencies, 50)) << row.group;
      EXPECT_EQ(row.p99_latency_ms, ExpectedPercentile(latencies, 99)) << row.group;
      EXPECT_EQ(row.p50_ttft_ms, ExpectedPercentile(ttfts, 50)) << row.group;
      EXPECT_EQ(row.p99_ttft_ms, ExpectedPercentile(ttfts, 99)) << row.group;
    }
  }

  // Filtered, and bounded to the newest rows.
  RequestFilter llama;
  llama.model = "llama";
  auto filtered = log.Stats(llama, StatsGroup::kModel);
  ASSERT_TRUE(filtered.ok());
  ASSERT_EQ(filtered->rows.size(), 1u);
  EXPECT_EQ(filtered->rows[0].requests, 20);
  log_.reset();
  RequestLogOptions bounded;
  bounded.max_scan_rows = 10;
  auto truncated = Log(bounded).Stats({}, StatsGroup::kModel);
  ASSERT_TRUE(truncated.ok());
  EXPECT_TRUE(truncated->truncated);
  EXPECT_EQ(truncated->rows_scanned, 10);
  int64_t counted = 0;
  for (const auto& row : truncated->rows) counted += row.requests;
  EXPECT_EQ(counted, 10);
}

TEST_P(RequestLogTest, PruneDropsOldRowsThenTheOldestBeyondMaxRows) {
  RequestLogOptions options;
  options.retention_days = 1;
  options.max_rows = 5;
  options.prune_interval = std::chrono::hours(1);  // only the Prune() below
  RequestLog& log = Log(options);
  const int64_t now = NowMillis();
  for (int i = 0; i < 10; ++i) {
    RequestRecord r;
    r.model = fmt::format("m{}", i);
    r.time_ms = i < 3 ? now - 3 * 86'400'000LL : now - 1000 + i;  // three are past the retention
    log.Record(r);
  }
  log.Flush();
  auto pruned = log.Prune();
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 5);
  std::vector<std::string> left;
  for (const auto& r : ListAll(log, {}, 100)) left.push_back(r.model);
  EXPECT_EQ(left, (std::vector<std::string>{"m9", "m8", "m7", "m6", "m5"}));
}

TEST_P(RequestLogTest, PromptTextIsStoredOnlyWhenEnabled) {
  RequestRecord r;
  r.model = "qwen3";
  r.prompt = "my secret question";
  {
    RequestLog& log = Log();
    log.Record(r);
    log.Flush();
    auto got = log.List({}, RequestPage{0, 10});
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->items.size(), 1u);
    EXPECT_EQ(got->items[0].prompt, "");
  }
  RequestLogOptions keep;
  keep.store_prompts = true;
  RequestLog& log = Log(keep);
  log.Record(r);
  log.Flush();
  auto got = log.List({}, RequestPage{0, 10});
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->items.size(), 2u);
  EXPECT_EQ(got->items[0].prompt, "my secret question");
  EXPECT_EQ(got->items[1].prompt, "");
}

INSTANTIATE_TEST_SUITE_P(Backends, RequestLogTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

// A store whose writes wait until released: the writer holds one batch while the queue fills.
class BlockedStore : public RequestLogStore {
 public:
  Status AppendRequests(std::span<const RequestRecord> records) override {
    if (!entered_once_.exchange(true)) entered_.set_value();
    released_.wait();
    appended_ += static_cast<int64_t>(records.size());
    return Status::Ok();
  }
  Result<RequestList> ListRequests(const RequestFilter&, RequestPage) override {
    return RequestList{};
  }
  Result<std::vector<RequestRecord>> ScanRequests(const RequestFilter&, int64_t) override {
    return std::vector<RequestRecord>{};
  }
  Result<int64_t> PruneRequests(int64_t, int64_t) override { return int64_t{0}; }

  std::promise<void> entered_;
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  std::atomic<bool> entered_once_{false};
  std::atomic<int64_t> appended_{0};
};

TEST(RequestLogQueue, AFullQueueDropsAndCountsWithoutWaiting) {
  BlockedStore store;
  RequestLogOptions options;
  options.queue_capacity = 4;
  options.per_caller_queue = 4;  // one caller may take it all
  options.batch_size = 1;
  options.max_rows = 0;
  options.retention_days = 0;
  RequestLog log(store, options);
  log.Record(RequestRecord{});  // the writer takes it and blocks in the store
  store.entered_.get_future().wait();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) log.Record(RequestRecord{});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(log.queued(), 4u);
  EXPECT_EQ(log.dropped(), 6u);
  store.release_.set_value();
  log.Flush();
  EXPECT_EQ(store.appended_.load(), 5);
  EXPECT_EQ(log.written(), 5u);
  EXPECT_EQ(log.dropped(), 6u);
}

TEST(RequestLogQueue, OnePrincipalCannotFillTheQueue) {
  BlockedStore store;
  RequestLogOptions options;
  options.queue_capacity = 8;  // a share of 2 each
  options.batch_size = 1;
  options.max_rows = 0;
  options.retention_days = 0;
  RequestLog log(store, options);
  RequestRecord flood;
  flood.principal = "key:1";
  log.Record(flood);  // the writer takes it (its share is back) and blocks in the store
  store.entered_.get_future().wait();
  for (int i = 0; i < 10; ++i) log.Record(flood);
  EXPECT_EQ(log.queued(), 2u);
  EXPECT_EQ(log.dropped(), 8u);
  RequestRecord other;
  other.principal = "user:2";
  log.Record(other);
  log.Record(other);
  EXPECT_EQ(log.queued(), 4u);
  EXPECT_EQ(log.dropped(), 8u);
  store.release_.set_value();
  log.Flush();
  EXPECT_EQ(log.written(), 5u);
  // Written records give their share back.
  log.Record(flood);
  log.Flush();
  EXPECT_EQ(log.written(), 6u);
  EXPECT_EQ(log.dropped(), 8u);
}

// Splits RFC 4180 text into records of fields (a reference reader, for the round trip).
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> records(1, std::vector<std::string>(1));
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    std::string& field = records.back().back();
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      records.back().emplace_back();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;
      if (i + 1 < text.size()) records.emplace_back(1);
    } else {
      field += c;
    }
  }
  return records;
}

TEST(RequestLogCsv, HostileValuesSurviveTheRoundTrip) {
  RequestRecord r;
  r.id = 9;
  r.time_ms = 951'782'400'123;
  r.protocol = "http";
  r.route = "POST /v1/chat/completions";
  r.principal = "key:1";
  r.model = "evil,\"model\"\nname\r\n";
  r.client = "=HYPERLINK(\"x\")";
  r.error_class = "a\"b";
  r.ttft_ms = -1;
  r.prompt = "line one\nline \"two\", end";
  const std::string text = CsvHeader(true) + CsvLine(r, true) + CsvLine(RequestRecord{}, true);
  auto records = ParseCsv(text);
  ASSERT_EQ(records.size(), 3u);
  ASSERT_EQ(records[0].size(), 18u);
  ASSERT_EQ(records[1].size(), 18u);
  ASSERT_EQ(records[2].size(), 18u);
  EXPECT_EQ(records[0][7], "model");
  EXPECT_EQ(records[1][0], "9");
  EXPECT_EQ(records[1][1], "2000-02-29T00:00:00.123Z");
  EXPECT_EQ(records[1][7], "evil,\"model\"\nname\r\n");
  EXPECT_EQ(records[1][12], "-1");  // numbers are not formula-escaped
  EXPECT_EQ(records[1][15], "a\"b");
  EXPECT_EQ(records[1][16], "'=HYPERLINK(\"x\")");  // a formula is kept as text
  EXPECT_EQ(records[1][17], "line one\nline \"two\", end");
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  // Without prompts the column is absent.
  EXPECT_EQ(ParseCsv(CsvHeader(false) + CsvLine(r, false))[1].size(), 17u);
}

}  // namespace
}  // namespace llmux::requestlog
