#include "engine/runtime/token_trie.h"

#include <algorithm>
#include <string>

#include "engine/runtime/json_string_bytes.h"

namespace llmux {

TokenTrie TokenTrie::Build(std::vector<int32_t> ids,
                           const std::function<std::string_view(int32_t)>& piece) {
  TokenTrie t;
  t.ranked_ids_ = std::move(ids);
  t.BuildNodes(piece);
  t.BuildSubtreeSummaries();
  t.BuildChildLists();
  return t;
}

// Sorting the pieces puts them in trie preorder; each piece then adds the nodes past its common
// prefix with the previous one, and `path` holds the nodes of the current piece by depth.
void TokenTrie::BuildNodes(const std::function<std::string_view(int32_t)>& piece) {
  std::sort(ranked_ids_.begin(), ranked_ids_.end(), [&piece](int32_t a, int32_t b) {
    const int c = piece(a).compare(piece(b));
    return c < 0 || (c == 0 && a < b);
  });

  nodes_.clear();
  nodes_.push_back({0, 0, 0, 0, kStringContentBelow | kWholeCharsBelow});
  std::vector<uint32_t> path = {0};
  std::vector<uint8_t> ok;
  std::string_view prev;
  for (uint32_t rank = 0; rank < ranked_ids_.size(); ++rank) {
    const std::string_view p = piece(ranked_ids_[rank]);
    size_t lcp = 0;
    while (lcp < p.size() && lcp < prev.size() && p[lcp] == prev[lcp]) ++lcp;
    while (path.size() > lcp + 1) {
      nodes_[path.back()].subtree_end = static_cast<uint32_t>(nodes_.size());
      path.pop_back();
    }
    for (size_t d = lcp; d < p.size(); ++d) {
      path.push_back(static_cast<uint32_t>(nodes_.size()));
      nodes_.push_back({0, rank, 0, static_cast<uint8_t>(p[d]),
                        static_cast<uint8_t>(kStringContentBelow | kWholeCharsBelow)});
    }
    ++nodes_[path.back()].here;
    constraint::StringSuffixesOk(p, ok);
    for (size_t d = 0; d <= p.size(); ++d) {
      if (!ok[d]) nodes_[path[d]].flags &= ~kStringContentBelow;
    }
    if (!constraint::EndsWithWholeChar(p)) {
      for (size_t d = 0; d <= p.size(); ++d) nodes_[path[d]].flags &= ~kWholeCharsBelow;
    }
    prev = p;
  }
  for (uint32_t node : path) nodes_[node].subtree_end = static_cast<uint32_t>(nodes_.size());
  // Character counts: per rank from its piece, per node from its parent (preorder: the
  // deepest node on `path` at or before a node's depth is its parent).
  auto starts_char = [](uint8_t b) { return (b & 0xC0) != 0x80; };
  rank_chars_.assign(ranked_ids_.size(), 0);
  for (uint32_t rank = 0; rank < ranked_ids_.size(); ++rank) {
    uint32_t chars = 0;
    for (char c : piece(ranked_ids_[rank])) chars += starts_char(static_cast<uint8_t>(c));
    rank_chars_[rank] = static_cast<uint16_t>(std::min<uint32_t>(chars, 0xFFFF));
  }
  node_chars_.assign(nodes_.size(), 0);
  std::vector<uint32_t> stack = {0};  // the path from the root to the current node
  for (uint32_t i = 1; i < nodes_.size(); ++i) {
    while (nodes_[stack.back()].subtree_end <= i) stack.pop_back();
    const uint32_t chars = node_chars_[stack.back()] + starts_char(nodes_[i].byte);
    node_chars_[i] = static_cast<uint16_t>(std::min<uint32_t>(chars, 0xFFFF));
    stack.push_back(i);
  }
}

// Children before parents (reverse preorder): a node's summary is its children's, each with the
// child's own byte and one more byte of length.
void TokenTrie::BuildSubtreeSummaries() {
  const size_t n = nodes_.size();
  longest_below_.assign(n, 0);
  bytes_below_index_.assign(n, kNoBytesBelow);
  bytes_below_.clear();
  std::vector<std::array<uint64_t, 4>> below(n);
  for (size_t i = n; i-- > 0;) {
    uint32_t longest = 0;
    for (uint32_t c = static_cast<uint32_t>(i) + 1; c < nodes_[i].subtree_end;
         c = nodes_[c].subtree_end) {
      longest = std::max<uint32_t>(longest, longest_below_[c] + 1u);
      for (int w = 0; w < 4; ++w) below[i][w] |= below[c][w];
      below[i][nodes_[c].byte >> 6] |= uint64_t{1} << (nodes_[c].byte & 63);
    }
    longest_below_[i] = static_cast<uint16_t>(std::min<uint32_t>(longest, 0xFFFF));
    if (RankEnd(static_cast<uint32_t>(i)) - nodes_[i].first_rank >= kBytesBelowMinTokens) {
      bytes_below_index_[i] = static_cast<uint32_t>(bytes_below_.size());
      bytes_below_.push_back(below[i]);
    }
  }
}

void TokenTrie::BuildChildLists() {
  const uint32_t n = static_cast<uint32_t>(nodes_.size());
  child_begin_.assign(n + 1, 0);
  child_bytes_.clear();
  child_nodes_.clear();
  for (uint32_t i = 0; i < n; ++i) {
    child_begin_[i] = static_cast<uint32_t>(child_nodes_.size());
    for (uint32_t c = i + 1; c < nodes_[i].subtree_end; c = nodes_[c].subtree_end) {
      child_bytes_.push_back(nodes_[c].byte);
      child_nodes_.push_back(c);
    }
  }
  child_begin_[n] = static_cast<uint32_t>(child_nodes_.size());
}

}  // namespace llmux
