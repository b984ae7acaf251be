// LocalInferenceService as a ModelLoadSource: its hosts' engine stats and prefix-cache journals.
#include "engine/gguf/vocab_only.h"
#include "serving/local_inference_service.h"

namespace llmux::serving {

std::vector<ModelLoad> LocalInferenceService::ModelLoads(const std::map<std::string, PrefixCursor>& cursors,
                                                         size_t max_hashes) const {
  std::vector<std::shared_ptr<ModelHost>> hosts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hosts = hosts_;
  }
  std::vector<ModelLoad> out;
  out.reserve(hosts.size());
  for (const auto& h : hosts) {
    Engine& engine = h->engine();
    const EngineStats s = engine.stats();
    ModelLoad m;
    m.model = h->name();
    m.running = s.running;
    m.waiting = s.waiting;
    m.kv_blocks_total = s.kv.n_blocks;
    m.kv_blocks_used = s.kv.used;
    m.kv_blocks_free = s.kv.free + s.kv.cached;
    m.block_size = engine.block_size();
    auto it = cursors.find(m.model);
    const PrefixCursor cursor = it == cursors.end() ? PrefixCursor{} : it->second;
    m.prefix = engine.PrefixCacheSince(cursor.epoch, cursor.seq, max_hashes);
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::string> LocalInferenceService::VocabGguf(const std::string& model) const {
  LLMUX_ASSIGN_OR_RETURN(std::shared_ptr<ModelHost> host, FindModel(model));
  return gguf::VocabOnlyBytes(host->file());
}

}  // namespace llmux::serving
