#include "serving/remote/worker_load.h"

#include <grpcpp/grpcpp.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <chrono>

#include "engine/gguf/gguf_reader.h"
#include "llmux/worker/v1/worker.pb.h"

namespace llmux::serving {

namespace pb = ::llmux::worker::v1;

pb::LoadRequest MakeLoadRequest(const PrefixIndex& index, bool prefix_cache) {
  pb::LoadRequest request;
  request.set_prefix_cache(prefix_cache);
  if (!prefix_cache) return request;
  for (const auto& [model, cursor] : index.Cursors()) {
    pb::PrefixCacheCursor* c = request.add_prefix_cursors();
    c->set_model(model);
    c->set_epoch(cursor.epoch);
    c->set_seq(cursor.seq);
  }
  return request;
}

std::vector<ModelLoad> ModelLoadsFromProto(const pb::LoadReport& report) {
  std::vector<ModelLoad> out;
  const int n = std::min(report.models_size(), kMaxReportedModels);
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const pb::ModelLoad& m = report.models(i);
    ModelLoad l;
    l.model = m.model();
    l.running = std::max(m.running(), 0);
    l.waiting = std::max(m.waiting(), 0);
    l.kv_blocks_total = std::max(m.kv_blocks_total(), 0);
    l.kv_blocks_used = std::clamp(m.kv_blocks_used(), 0, l.kv_blocks_total);
    l.kv_blocks_free = std::clamp(m.kv_blocks_free(), 0, l.kv_blocks_total);
    l.block_size = std::max(m.block_size(), 0);
    l.prefix.epoch = m.prefix_epoch();
    l.prefix.seq = m.prefix_seq();
    l.prefix.full = m.prefix_full();
    l.prefix.truncated = m.prefix_truncated();
    const int n_added = std::min(m.prefix_added_size(), static_cast<int>(kMaxIndexedHashes));
    l.prefix.added.assign(m.prefix_added().begin(), m.prefix_added().begin() + n_added);
    const int n_evicted = std::min(m.prefix_evicted_size(), static_cast<int>(kMaxIndexedHashes));
    l.prefix.evicted.assign(m.prefix_evicted().begin(), m.prefix_evicted().begin() + n_evicted);
    out.push_back(std::move(l));
  }
  return out;
}

void AddModelLoads(const PrefixIndex& index, std::map<std::string, ModelLoadTotals>& totals) {
  for (const auto& [model, s] : index.models()) {
    ModelLoadTotals& t = totals[model];
    ++t.workers;
    t.running += s.load.running;
    t.waiting += s.load.waiting;
    t.kv_blocks_total += s.load.kv_blocks_total;
    t.kv_blocks_used += s.load.kv_blocks_used;
  }
}

std::shared_ptr<const PromptBuilder> VocabCache::Get(const std::string& model) const {
  std::lock_guard lock(mu_);
  auto it = builders_.find(model);
  return it == builders_.end() ? nullptr : it->second;
}

bool VocabCache::Has(const std::string& model) const { return Get(model) != nullptr; }

Status VocabCache::Put(const std::string& model, std::string gguf) {
  LLMUX_ASSIGN_OR_RETURN(std::unique_ptr<gguf::GgufFile> file,
                         gguf::GgufFile::Parse(reinterpret_cast<const uint8_t*>(gguf.data()), gguf.size()));
  LLMUX_ASSIGN_OR_RETURN(std::unique_ptr<PromptBuilder> builder, PromptBuilder::FromGguf(*file));
  std::lock_guard lock(mu_);
  builders_[model] = std::move(builder);
  return Status::Ok();
}

void VocabCache::Retain(const std::set<std::string>& models) {
  std::lock_guard lock(mu_);
  std::erase_if(builders_, [&](const auto& entry) { return !models.count(entry.first); });
}

}  // namespace llmux::serving

namespace llmux::serving {

Result<std::vector<ModelLoad>> CallLoad(pb::Worker::StubInterface& stub, const pb::LoadRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1000));
  pb::LoadReport report;
  const grpc::Status status = stub.Load(&context, request, &report);
  if (!status.ok()) return UnavailableError("Load: " + status.error_message());
  return ModelLoadsFromProto(report);
}

Status FetchVocab(pb::Worker::StubInterface& stub, const std::string& model, VocabCache& cache) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  pb::GetVocabRequest request;
  request.set_model(model);
  pb::GetVocabResponse response;
  const grpc::Status status = stub.GetVocab(&context, request, &response);
  if (!status.ok()) return UnavailableError("GetVocab: " + status.error_message());
  return cache.Put(model, std::move(*response.mutable_gguf())).WithContext("the vocabulary of '" + model + "'");
}

ModelLoadGauges::ModelLoadGauges(prometheus::Registry& registry) {
  auto family = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(registry);
  };
  workers_ = family("llmux_gateway_model_workers", "Live workers reporting the model");
  running_ = family("llmux_gateway_model_running", "Sequences running on the model, summed over its workers");
  waiting_ = family("llmux_gateway_model_waiting",
                    "Requests queued for the model (queue depth), summed over its workers");
  kv_used_ = family("llmux_gateway_model_kv_blocks_used", "KV cache blocks in use, summed over the model's workers");
  kv_total_ = family("llmux_gateway_model_kv_blocks_total", "KV cache blocks, summed over the model's workers");
  kv_ratio_ = family("llmux_gateway_model_kv_used_ratio",
                     "KV cache blocks in use over all blocks, over the model's workers (0 to 1)");
}

void ModelLoadGauges::Update(const std::map<std::string, ModelLoadTotals>& totals) {
  for (auto it = by_model_.begin(); it != by_model_.end();) {
    if (totals.count(it->first)) {
      ++it;
      continue;
    }
    workers_->Remove(it->second.workers);
    running_->Remove(it->second.running);
    waiting_->Remove(it->second.waiting);
    kv_used_->Remove(it->second.kv_used);
    kv_total_->Remove(it->second.kv_total);
    kv_ratio_->Remove(it->second.kv_ratio);
    it = by_model_.erase(it);
  }
  for (const auto& [model, t] : totals) {
    auto it = by_model_.find(model);
    if (it == by_model_.end()) {
      const prometheus::Labels labels = {{"model", model}};
      it = by_model_
               .emplace(model, Gauges{&workers_->Add(labels), &running_->Add(labels), &waiting_->Add(labels),
                                      &kv_used_->Add(labels), &kv_total_->Add(labels), &kv_ratio_->Add(labels)})
               .first;
    }
    it->second.workers->Set(t.workers);
    it->second.running->Set(t.running);
    it->second.waiting->Set(t.waiting);
    it->second.kv_used->Set(static_cast<double>(t.kv_blocks_used));
    it->second.kv_total->Set(static_cast<double>(t.kv_blocks_total));
    it->second.kv_ratio->Set(t.kv_used_ratio());
  }
}

}  // namespace llmux::serving
