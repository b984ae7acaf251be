// Prometheus metrics of the serving core, per model (names documented in docs/metrics.md).
// Thread-safe: the engine thread records, the /metrics handler serializes.
#pragma once

#include <memory>
#include <string>

#include "serving/metric_history.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace llmux::serving {

class ServingMetrics {
 public:
  ServingMetrics();
  ~ServingMetrics();

  // The engine's running set and queue after a step (Engine step observer). The gauges come
  // from the engine, not from counting starts and finishes here: a count drifts from the
  // engine's sets whenever a slot is freed and refilled within one step (a cancelled request is
  // reaped after the step that admitted its successor) or a sequence is preempted.
  void EngineLoad(const std::string& model, int running, int waiting);
  void FirstToken(const std::string& model, double seconds_since_arrival);
  void InterToken(const std::string& model, double seconds);
  // `started`: the engine admitted the request (its prompt tokens count as processed).
  void RequestFinished(const std::string& model, const std::string& finish_reason,
                       bool started, double seconds_since_arrival, int prompt_tokens,
                       int completion_tokens);

  // The KV cache after an engine step: blocks in use, cached for prefix reuse, and in all,
  // and what one token's K and V take over all layers.
  void KvCache(const std::string& model, int blocks_used, int blocks_cached, int blocks_total,
               int64_t block_bytes, int64_t bytes_per_token);
  void PrefixCacheHits(const std::string& model, int64_t tokens);
  void Preemptions(const std::string& model, int64_t count);

  // The Prometheus text exposition format (version 0.0.4). Also the process's memory at that
  // moment (/proc/self/statm): resident bytes, and of them those backed by files (the models'
  // mapped weights), so that a copy of a model released after a hot update shows.
  std::string Serialize() const;
  // The same events over time, for dashboards (GET /admin/v1/metrics/history).
  MetricHistory& history() { return history_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>* ttft_;
  prometheus::Family<prometheus::Histogram>* itl_;
  prometheus::Family<prometheus::Histogram>* e2e_;
  prometheus::Family<prometheus::Counter>* prompt_tokens_;
  prometheus::Family<prometheus::Counter>* generation_tokens_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Gauge>* running_;
  prometheus::Family<prometheus::Gauge>* waiting_;
  prometheus::Family<prometheus::Gauge>* kv_blocks_;
  prometheus::Family<prometheus::Gauge>* kv_usage_;
  prometheus::Family<prometheus::Gauge>* kv_bytes_;
  prometheus::Family<prometheus::Gauge>* kv_token_bytes_;
  prometheus::Family<prometheus::Counter>* prefix_hits_;
  prometheus::Family<prometheus::Counter>* preemptions_;
  prometheus::Family<prometheus::Gauge>* process_memory_;
  MetricHistory history_;
};

}  // namespace llmux::serving
