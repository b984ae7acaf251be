#include "engine/runtime/grammar_recognizer.h"

#include <algorithm>
#include <unordered_map>

namespace llmux::grammar {

using Op = Grammar::Op;

bool Recognizer::SameChain(uint32_t a, uint32_t b) const {
  while (a != b) {
    if (a == kNone || b == kNone) return false;
    if (nodes_[a].pos != nodes_[b].pos) return false;
    a = nodes_[a].parent;
    b = nodes_[b].parent;
  }
  return true;
}

// Expands (pos, parent) until byte sets are on top; an explicit work list, so long chains of
// rules cannot exhaust the C++ stack. Terminates because the grammar has no left recursion.
void Recognizer::Expand(uint32_t pos, uint32_t parent, State& out) {
  work_.clear();
  work_.emplace_back(pos, parent);
  while (!work_.empty()) {
    const auto [p, par] = work_.back();
    work_.pop_back();
    const Grammar::Element& e = g_.elements[p];
    switch (e.op) {
      case Op::kBytes: {
        bool dup = false;
        for (uint32_t t : out.tops) {
          if (nodes_[t].pos == p && SameChain(nodes_[t].parent, par)) {
            dup = true;
            break;
          }
        }
        if (dup) break;
        if (out.tops.size() >= kMaxStacks) {
          exploded_ = true;
          break;
        }
        out.tops.push_back(static_cast<uint32_t>(nodes_.size()));
        nodes_.push_back(MakeNode(p, par));
        break;
      }
      case Op::kEnd:
        if (par == kNone) {
          out.accepting = true;
        } else {
          work_.emplace_back(nodes_[par].pos, nodes_[par].parent);
        }
        break;
      case Op::kRef: {
        uint32_t next_parent = par;
        if (g_.elements[p + 1].op != Op::kEnd) {  // a reference in tail position pushes nothing
          const uint32_t depth = par == kNone ? 1 : nodes_[par].depth + 1;
          if (depth > kMaxStackDepth) {
            exploded_ = true;
            break;
          }
          next_parent = static_cast<uint32_t>(nodes_.size());
          nodes_.push_back(MakeNode(p + 1, par));
        }
        const Grammar::Rule& rule = g_.rules[e.arg];
        for (uint32_t a = rule.n_alts; a-- > 0;) {
          work_.emplace_back(g_.alt_starts[rule.first_alt + a], next_parent);
        }
        break;
      }
    }
  }
}

bool Recognizer::Start(State& out) {
  out.Clear();
  exploded_ = false;
  const Grammar::Rule& rule = g_.rules[g_.root];
  for (uint32_t a = 0; a < rule.n_alts; ++a) {
    Expand(g_.alt_starts[rule.first_alt + a], kNone, out);
  }
  return !exploded_;
}

bool Recognizer::Step(const State& in, uint8_t b, State& out) {
  out.Clear();
  const bool was_exploded = exploded_;
  exploded_ = false;
  for (uint32_t t : in.tops) {
    const Node n = nodes_[t];
    if (!g_.byte_sets[g_.elements[n.pos].arg].Has(b)) continue;
    Expand(n.pos + 1, n.parent, out);
  }
  if (exploded_) {
    out.Clear();
    return false;
  }
  exploded_ = was_exploded;
  return !out.tops.empty() || out.accepting;
}

void Recognizer::Compact(State& s) {
  std::vector<Node> kept;
  std::unordered_map<uint32_t, uint32_t> renamed;
  std::vector<uint32_t> chain;
  for (uint32_t& top : s.tops) {
    // Copy the chain bottom-up so that parents get their new ids first.
    chain.clear();
    for (uint32_t n = top; n != kNone && !renamed.count(n); n = nodes_[n].parent)
      chain.push_back(n);
    for (size_t i = chain.size(); i-- > 0;) {
      Node n = nodes_[chain[i]];
      if (n.parent != kNone) n.parent = renamed.at(n.parent);
      renamed[chain[i]] = static_cast<uint32_t>(kept.size());
      kept.push_back(n);
    }
    top = renamed.at(top);
  }
  nodes_ = std::move(kept);
}

uint32_t Recognizer::Distance(const State& s, bool boundary_only) const {
  if (s.accepting && !boundary_only) return 0;
  uint32_t best = 0xFFFFFFFFu;
  for (uint32_t t : s.tops) {
    if (boundary_only && !g_.string_boundary[nodes_[t].pos]) continue;
    best = std::min(best, nodes_[t].rest);
  }
  return best;
}

bool Recognizer::SameState(const State& a, const State& b) const {
  if (a.accepting != b.accepting || a.tops.size() != b.tops.size()) return false;
  for (size_t i = 0; i < a.tops.size(); ++i) {
    if (!SameChain(a.tops[i], b.tops[i])) return false;
  }
  return true;
}

bool Recognizer::Key(const State& s, size_t max_len, std::vector<uint32_t>& key) const {
  key.clear();
  for (uint32_t t : s.tops) {
    if (key.size() + nodes_[t].depth + 1 > max_len) return false;
    for (uint32_t n = t; n != kNone; n = nodes_[n].parent) key.push_back(nodes_[n].pos);
    key.push_back(kNone);  // no element position is kNone
  }
  if (key.size() + 1 > max_len) return false;
  key.push_back(s.accepting ? 1 : 0);
  return true;
}

ByteSet Recognizer::NextBytes(const State& s) const {
  ByteSet all;
  for (uint32_t t : s.tops) {
    const ByteSet& b = g_.byte_sets[g_.elements[nodes_[t].pos].arg];
    for (int i = 0; i < 4; ++i) all.bits[i] |= b.bits[i];
  }
  return all;
}

bool Recognizer::TakesRun(const State& s, bool string_content, bool whole_chars,
                          const std::array<uint64_t, 4>* bytes, uint32_t longest,
                          uint32_t& rest) const {
  bool found = false;
  rest = 0xFFFFFFFFu;
  for (uint32_t t : s.tops) {
    const Node& n = nodes_[t];
    uint64_t room = 0, extra = 0;
    if (string_content && g_.string_boundary[n.pos] == Grammar::kBodyBoundary) {
      room = kUnbounded;
      extra = whole_chars ? 0 : 3;  // an unfinished UTF-8 character at the end
    } else if (string_content && g_.string_boundary[n.pos] == Grammar::kCharStart) {
      room = 1 + (n.parent == kNone ? 0 : uint64_t{g_.char_run_room[nodes_[n.parent].pos]});
      extra = whole_chars ? 0 : 3;
    } else if (bytes) {
      const ByteSet& set = g_.byte_sets[g_.elements[n.pos].arg];
      bool covered = true;
      for (int w = 0; w < 4; ++w) covered &= ((*bytes)[w] & ~set.bits[w]) == 0;
      if (covered) room = g_.run_room[n.pos];
    }
    if (room < longest) continue;
    found = true;
    rest = static_cast<uint32_t>(std::min<uint64_t>(rest, n.rest + extra));
  }
  return found;
}

uint32_t Recognizer::CharRoom(const State& s, uint32_t& rest) const {
  uint32_t room = 0, parent = kNone;
  bool first = true;
  for (uint32_t t : s.tops) {
    const Node& n = nodes_[t];
    if (TakesNone(n, kPlainStringBytes)) continue;  // e.g. the closing quote
    if (first) parent = n.parent;
    first = false;
    if (n.parent != parent) return 0;
    if (g_.string_boundary[n.pos] == Grammar::kCharStart) {
      room = 1 + (parent == kNone ? 0 : g_.char_run_room[nodes_[parent].pos]);
      rest = n.rest;
    }
  }
  return room;
}

uint32_t Recognizer::PlainRoom(const State& s, uint32_t& rest) const {
  uint32_t room = 0, parent = kNone;
  bool first = true;
  rest = 0;
  for (uint32_t t : s.tops) {
    const Node& n = nodes_[t];
    if (TakesNone(n, kPlainStringBytes)) continue;
    if (first) parent = n.parent;
    first = false;
    if (n.parent != parent) return 0;
    const uint8_t boundary = g_.string_boundary[n.pos];
    if (boundary == Grammar::kNotBoundary) continue;
    // The boundary's byte set takes one byte of a character; the rest is past the character.
    rest = std::max(rest, n.rest - 1);
    if (boundary == Grammar::kBodyBoundary) {
      room = kUnbounded;
    } else {
      const uint64_t chars =
          1 + uint64_t{parent == kNone ? 0 : g_.char_run_room[nodes_[parent].pos]};
      room = std::max(room, static_cast<uint32_t>(std::min<uint64_t>(chars, kUnbounded)));
    }
  }
  return room;
}

uint32_t Recognizer::FloorDistance(const State& s, const std::array<uint64_t, 4>& bytes) const {
  if (s.accepting) return 0;
  // Stacks that take none of the bytes die at once; the others must share one node.
  uint32_t parent = kNone;
  bool first = true;
  for (uint32_t t : s.tops) {
    if (TakesNone(nodes_[t], bytes)) continue;
    if (first) parent = nodes_[t].parent;
    first = false;
    if (nodes_[t].parent != parent) return 0;
  }
  if (first) return kUnbounded;  // no text of those bytes goes on at all
  // Up from the shared node to a byte set that takes none of the bytes: every stack keeps that
  // node (whatever the nodes above it do), so its distance stays.
  for (uint32_t n = parent, steps = 0; n != kNone && steps < 16; n = nodes_[n].parent, ++steps) {
    const Grammar::Element& e = g_.elements[nodes_[n].pos];
    if (e.op != Op::kBytes) continue;
    const ByteSet& set = g_.byte_sets[e.arg];
    bool disjoint = true;
    for (int w = 0; w < 4; ++w) disjoint &= (bytes[w] & set.bits[w]) == 0;
    if (disjoint) return nodes_[n].rest;
  }
  return 0;
}

bool Recognizer::AtStringBoundary(const State& s) const {
  for (uint32_t t : s.tops) {
    if (g_.string_boundary[nodes_[t].pos]) return true;
  }
  return false;
}

}  // namespace llmux::grammar
