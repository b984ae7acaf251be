// A set of token pieces as a byte trie laid out in depth-first preorder, so that a constraint's
// mask steps its state machine once per shared prefix and drops a whole subtree at the first
// refused byte. The tokens are numbered in trie order ("ranks"): those below a node are one
// contiguous run of ranks. Per node it keeps summaries of the subtree (longest piece, bytes,
// characters, whether everything below is plain JSON-string content) that let a mask take or
// drop a subtree without walking it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

namespace llmux {

class TokenTrie {
 public:
  struct Node {
    uint32_t subtree_end;  // index of the first node after this node's subtree
    uint32_t first_rank;   // rank of the first token in this subtree
    uint16_t here;         // tokens whose piece ends exactly here: ranks [first_rank, +here)
    uint8_t byte;          // the byte on the edge into this node (root: 0)
    uint8_t flags;         // NodeFlags
  };
  enum NodeFlags : uint8_t {
    // Every token below has, from this node's depth on, only bytes that a JSON string takes
    // as they are (see constraint::StringSuffixesOk): in a plain-string state the whole
    // subtree is allowed without walking it.
    kStringContentBelow = 1,
    // Every token below ends with a whole UTF-8 character (none is cut short at its end).
    kWholeCharsBelow = 2,
  };

  // The trie of the tokens `ids` (non-empty pieces), `piece` giving each one's bytes.
  static TokenTrie Build(std::vector<int32_t> ids,
                         const std::function<std::string_view(int32_t)>& piece);

  std::span<const Node> nodes() const { return nodes_; }
  // Token ids by rank.
  std::span<const int32_t> ranked_ids() const { return ranked_ids_; }
  // The most bytes a token below `node` has after the node's own byte (0 when none goes on).
  uint32_t LongestBelow(uint32_t node) const { return longest_below_[node]; }
  // Every byte that a token below `node` has after the node's own byte, as 256 bits; null for
  // subtrees of fewer than kBytesBelowMinTokens tokens (cheap to walk anyway).
  static constexpr uint32_t kBytesBelowMinTokens = 8;
  const std::array<uint64_t, 4>* BytesBelow(uint32_t node) const {
    const uint32_t i = bytes_below_index_[node];
    return i == kNoBytesBelow ? nullptr : &bytes_below_[i];
  }
  // Characters (bytes that are not UTF-8 continuation bytes; a character cut short at the end
  // counts) in the piece of the token of each rank, and in the path to each node, saturating.
  std::span<const uint16_t> rank_chars() const { return rank_chars_; }
  uint32_t NodeChars(uint32_t node) const { return node_chars_[node]; }
  // The children of `node` are entries [ChildBegin(node), ChildBegin(node + 1)) of
  // child_bytes() (their edge bytes) and child_nodes() (their node indices), in byte order: a
  // walk scans a node's edge bytes in one run instead of hopping from subtree to subtree.
  uint32_t ChildBegin(uint32_t node) const { return child_begin_[node]; }
  std::span<const uint8_t> child_bytes() const { return child_bytes_; }
  std::span<const uint32_t> child_nodes() const { return child_nodes_; }
  // Rank one past the last token of node's subtree.
  uint32_t RankEnd(uint32_t node) const {
    const uint32_t end = nodes_[node].subtree_end;
    return end < nodes_.size() ? nodes_[end].first_rank : static_cast<uint32_t>(ranked_ids_.size());
  }

 private:
  void BuildNodes(const std::function<std::string_view(int32_t)>& piece);
  void BuildSubtreeSummaries();
  void BuildChildLists();
  static constexpr uint32_t kNoBytesBelow = 0xFFFFFFFFu;

  std::vector<Node> nodes_;
  std::vector<uint16_t> longest_below_;      // per node, saturating
  std::vector<uint16_t> rank_chars_;         // per rank, saturating
  std::vector<uint16_t> node_chars_;         // per node, saturating
  std::vector<uint32_t> bytes_below_index_;  // per node: index in bytes_below_ or kNoBytesBelow
  std::vector<std::array<uint64_t, 4>> bytes_below_;
  std::vector<int32_t> ranked_ids_;
  std::vector<uint32_t> child_begin_;  // per node, and one past the last
  std::vector<uint8_t> child_bytes_;
  std::vector<uint32_t> child_nodes_;
};

}  // namespace llmux
