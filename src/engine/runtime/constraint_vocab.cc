#include "engine/runtime/constraint_vocab.h"

#include <algorithm>

#include "engine/runtime/json_machine.h"
#include "engine/tokenizer/tokenizer.h"

namespace llmux {

namespace {

// The piece does not end inside a UTF-8 character: its last lead byte has all its continuation
// bytes.
bool EndsWithWholeChar(std::string_view p) {
  size_t i = p.size();
  size_t cont = 0;
  while (i > 0 && (static_cast<uint8_t>(p[i - 1]) & 0xC0) == 0x80 && cont < 4) {
    --i;
    ++cont;
  }
  if (i == 0) return cont == 0;
  const uint8_t lead = static_cast<uint8_t>(p[i - 1]);
  const size_t need = lead < 0x80 ? 0 : lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 9;
  return need == cont;
}

enum Kind : uint8_t { kPlain = 0, kSpecial = 1, kEog = 2, kNever = 3 };
}  // namespace

std::shared_ptr<const ConstraintVocab> ConstraintVocab::Build(const Tokenizer& tokenizer) {
  std::shared_ptr<ConstraintVocab> v(new ConstraintVocab());
  v->n_vocab_ = tokenizer.n_vocab();
  v->offsets_.reserve(v->n_vocab_ + 1);
  v->kind_.resize(v->n_vocab_);
  for (int32_t id = 0; id < v->n_vocab_; ++id) {
    const std::string piece = tokenizer.TokenToPiece(id);
    v->offsets_.push_back(static_cast<uint32_t>(v->bytes_.size()));
    v->bytes_ += piece;
    Kind kind = kPlain;
    if (tokenizer.IsEndOfGeneration(id)) {
      kind = kEog;
      v->eog_ids_.push_back(id);
    } else if (piece.empty()) {
      kind = kNever;  // unused/padding tokens: they would add nothing to the text
    } else if (tokenizer.IsSpecial(id)) {
      kind = kSpecial;
      v->special_ids_.push_back(id);
    }
    v->kind_[id] = kind;
  }
  v->offsets_.push_back(static_cast<uint32_t>(v->bytes_.size()));
  v->BuildTrie();
  v->BuildSubtreeSummaries();
  return v;
}

std::string_view ConstraintVocab::piece(int32_t id) const {
  if (id < 0 || id >= n_vocab_) return {};
  return std::string_view(bytes_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
}

bool ConstraintVocab::is_special(int32_t id) const {
  return id >= 0 && id < n_vocab_ && kind_[id] == kSpecial;
}

bool ConstraintVocab::is_eog(int32_t id) const {
  return id >= 0 && id < n_vocab_ && kind_[id] == kEog;
}

// Sorting the pieces puts them in trie preorder; each piece then adds the nodes past its common
// prefix with the previous one, and `path` holds the nodes of the current piece by depth.
void ConstraintVocab::BuildTrie() {
  for (int32_t id = 0; id < n_vocab_; ++id) {
    if (kind_[id] == kPlain) ranked_ids_.push_back(id);
  }
  std::sort(ranked_ids_.begin(), ranked_ids_.end(), [this](int32_t a, int32_t b) {
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
    if (!EndsWithWholeChar(p)) {
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
void ConstraintVocab::BuildSubtreeSummaries() {
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

}  // namespace llmux
