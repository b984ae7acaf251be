#include "serving/remote/prefix_index.h"

#include "engine/runtime/block_manager.h"

namespace llmux::serving {

void PrefixIndex::Apply(ModelLoad report) {
  ModelState& s = models_[report.model];
  PrefixCacheUpdate update = std::move(report.prefix);
  report.prefix = {};
  s.load = std::move(report);
  if (update.full || update.epoch != s.cursor.epoch) {
    // A delta from another epoch cannot happen (the worker answers the full set), but if it
    // did, applying it would mix two engines' sets: start over from what it holds.
    s.hashes.clear();
  }
  for (uint64_t h : update.evicted) s.hashes.erase(h);
  for (uint64_t h : update.added) {
    if (s.hashes.size() >= kMaxIndexedHashes) break;
    s.hashes.insert(h);
  }
  s.cursor = {update.epoch, update.seq};
}

void PrefixIndex::Retain(const std::set<std::string>& reported) {
  std::erase_if(models_, [&](const auto& entry) { return !reported.count(entry.first); });
}

std::map<std::string, PrefixCursor> PrefixIndex::Cursors() const {
  std::map<std::string, PrefixCursor> out;
  for (const auto& [model, s] : models_) out[model] = s.cursor;
  return out;
}

int PrefixIndex::MatchLength(const std::string& model, std::span<const uint64_t> blocks) const {
  const ModelState* s = Find(model);
  if (!s) return 0;
  int n = 0;
  for (uint64_t h : blocks) {
    if (!s->hashes.count(h)) break;
    ++n;
  }
  return n;
}

const PrefixIndex::ModelState* PrefixIndex::Find(const std::string& model) const {
  auto it = models_.find(model);
  return it == models_.end() ? nullptr : &it->second;
}

std::vector<uint64_t> PromptBlockHashes(std::span<const int32_t> tokens, int block_size) {
  std::vector<uint64_t> out;
  if (block_size <= 0) return out;
  const size_t bs = static_cast<size_t>(block_size);
  out.reserve(tokens.size() / bs);
  uint64_t parent = 0;
  for (size_t i = 0; i + bs <= tokens.size(); i += bs) {
    parent = BlockManager::HashBlock(parent, tokens.subspan(i, bs));
    out.push_back(parent);
  }
  return out;
}

}  // namespace llmux::serving
