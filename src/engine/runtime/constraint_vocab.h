// The token table that constrained decoding works from, built once per tokenizer and shared
// (by shared_ptr) by every constraint made for that model.
//
// Plain tokens (not special, not end-of-generation, with a non-empty piece) sit in a byte trie
// laid out in depth-first preorder, so a mask walks the state machine once per shared prefix
// and drops whole subtrees at the first rejected byte. Tokens are numbered in trie order
// ("ranks"): the tokens below a node are one contiguous run of ranks.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmux {

class Tokenizer;

class ConstraintVocab {
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

  static std::shared_ptr<const ConstraintVocab> Build(const Tokenizer& tokenizer);

  int32_t n_vocab() const { return n_vocab_; }
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
  // Rank one past the last token of node's subtree.
  uint32_t RankEnd(uint32_t node) const {
    const uint32_t end = nodes_[node].subtree_end;
    return end < nodes_.size() ? nodes_[end].first_rank : static_cast<uint32_t>(ranked_ids_.size());
  }

  // Special tokens (control, user-defined, unknown) that do not end generation and have a
  // non-empty piece: allowed only where their text is a literal the constraint asks for.
  const std::vector<int32_t>& special_ids() const { return special_ids_; }
  const std::vector<int32_t>& eog_ids() const { return eog_ids_; }
  // The bytes token `id` decodes to ("" for an unknown id).
  std::string_view piece(int32_t id) const;
  bool is_special(int32_t id) const;  // in special_ids()
  bool is_eog(int32_t id) const;

 private:
  ConstraintVocab() = default;
  void BuildTrie();
  void BuildSubtreeSummaries();
  static constexpr uint32_t kNoBytesBelow = 0xFFFFFFFFu;

  int32_t n_vocab_ = 0;
  std::string bytes_;              // all pieces, concatenated
  std::vector<uint32_t> offsets_;  // piece of id i: bytes_[offsets_[i], offsets_[i + 1])
  std::vector<uint8_t> kind_;      // per id: 0 plain, 1 special, 2 end of generation, 3 never
  std::vector<Node> nodes_;
  std::vector<uint16_t> longest_below_;      // per node, saturating
  std::vector<uint16_t> rank_chars_;         // per rank, saturating
  std::vector<uint16_t> node_chars_;         // per node, saturating
  std::vector<uint32_t> bytes_below_index_;  // per node: index in bytes_below_ or kNoBytesBelow
  std::vector<std::array<uint64_t, 4>> bytes_below_;
  std::vector<int32_t> ranked_ids_;
  std::vector<int32_t> special_ids_;
  std::vector<int32_t> eog_ids_;
};

}  // namespace llmux
