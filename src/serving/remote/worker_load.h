// The gateway's side of the workers' Load and GetVocab calls: the request with this gateway's
// prefix-cache cursors, the report read back into ModelLoads (bounded), the per-model signals
// an autoscaler needs summed over the workers, and the vocabularies fetched from the workers
// for computing prompts' block hashes.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "llmux/worker/v1/worker.grpc.pb.h"
#include "serving/model_load.h"
#include "serving/prompt_builder.h"
#include "serving/remote/prefix_index.h"

namespace llmux::serving {

inline constexpr int kMaxReportedModels = 256;  // models read from one report

worker::v1::LoadRequest MakeLoadRequest(const PrefixIndex& index, bool prefix_cache);
// The report's models, at most kMaxReportedModels, hashes cut at kMaxIndexedHashes each.
std::vector<ModelLoad> ModelLoadsFromProto(const worker::v1::LoadReport& report);

// One model summed over the live workers that report it.
struct ModelLoadTotals {
  int workers = 0;
  int running = 0;
  int waiting = 0;
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_used = 0;
  double kv_used_ratio() const {
    return kv_blocks_total > 0 ? static_cast<double>(kv_blocks_used) / static_cast<double>(kv_blocks_total) : 0;
  }
};
void AddModelLoads(const PrefixIndex& index, std::map<std::string, ModelLoadTotals>& totals);

// Prompt builders per model, from vocabulary-only GGUFs fetched from workers. Thread-safe.
class VocabCache {
 public:
  std::shared_ptr<const PromptBuilder> Get(const std::string& model) const;
  bool Has(const std::string& model) const;
  // Parses `gguf` (a worker's GetVocab answer) and keeps it for `model`.
  Status Put(const std::string& model, std::string gguf);
  // Forgets the models no live worker serves any more.
  void Retain(const std::set<std::string>& models);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const PromptBuilder>> builders_;
};

}  // namespace llmux::serving

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Gauge;
}  // namespace prometheus

namespace llmux::serving {

// One Load call (1 s deadline): the worker's per-model reports.
Result<std::vector<ModelLoad>> CallLoad(worker::v1::Worker::StubInterface& stub, const worker::v1::LoadRequest& request);
// One GetVocab call (10 s deadline) into `cache`.
Status FetchVocab(worker::v1::Worker::StubInterface& stub, const std::string& model, VocabCache& cache);

// llmux_gateway_model_{workers,running,waiting,kv_blocks_used,kv_blocks_total,kv_used_ratio}{model}:
// what an autoscaler needs, summed over the live workers' last reports.
class ModelLoadGauges {
 public:
  explicit ModelLoadGauges(prometheus::Registry& registry);
  void Update(const std::map<std::string, ModelLoadTotals>& totals);

 private:
  struct Gauges {
    prometheus::Gauge* workers;
    prometheus::Gauge* running;
    prometheus::Gauge* waiting;
    prometheus::Gauge* kv_used;
    prometheus::Gauge* kv_total;
    prometheus::Gauge* kv_ratio;
  };
  prometheus::Family<prometheus::Gauge>* workers_;
  prometheus::Family<prometheus::Gauge>* running_;
  prometheus::Family<prometheus::Gauge>* waiting_;
  prometheus::Family<prometheus::Gauge>* kv_used_;
  prometheus::Family<prometheus::Gauge>* kv_total_;
  prometheus::Family<prometheus::Gauge>* kv_ratio_;
  std::map<std::string, Gauges> by_model_;
};

}  // namespace llmux::serving
