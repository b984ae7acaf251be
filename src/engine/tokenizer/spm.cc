#include "engine/tokenizer/spm.h"

#include <algorithm>
#include <cstdio>

#include "engine/tokenizer/unicode.h"

namespace llmux::tokenizer {
namespace {

// Heap order: highest score on top, then leftmost.
bool Later(const SpmModel::Scratch::Candidate& a, const SpmModel::Scratch::Candidate& b) {
  return a.score < b.score || (a.score == b.score && a.left > b.left);
}

}  // namespace

SpmModel::SpmModel(const Vocab& vocab) : vocab_(vocab) {
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "<0x%02X>", b);
    int32_t id = vocab.Find(hex);
    if (id < 0) {
      const char c = static_cast<char>(b);
      id = vocab.Find(std::string_view(&c, 1));
    }
    // llama.cpp aborts when neither exists; we fall back to <unk> (or drop the byte).
    byte_tokens_[b] = id >= 0 ? id : vocab.unk_id();
  }
}

void SpmModel::TryAddCandidate(std::string_view text, Scratch& s, int32_t left,
                               int32_t right) const {
  if (left < 0 || right < 0) return;
  const auto& l = s.symbols[left];
  const auto& r = s.symbols[right];
  const uint32_t size = l.size + r.size;
  const int32_t id = vocab_.Find(text.substr(l.start, size));
  if (id < 0) return;
  s.heap.push_back({vocab_.score(id), left, right, size});
  std::push_heap(s.heap.begin(), s.heap.end(), Later);
}

void SpmModel::Encode(std::string_view text, Scratch& s, std::vector<int32_t>& out) const {
  s.symbols.clear();
  s.heap.clear();
  for (size_t offset = 0; offset < text.size();) {
    const size_t len =
        std::min(Utf8SequenceLength(static_cast<uint8_t>(text[offset])), text.size() - offset);
    const auto index = static_cast<int32_t>(s.symbols.size());
    s.symbols.push_back({static_cast<uint32_t>(offset), static_cast<uint32_t>(len), index - 1,
                         offset + len == text.size() ? -1 : index + 1});
    offset += len;
  }
  const auto n = static_cast<int32_t>(s.symbols.size());
  for (int32_t i = 1; i < n; ++i) TryAddCandidate(text, s, i - 1, i);

  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), Later);
    const Scratch::Candidate c = s.heap.back();
    s.heap.pop_back();
    auto& left = s.symbols[c.left];
    auto& right = s.symbols[c.right];
    // Stale if either side was merged away or grew since the pair was queued.
    if (left.size == 0 || right.size == 0 || left.size + right.size != c.size) continue;
    left.size += right.size;
    right.size = 0;
    left.next = right.next;
    if (right.next >= 0) s.symbols[right.next].prev = c.left;
    TryAddCandidate(text, s, left.prev, c.left);
    TryAddCandidate(text, s, c.left, left.next);
  }

  for (int32_t i = n > 0 ? 0 : -1; i >= 0; i = s.symbols[i].next) {
    const auto& sym = s.symbols[i];
    const std::string_view piece = text.substr(sym.start, sym.size);
    const int32_t id = vocab_.Find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Merged symbols are always tokens, so this is one character with no token: its bytes.
    for (unsigned char byte : piece) {
      if (byte_tokens_[byte] >= 0) out.push_back(byte_tokens_[byte]);
    }
  }
}

}  // namespace llmux::tokenizer
