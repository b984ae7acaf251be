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

ByteSet Recognizer::NextBytes(const State& s) const {
  ByteSet all;
  for (uint32_t t : s.tops) {
    const ByteSet& b = g_.byte_sets[g_.elements[nodes_[t].pos].arg];
    for (int i = 0; i < 4; ++i) all.bits[i] |= b.bits[i];
  }
  return all;
}

bool Recognizer::AtStringBoundary(const State& s) const {
  for (uint32_t t : s.tops) {
    if (g_.string_boundary[nodes_[t].pos]) return true;
  }
  return false;
}

}  // namespace llmux::grammar
