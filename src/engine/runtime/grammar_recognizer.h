// The byte-level recognizer behind grammar constraints: a set of parse stacks, like a
// nondeterministic pushdown automaton run breadth-first.
//
// A stack is a chain of nodes in an arena (tails shared): the top node's position is the byte
// set the next byte must match, the nodes below hold where to continue when the rule above
// finishes. Stepping a byte keeps the stacks whose top matches, moves past it and expands rule
// references until every stack has a byte set on top again (a finished stack marks the state
// accepting). Equal stacks are merged. The number of stacks per state (kMaxStacks) and their
// depth (kMaxStackDepth) are bounded: a step that would exceed them refuses the byte and sets
// exploded(), so an ambiguous or runaway grammar ends generation early instead of eating memory.
//
// The arena only grows while stepping; Mark/Rollback undo steps in the depth-first token-trie
// walk, and Compact keeps just what the current state needs.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/runtime/grammar.h"

namespace llmux::grammar {

inline constexpr size_t kMaxStacks = 128;
inline constexpr uint32_t kMaxStackDepth = 1024;

class Recognizer {
 public:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;

  struct State {
    std::vector<uint32_t> tops;  // top node of each stack
    bool accepting = false;      // some stack finished: the text so far is a whole match
    void Clear() {
      tops.clear();
      accepting = false;
    }
  };

  explicit Recognizer(const Grammar& g) : g_(g) {}

  // The state before any byte; false if the limits were hit already (exploded()).
  bool Start(State& out);
  // The state after byte `b` from `in` (in != out). False if nothing survives, or the limits
  // were hit (then exploded() is set).
  bool Step(const State& in, uint8_t b, State& out);

  size_t Mark() const { return nodes_.size(); }
  void Rollback(size_t mark) { nodes_.resize(mark); }
  // Drops every node `s` does not use (renumbering s's nodes).
  void Compact(State& s);

  // Fewest bytes that complete the text from `s` (0 when accepting); with boundary_only, over
  // the stacks at a string body's character boundary only.
  uint32_t Distance(const State& s, bool boundary_only = false) const;
  // Some stack of `s` is at a JSON-string body's character boundary.
  bool AtStringBoundary(const State& s) const;
  // Some stack of `s` takes, as a prefix, every text of at most `longest` bytes that is plain
  // JSON-string content (with string_content: at a string body's boundary, or at a character
  // start with that many characters of room) or made of `bytes` only (when not null: a run of a
  // byte set that covers them with that much room). `rest` is then an upper bound of the bytes
  // that complete the text after such a text, over those stacks.
  // whole_chars: the texts end with whole UTF-8 characters (else up to 3 bytes more may be
  // needed to finish the last one).
  bool TakesRun(const State& s, bool string_content, bool whole_chars,
                const std::array<uint64_t, 4>* bytes, uint32_t longest, uint32_t& rest) const;
  // When every stack of `s` is at the start of one string character (MarkStringChar) under one
  // shared node: how many characters of plain string content it takes from here (0 otherwise),
  // and in `rest` the distance of the character-start stack.
  uint32_t CharRoom(const State& s, uint32_t& rest) const;
  // When every stack of `s` that takes plain string content rests on one shared node and one
  // of them is at a string body's boundary or at the start of a string character: how many
  // characters of plain string content `s` takes (kUnbounded in a body), else 0. Then a text of
  // plain content (constraint::StringSuffixesOk) is taken exactly when it has at most that many
  // characters, and when it ends with a whole character, at most `rest` bytes complete the
  // text after it (the distance after one character; more characters only bring the end
  // nearer).
  uint32_t PlainRoom(const State& s, uint32_t& rest) const;
  // A lower bound of Distance() after any text made only of `bytes`: where every stack of `s`
  // rests on one node whose byte set (or the first byte set below it) takes none of those
  // bytes, no such text gets past it, so that node's distance stays; 0 when unknown.
  uint32_t FloorDistance(const State& s, const std::array<uint64_t, 4>& bytes) const;
  // The bytes some stack of `s` takes next.
  ByteSet NextBytes(const State& s) const;
  // Writes to `key` what `s` is, independent of where its nodes lie in the arena: each stack's
  // element positions top to bottom, then whether it is accepting. Equal keys step alike over
  // every text. False (key unusable) when it would be longer than `max_len`.
  bool Key(const State& s, size_t max_len, std::vector<uint32_t>& key) const;
  // Bit i set: stack i of `s` takes byte b (only the first 64 stacks). Step(s, b) depends on
  // nothing else, so bytes with the same mask step to the same state.
  uint64_t AcceptMask(const State& s, uint8_t b) const {
    uint64_t m = 0;
    for (size_t i = 0; i < s.tops.size() && i < 64; ++i) {
      if (g_.byte_sets[g_.elements[nodes_[s.tops[i]].pos].arg].Has(b)) m |= uint64_t{1} << i;
    }
    return m;
  }
  // The two states have the same stacks in the same order (wherever their nodes lie).
  bool SameState(const State& a, const State& b) const;
  bool exploded() const { return exploded_; }

 private:
  struct Node {
    uint32_t pos;     // element position: top: a byte set; below: where to continue
    uint32_t parent;  // kNone at the bottom
    uint32_t depth;
    uint32_t rest;  // fewest bytes that empty the stack from this node (saturating)
  };
  Node MakeNode(uint32_t pos, uint32_t parent) const {
    if (parent == kNone) return {pos, parent, 1, g_.min_rest[pos]};
    const Node& p = nodes_[parent];
    const uint64_t rest = uint64_t{g_.min_rest[pos]} + p.rest;
    return {pos, parent, p.depth + 1,
            rest > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<uint32_t>(rest)};
  }
  void Expand(uint32_t pos, uint32_t parent, State& out);
  bool TakesNone(const Node& top, const std::array<uint64_t, 4>& bytes) const {
    const ByteSet& set = g_.byte_sets[g_.elements[top.pos].arg];
    return ((set.bits[0] & bytes[0]) | (set.bits[1] & bytes[1]) | (set.bits[2] & bytes[2]) |
            (set.bits[3] & bytes[3])) == 0;
  }
  bool SameChain(uint32_t a, uint32_t b) const;

  const Grammar& g_;
  std::vector<Node> nodes_;
  std::vector<std::pair<uint32_t, uint32_t>> work_;  // reused by Expand
  bool exploded_ = false;
};

}  // namespace llmux::grammar
