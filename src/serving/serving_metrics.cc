#include "serving/serving_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <fstream>

namespace llmux::serving {

namespace {

const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
    0.75,  1.0,    2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0};
const prometheus::Histogram::BucketBoundaries kTokenLatencyBuckets = {
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05,
    0.075, 0.1,    0.15,  0.2,    0.3,  0.4,   0.5,  0.75,  1.0,  2.5};

// Resident and file-backed resident bytes of this process (Linux /proc/self/statm); zero
// where it cannot be read.
struct ProcessMemory {
  double resident = 0;
  double file = 0;
};
ProcessMemory ReadProcessMemory() {
  std::ifstream statm("/proc/self/statm");
  long long size = 0, resident = 0, shared = 0;
  ProcessMemory m;
  if (!(statm >> size >> resident >> shared)) return m;
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  m.resident = static_cast<double>(resident) * page;
  m.file = static_cast<double>(shared) * page;
  return m;
}

}  // namespace

ServingMetrics::ServingMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  ttft_ = &prometheus::BuildHistogram()
               .Name("llmux_time_to_first_token_seconds")
               .Help("Time from request arrival to its first generated token")
               .Register(*registry_);
  itl_ = &prometheus::BuildHistogram()
              .Name("llmux_inter_token_latency_seconds")
              .Help("Time between consecutive generated tokens of one request")
              .Register(*registry_);
  e2e_ = &prometheus::BuildHistogram()
              .Name("llmux_request_duration_seconds")
              .Help("End-to-end request latency, arrival to last token")
              .Register(*registry_);
  prompt_tokens_ = &prometheus::BuildCounter()
                        .Name("llmux_prompt_tokens_total")
                        .Help("Prompt tokens processed")
                        .Register(*registry_);
  generation_tokens_ = &prometheus::BuildCounter()
                            .Name("llmux_generation_tokens_total")
                            .Help("Tokens generated")
                            .Register(*registry_);
  requests_ = &prometheus::BuildCounter()
                   .Name("llmux_requests_total")
                   .Help("Finished requests by finish reason")
                   .Register(*registry_);
  running_ = &prometheus::BuildGauge()
                  .Name("llmux_requests_running")
                  .Help(
                      "Requests in the engine's running set (admitted, holding KV blocks) after "
                      "its last step; at most --max-running")
                  .Register(*registry_);
  waiting_ = &prometheus::BuildGauge()
                  .Name("llmux_requests_waiting")
                  .Help(
                      "Requests queued for the engine after its last step, preempted ones "
                      "waiting to be recomputed included")
                  .Register(*registry_);
  kv_blocks_ = &prometheus::BuildGauge()
                    .Name("llmux_kv_cache_blocks")
                    .Help("Paged KV cache blocks by state: used (held by sequences), cached "
                          "(free but kept for prefix reuse), free")
                    .Register(*registry_);
  kv_usage_ = &prometheus::BuildGauge()
                   .Name("llmux_kv_cache_usage_ratio")
                   .Help("Fraction of the KV cache's blocks held by running sequences")
                   .Register(*registry_);
  kv_bytes_ = &prometheus::BuildGauge()
                   .Name("llmux_kv_cache_capacity_bytes")
                   .Help("Bytes of K and V the paged cache can hold")
                   .Register(*registry_);
  process_memory_ = &prometheus::BuildGauge()
                         .Name("llmux_process_resident_bytes")
                         .Help(
                             "Resident memory of the process; kind=\"file\": the part backed "
                             "by files (model weights left in their file mapping)")
                         .Register(*registry_);
  kv_token_bytes_ = &prometheus::BuildGauge()
                         .Name("llmux_kv_cache_bytes_per_token")
                         .Help("Bytes of KV cache one token takes over all layers (MLA models "
                               "keep one compressed latent row per token)")
                         .Register(*registry_);
  prefix_hits_ = &prometheus::BuildCounter()
                      .Name("llmux_prefix_cache_hit_tokens_total")
                      .Help("Prompt tokens whose K/V came from the prefix cache")
                      .Register(*registry_);
  preemptions_ = &prometheus::BuildCounter()
                      .Name("llmux_preemptions_total")
                      .Help("Sequences preempted (to be recomputed) because KV blocks ran out")
                      .Register(*registry_);
}

void ServingMetrics::KvCache(const std::string& model, int used, int cached, int total,
                             int64_t block_bytes, int64_t bytes_per_token) {
  kv_blocks_->Add({{"model", model}, {"state", "used"}}).Set(used);
  kv_blocks_->Add({{"model", model}, {"state", "cached"}}).Set(cached);
  kv_blocks_->Add({{"model", model}, {"state", "free"}}).Set(total - used - cached);
  kv_usage_->Add({{"model", model}}).Set(total > 0 ? static_cast<double>(used) / total : 0.0);
  kv_bytes_->Add({{"model", model}}).Set(static_cast<double>(total) * block_bytes);
  kv_token_bytes_->Add({{"model", model}}).Set(static_cast<double>(bytes_per_token));
  history_.KvCache(model, int64_t{used} * block_bytes, int64_t{total} * block_bytes);
}

void ServingMetrics::PrefixCacheHits(const std::string& model, int64_t tokens) {
  prefix_hits_->Add({{"model", model}}).Increment(static_cast<double>(tokens));
}

void ServingMetrics::Preemptions(const std::string& model, int64_t count) {
  preemptions_->Add({{"model", model}}).Increment(static_cast<double>(count));
}

ServingMetrics::~ServingMetrics() = default;

void ServingMetrics::EngineLoad(const std::string& model, int running, int waiting) {
  running_->Add({{"model", model}}).Set(running);
  waiting_->Add({{"model", model}}).Set(waiting);
  history_.EngineLoad(model, running, waiting);
}

void ServingMetrics::FirstToken(const std::string& model, double seconds) {
  ttft_->Add({{"model", model}}, kLatencyBuckets).Observe(seconds);
  history_.FirstToken(model, seconds);
}

void ServingMetrics::InterToken(const std::string& model, double seconds) {
  itl_->Add({{"model", model}}, kTokenLatencyBuckets).Observe(seconds);
  history_.InterToken(model, seconds);
}

void ServingMetrics::RequestFinished(const std::string& model, const std::string& finish_reason,
                                     bool started, double seconds, int prompt_tokens,
                                     int completion_tokens) {
  e2e_->Add({{"model", model}}, kLatencyBuckets).Observe(seconds);
  if (started) prompt_tokens_->Add({{"model", model}}).Increment(prompt_tokens);
  generation_tokens_->Add({{"model", model}}).Increment(completion_tokens);
  requests_->Add({{"model", model}, {"finish_reason", finish_reason}}).Increment();
  history_.RequestFinished(model, finish_reason == "error" || finish_reason == "refused",
                           started ? prompt_tokens : 0, completion_tokens);
}

std::string ServingMetrics::Serialize() const {
  const ProcessMemory memory = ReadProcessMemory();
  process_memory_->Add({{"kind", "all"}}).Set(memory.resident);
  process_memory_->Add({{"kind", "file"}}).Set(memory.file);
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

}  // namespace llmux::serving
