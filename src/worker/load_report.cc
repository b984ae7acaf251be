#include "worker/load_report.h"

#include <algorithm>
#include <map>

namespace llmux::worker {

void FillModelLoads(const serving::ModelLoadSource& source, const v1::LoadRequest& request,
                    v1::LoadReport& report) {
  std::map<std::string, serving::PrefixCursor> cursors;
  const int n_cursors = std::min(request.prefix_cursors_size(), kMaxPrefixCursors);
  for (int i = 0; i < n_cursors; ++i) {
    const v1::PrefixCacheCursor& c = request.prefix_cursors(i);
    cursors[c.model()] = {c.epoch(), c.seq()};
  }
  const uint32_t max_hashes = !request.prefix_cache()          ? 0
                              : request.max_prefix_hashes() == 0 ? kDefaultPrefixHashes
                                                                 : std::min(request.max_prefix_hashes(), kMaxPrefixHashes);
  for (serving::ModelLoad& m : source.ModelLoads(cursors, max_hashes)) {
    v1::ModelLoad* out = report.add_models();
    out->set_model(m.model);
    out->set_running(m.running);
    out->set_waiting(m.waiting);
    out->set_kv_blocks_total(m.kv_blocks_total);
    out->set_kv_blocks_used(m.kv_blocks_used);
    out->set_kv_blocks_free(m.kv_blocks_free);
    out->set_block_size(m.block_size);
    if (!request.prefix_cache()) continue;
    out->set_prefix_epoch(m.prefix.epoch);
    out->set_prefix_seq(m.prefix.seq);
    out->set_prefix_full(m.prefix.full);
    out->set_prefix_truncated(m.prefix.truncated);
    out->mutable_prefix_added()->Add(m.prefix.added.begin(), m.prefix.added.end());
    out->mutable_prefix_evicted()->Add(m.prefix.evicted.begin(), m.prefix.evicted.end());
  }
}

}  // namespace llmux::worker
