#include "engine/tokenizer/bpe.h"

#include <algorithm>

#include "engine/tokenizer/unicode.h"

namespace llmux::tokenizer {
namespace {

// Heap order: lowest rank on top, then leftmost.
bool Later(const BpeModel::Scratch::Candidate& a, const BpeModel::Scratch::Candidate& b) {
  return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
}

}  // namespace

int32_t BpeModel::SymbolFor(std::string_view text, bool create) {
  const int32_t id = vocab_.Find(text);
  if (id >= 0) return id;
  int32_t extra = extra_.Find(text);
  if (extra < 0) {
    if (!create) return -1;
    extra = extra_.Add(text);
  }
  return vocab_.size() + extra;
}

std::string_view BpeModel::SymbolText(int32_t sym) const {
  return sym < vocab_.size() ? vocab_.text(sym) : extra_.text(sym - vocab_.size());
}

Result<std::unique_ptr<BpeModel>> BpeModel::Create(const Vocab& vocab) {
  std::unique_ptr<BpeModel> m(new BpeModel(vocab));
  const auto& merges = vocab.merges();
  if (merges.size() > static_cast<size_t>(INT32_MAX))
    return InvalidArgumentError("too many merges");
  m->merges_.Reserve(merges.size());
  std::string joined;
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string_view merge = merges[i];
    // Split at the first space after the first character, as llama.cpp does. A merge without
    // one, or with an empty side, can never apply.
    const size_t space = merge.find(' ', 1);
    if (space == std::string_view::npos || space + 1 >= merge.size()) continue;
    const std::string_view left = merge.substr(0, space);
    const std::string_view right = merge.substr(space + 1);
    joined.assign(left);
    joined.append(right);
    const int32_t a = m->SymbolFor(left, true);
    const int32_t b = m->SymbolFor(right, true);
    const int32_t r = m->SymbolFor(joined, true);
    m->merges_.InsertIfAbsent(a, b, {static_cast<int32_t>(i), r});  // the first rank wins
  }
  for (int b = 0; b < 256; ++b) {
    std::string text;
    AppendUtf8(ByteToGpt2Codepoint(static_cast<uint8_t>(b)), text);
    m->byte_sym_[b] = m->SymbolFor(text, false);
    m->byte_text_[b] = std::move(text);
  }
  return m;
}

void BpeModel::TryAddCandidate(Scratch& s, int32_t left) const {
  if (left < 0) return;
  const int32_t right = s.symbols[left].next;
  if (right < 0) return;
  const int32_t a = s.symbols[left].sym;
  const int32_t b = s.symbols[right].sym;
  if (a < 0 || b < 0) return;
  const PairMap::Value* merge = merges_.Find(a, b);
  if (merge == nullptr) return;
  s.heap.push_back({merge->a, left, a, b, merge->b});
  std::push_heap(s.heap.begin(), s.heap.end(), Later);
}

void BpeModel::EmitSymbol(const Scratch::Symbol& symbol, std::vector<int32_t>& out) const {
  if (symbol.sym >= 0 && symbol.sym < vocab_.size()) {
    out.push_back(symbol.sym);
    return;
  }
  // Not a token: llama.cpp emits the token of each single byte of the symbol's text, if any.
  const std::string_view text =
      symbol.sym >= 0 ? SymbolText(symbol.sym) : std::string_view(byte_text_[symbol.byte]);
  for (char c : text) {
    const int32_t id = vocab_.Find(std::string_view(&c, 1));
    if (id >= 0) out.push_back(id);
  }
}

void BpeModel::EncodeWord(std::string_view word, Scratch& s, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (vocab_.ignore_merges()) {
    s.encoded.clear();
    for (unsigned char c : word) s.encoded += byte_text_[c];
    const int32_t id = vocab_.Find(s.encoded);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  const int32_t n = static_cast<int32_t>(word.size());
  s.symbols.resize(n);
  for (int32_t i = 0; i < n; ++i) {
    const auto byte = static_cast<uint8_t>(word[i]);
    s.symbols[i] = {byte_sym_[byte], i - 1, i + 1 < n ? i + 1 : -1, byte, true};
  }
  s.heap.clear();
  for (int32_t i = 0; i + 1 < n; ++i) TryAddCandidate(s, i);

  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), Later);
    const Scratch::Candidate c = s.heap.back();
    s.heap.pop_back();
    auto& left = s.symbols[c.left];
    if (!left.alive || left.sym != c.left_sym || left.next < 0) continue;
    auto& right = s.symbols[left.next];
    if (right.sym != c.right_sym) continue;  // stale: a neighbour changed since it was queued
    left.sym = c.result;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) s.symbols[right.next].prev = c.left;
    TryAddCandidate(s, left.prev);
    TryAddCandidate(s, c.left);
  }
  for (int32_t i = 0; i >= 0; i = s.symbols[i].next) EmitSymbol(s.symbols[i], out);
}

}  // namespace llmux::tokenizer
