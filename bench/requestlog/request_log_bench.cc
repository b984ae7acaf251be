// request_log_bench [records] [threads]: appends `records` request records from `threads`
// threads to a RequestLog on a fresh SQLite store and prints the time one Record() takes on
// the caller's thread (what a finished request pays) and the writer's rate (records/s stored).
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "services/requestlog/request_log.h"
#include "store/sqlite_store.h"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int records = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 8;
  char tmpl[] = "/tmp/llmux-reqlog-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  auto store = llmux::store::OpenSqliteStore(std::string(tmpl) + "/store.db");
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  llmux::requestlog::RequestLogOptions options;
  options.queue_capacity = static_cast<size_t>(records);  // measure the path, not drops
  double record_ns = 0;
  double write_s = 0;
  uint64_t written = 0;
  {
    llmux::requestlog::RequestLog log(**store, options);
    const auto start = Clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (int i = t; i < records; i += threads) {
          llmux::requestlog::RequestRecord r;
          r.protocol = "http";
          r.route = "POST /v1/chat/completions";
          r.principal = "key:7";
          r.key_id = 7;
          r.user_id = 3;
          r.model = "qwen3-0.6b";
          r.prompt_tokens = 128;
          r.completion_tokens = 128;
          r.ttft_ms = 40;
          r.latency_ms = 900 + i % 100;
          r.status = 200;
          r.client = "10.0.0.1";
          log.Record(std::move(r));
        }
      });
    }
    for (auto& w : workers) w.join();
    const auto queued = Clock::now();
    log.Flush();
    const auto flushed = Clock::now();
    record_ns =
        std::chrono::duration<double, std::nano>(queued - start).count() * threads / records;
    write_s = std::chrono::duration<double>(flushed - start).count();
    written = log.written();
    std::printf(
        "%d records from %d threads: Record() %.0f ns each on the caller's thread; "
        "%llu stored in %.2f s (%.0f records/s, batches of %zu); dropped %llu\n",
        records, threads, record_ns, static_cast<unsigned long long>(written), write_s,
        written / write_s, options.batch_size, static_cast<unsigned long long>(log.dropped()));
  }
  std::filesystem::remove_all(tmpl);
  return 0;
}
