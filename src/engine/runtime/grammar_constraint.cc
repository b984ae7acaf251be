#include "engine/runtime/grammar_constraint.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <utility>
#include <vector>

#include "engine/runtime/grammar_recognizer.h"
#include "engine/runtime/token_bitset.h"

namespace llmux {

namespace {

using grammar::Recognizer;

class GrammarConstraint final : public TokenConstraint {
 public:
  GrammarConstraint(std::shared_ptr<const ConstraintVocab> vocab,
                    std::shared_ptr<const grammar::Grammar> g,
                    const std::vector<std::string>& special_texts, GrammarMaskOptions options)
      : vocab_(std::move(vocab)), grammar_(std::move(g)), rec_(*grammar_), options_(options) {
    if (!rec_.Start(state_)) failed_ = true;
    for (int32_t id : vocab_->special_ids()) {
      for (const std::string& text : special_texts) {
        if (!text.empty() && vocab_->piece(id) == text) specials_.push_back(id);
      }
    }
  }

  void Mask(std::span<float> logits) override;
  void Accept(int32_t token) override;
  bool Complete() const override { return !failed_ && state_.accepting; }
  void SetTokensLeft(int tokens) override { tokens_left_ = tokens; }

 private:
  // `from`: the memo_ entry that holds `s`, or kNoMemo.
  void Walk(uint32_t node, const Recognizer::State& s, size_t depth, uint32_t from);
  // The memo_ entry for `byte` from entry `from` (whose state is `s`), stepped if new; kNoMemo
  // when memo_ is full (it holds options_.walk_memo_entries, at least the root).
  uint32_t StepMemo(uint32_t from, const Recognizer::State& s, uint8_t byte);
  // Steps the recognizer over a token's text; false if the grammar refuses a byte.
  bool StepText(std::string_view text, Recognizer::State& out);
  bool IsAllowedSpecial(int32_t id) const {
    for (int32_t s : specials_) {
      if (s == id) return true;
    }
    return false;
  }
  void TakeByChars(uint32_t node, uint32_t chars_left);
  // A token after which `distance` bytes complete the text fits the budget: this token, the
  // distance (one byte per token at worst) and the end of generation. Notes the budgets that
  // give the same answer, so that a saved mask is reused only under those.
  bool Fits(uint64_t distance) {
    const uint64_t need = distance + 2;
    const bool ok = need <= static_cast<uint64_t>(tokens_left_);
    if (ok) {
      same_from_ = std::max(same_from_, need);
    } else {
      same_below_ = std::min(same_below_, need);
    }
    return ok;
  }
  // What the grammar allows from state_ (not end of generation), saved or computed into a slot.
  struct SavedMask;
  SavedMask& AllowedNow();
  void ComputeAllowed(SavedMask& out);
  void AddRanks(uint32_t begin, uint32_t end) {
    if (!ranges_.empty() && ranges_.back().second == begin) {
      ranges_.back().second = end;
    } else {
      ranges_.emplace_back(begin, end);
    }
  }

  std::shared_ptr<const ConstraintVocab> vocab_;
  std::shared_ptr<const grammar::Grammar> grammar_;
  Recognizer rec_;
  Recognizer::State state_;
  // Walk states by the masks that led to them (see Walk); one walk's worth, entries reused.
  struct Memo {
    bool ok = false;
    Recognizer::State state;
    std::vector<std::pair<uint64_t, uint32_t>> next;  // (AcceptMask, entry) stepped from here
  };
  static constexpr uint32_t kNoMemo = 0xFFFFFFFFu;
  static constexpr size_t kMaxMemoNodes = size_t{1} << 18;  // 4 MiB of recognizer nodes
  size_t walk_start_ = 0;                                   // rec_.Mark() when the walk began
  std::deque<Memo> memo_;                                   // stable addresses while it grows
  size_t memo_used_ = 0;
  std::deque<Recognizer::State> alone_;  // per trie depth: a state stepped without memo_
  bool failed_ = false;
  bool ended_ = false;
  int tokens_left_ = -1;   // unknown
  bool budgeted_ = false;  // this mask keeps completion within tokens_left_
  std::vector<std::pair<uint32_t, uint32_t>> ranges_;
  std::vector<int32_t> specials_;  // special tokens that may spell their text

  // The masks of the last few states, by Recognizer::Key: inside a string or a run of a byte
  // set the state repeats from token to token, and a repeated state's mask is not walked again.
  // A mask made under a budget is reused under budgets for which every Fits check of its walk
  // answers the same (the walk then goes the same way); one made without a budget, or where
  // every check held, serves steps without a budget.
  struct SavedMask {
    std::vector<uint32_t> key;  // empty: not saved
    bool budgeted = false;
    uint64_t same_from = 0;                  // budgeted: tokens_left_ in [same_from,
    uint64_t same_below = kNoBudgetRefused;  // same_below) gives this mask
    bool any = false;                        // some token allowed
    uint64_t last_used = 0;
    TokenBitset allowed;
  };
  static constexpr uint64_t kNoBudgetRefused = ~uint64_t{0};
  static constexpr size_t kSavedMasks = 8;
  static constexpr size_t kMaxKeyLength = 4096;
  GrammarMaskOptions options_;
  const TokenTrie* trie_ = nullptr;  // the one being walked
  std::vector<SavedMask> saved_;
  SavedMask scratch_;  // a state whose key is too long
  std::vector<uint32_t> key_;
  uint64_t clock_ = 0;
  uint64_t same_from_ = 0;  // the budgets that answer every Fits check of this walk alike
  uint64_t same_below_ = kNoBudgetRefused;
  TokenBitset eog_only_;  // after failing or ending
  std::vector<int32_t> eog_added_;
};

// Bytes with the same AcceptMask step a state to the same state, so the walk keeps the states
// it steps to by the masks of the bytes that led there from its start (memo_): sibling bytes,
// and every path with the same masks ("ab" and "cd" inside a string, any indentation inside
// a counted run of whitespace), share one step. A byte that leaves the state as it was (an
// unbounded run going on) leads back to the same entry. Past walk_memo_entries, or where a state
// has more stacks than a mask holds, a child is stepped alone and undone after its subtree.
void GrammarConstraint::Walk(uint32_t node, const Recognizer::State& s, size_t depth,
                             uint32_t from) {
  const std::span<const TokenTrie::Node> nodes = trie_->nodes();
  const std::span<const uint8_t> child_bytes = trie_->child_bytes();
  const std::span<const uint32_t> child_nodes = trie_->child_nodes();
  const grammar::ByteSet next = rec_.NextBytes(s);
  const bool memoize = from != kNoMemo && s.tops.size() <= 64;
  for (uint32_t j = trie_->ChildBegin(node), end = trie_->ChildBegin(node + 1); j < end; ++j) {
    if (!next.Has(child_bytes[j])) continue;
    const uint32_t c = child_nodes[j];
    const TokenTrie::Node& n = nodes[c];
    const uint32_t k = memoize ? StepMemo(from, s, n.byte) : kNoMemo;
    const size_t mark = rec_.Mark();
    bool ok;
    const Recognizer::State* stepped;
    if (k != kNoMemo) {
      ok = memo_[k].ok;
      stepped = &memo_[k].state;
    } else {
      if (alone_.size() <= depth) alone_.resize(depth + 1);
      ok = rec_.Step(s, n.byte, alone_[depth]);
      stepped = &alone_[depth];
    }
    const Recognizer::State& t = *stepped;
    if (ok) {
      // A subtree that some stack takes whole (string content or a run of a byte set, with
      // room for its longest token) is not walked.
      const bool string_below = n.flags & TokenTrie::kStringContentBelow;
      const std::array<uint64_t, 4>* below = trie_->BytesBelow(c);
      uint32_t rest = 0, room = 0;
      if ((string_below || below) &&
          rec_.TakesRun(t, string_below, n.flags & TokenTrie::kWholeCharsBelow, below,
                        trie_->LongestBelow(c), rest) &&
          (!budgeted_ || Fits(rest))) {
        AddRanks(n.first_rank, trie_->RankEnd(c));
      } else if (string_below && (room = rec_.CharRoom(t, rest)) > 0 &&
                 (!budgeted_ || Fits(rest + ((n.flags & TokenTrie::kWholeCharsBelow) ? 0 : 3)))) {
        // Only the characters left in a bounded string: count them instead of stepping.
        TakeByChars(c, room);
      } else if (budgeted_ && (string_below || below) &&
                 !Fits(rec_.FloorDistance(t, string_below ? grammar::kPlainStringBytes : *below))) {
        // Steering to the end: nothing below this node gets near enough.
        if (n.here && Fits(rec_.Distance(t))) AddRanks(n.first_rank, n.first_rank + n.here);
      } else {
        if (n.here && (!budgeted_ || Fits(rec_.Distance(t)))) {
          AddRanks(n.first_rank, n.first_rank + n.here);
        }
        if (n.subtree_end > c + 1) Walk(c, t, depth + 1, k);
      }
    }
    if (k == kNoMemo) rec_.Rollback(mark);
  }
}

uint32_t GrammarConstraint::StepMemo(uint32_t from, const Recognizer::State& s, uint8_t byte) {
  const uint64_t mask = rec_.AcceptMask(s, byte);
  for (const auto& [m, k] : memo_[from].next) {
    if (m == mask) return k;
  }
  // The memo's states keep their recognizer nodes until the walk ends: bounded in entries and
  // in nodes (a hostile grammar can make one step push hundreds of thousands of them).
  if (memo_used_ >= options_.walk_memo_entries || rec_.Mark() - walk_start_ > kMaxMemoNodes) {
    return kNoMemo;
  }
  if (memo_used_ == memo_.size()) memo_.emplace_back();
  uint32_t k = static_cast<uint32_t>(memo_used_++);
  Memo& e = memo_[k];
  e.next.clear();
  e.ok = rec_.Step(s, byte, e.state);
  if (e.ok && rec_.SameState(e.state, s)) {
    --memo_used_;
    k = from;
  }
  memo_[from].next.emplace_back(mask, k);
  return k;
}

// The tokens below `node` (plain string content) with at most `chars_left` characters after the
// node: a character starts at every byte that is not a continuation byte (one cut short at the
// end counts). One scan of the subtree's ranks against their character counts; walking the
// subtree instead visited most of the trie near the end of a bounded string.
void GrammarConstraint::TakeByChars(uint32_t node, uint32_t chars_left) {
  const uint32_t begin = trie_->nodes()[node].first_rank, end = trie_->RankEnd(node);
  if (trie_->LongestBelow(node) <= chars_left) {  // bytes bound characters
    AddRanks(begin, end);
    return;
  }
  const uint32_t limit = trie_->NodeChars(node) + chars_left;
  const std::span<const uint16_t> chars = trie_->rank_chars();
  for (uint32_t r = begin; r < end;) {
    while (r < end && chars[r] > limit) ++r;
    const uint32_t run = r;
    while (r < end && chars[r] <= limit) ++r;
    if (r > run) AddRanks(run, r);
  }
}

GrammarConstraint::SavedMask& GrammarConstraint::AllowedNow() {
  if (!options_.reuse_masks || !rec_.Key(state_, kMaxKeyLength, key_)) {
    ComputeAllowed(scratch_);
    return scratch_;
  }
  ++clock_;
  SavedMask* slot = nullptr;
  for (SavedMask& m : saved_) {
    if (m.key == key_) {
      slot = &m;
      break;
    }
  }
  const uint64_t left = static_cast<uint64_t>(tokens_left_);
  if (slot != nullptr &&
      (budgeted_ ? slot->budgeted && slot->same_from <= left && left < slot->same_below
                 : !slot->budgeted || slot->same_below == kNoBudgetRefused)) {
    slot->last_used = clock_;
    return *slot;
  }
  if (slot == nullptr) {
    if (saved_.size() < kSavedMasks) {
      slot = &saved_.emplace_back();
    } else {
      slot = &*std::min_element(
          saved_.begin(), saved_.end(),
          [](const SavedMask& a, const SavedMask& b) { return a.last_used < b.last_used; });
    }
  }
  ComputeAllowed(*slot);
  slot->last_used = clock_;
  slot->key = key_;
  return *slot;
}

void GrammarConstraint::ComputeAllowed(SavedMask& out) {
  same_from_ = 0;
  same_below_ = kNoBudgetRefused;
  ranges_.clear();
  // Inside a string, every token of plain content ending with a whole character that fits the
  // room is allowed (and, where the budget leaves room for the string's end, completes in
  // time): those come as a set, and the walk is over the other tokens.
  uint32_t room = 0, rest = 0;
  out.any = false;
  if (options_.plain_string_sets && (room = rec_.PlainRoom(state_, rest)) > 0 &&
      (!budgeted_ || Fits(rest))) {
    out.any = vocab_->plain_strings().Fill(room, out.allowed);
    trie_ = &vocab_->non_plain_trie();
  } else {
    out.allowed.Reset(vocab_->n_vocab());
    trie_ = &vocab_->trie();
  }
  const size_t mark = rec_.Mark();
  walk_start_ = mark;
  if (memo_.empty()) memo_.emplace_back();
  memo_[0].ok = true;
  memo_[0].state = state_;
  memo_[0].next.clear();
  memo_used_ = 1;
  Walk(0, memo_[0].state, 0, 0);
  rec_.Rollback(mark);
  const std::span<const int32_t> ids = trie_->ranked_ids();
  for (const auto& [begin, end] : ranges_) {
    for (uint32_t r = begin; r < end; ++r) out.allowed.Set(ids[r]);
  }
  out.any = out.any || !ranges_.empty();
  for (int32_t id : specials_) {
    Recognizer::State t;
    const size_t mark = rec_.Mark();
    if (StepText(vocab_->piece(id), t) && (!budgeted_ || Fits(rec_.Distance(t)))) {
      out.allowed.Set(id);
      out.any = true;
    }
    rec_.Rollback(mark);
  }
  out.budgeted = budgeted_;
  out.same_from = same_from_;
  out.same_below = same_below_;
}

void GrammarConstraint::Mask(std::span<float> logits) {
  TokenBitset* allowed = &eog_only_;
  if (!failed_ && !ended_) {
    budgeted_ =
        tokens_left_ >= 0 && static_cast<int64_t>(rec_.Distance(state_)) + 1 <= tokens_left_;
    SavedMask& now = AllowedNow();
    if (!now.any && !state_.accepting) failed_ = true;
    // The saved set serves this pass too: end of generation is added and taken off again.
    allowed = &now.allowed;
  }
  if (allowed == &eog_only_) eog_only_.Reset(vocab_->n_vocab());
  eog_added_.clear();
  if (failed_ || ended_ || state_.accepting) {
    for (int32_t id : vocab_->eog_ids()) {
      if (!allowed->Has(id)) {
        allowed->Set(id);
        eog_added_.push_back(id);
      }
    }
  }
  allowed->MaskLogits(logits);
  for (int32_t id : eog_added_) allowed->Clear(id);
}

void GrammarConstraint::Accept(int32_t token) {
  if (vocab_->is_eog(token)) {
    if (failed_ || ended_) return;
    if (state_.accepting) {
      ended_ = true;
    } else {
      failed_ = true;
    }
    return;
  }
  const std::string_view piece = vocab_->piece(token);
  if (failed_ || ended_ || piece.empty() ||
      (vocab_->is_special(token) && !IsAllowedSpecial(token))) {
    failed_ = true;
    return;
  }
  Recognizer::State next;
  if (!StepText(piece, next)) {
    failed_ = true;
    return;
  }
  state_ = std::move(next);
  rec_.Compact(state_);
}

bool GrammarConstraint::StepText(std::string_view text, Recognizer::State& out) {
  Recognizer::State a = state_, b;
  for (char c : text) {
    if (!rec_.Step(a, static_cast<uint8_t>(c), b)) return false;
    std::swap(a, b);
  }
  out = std::move(a);
  return true;
}

}  // namespace

std::unique_ptr<TokenConstraint> MakeGrammarConstraint(
    std::shared_ptr<const ConstraintVocab> vocab, std::shared_ptr<const grammar::Grammar> g,
    const std::vector<std::string>& special_texts, GrammarMaskOptions options) {
  return std::make_unique<GrammarConstraint>(std::move(vocab), std::move(g), special_texts,
                                             options);
}

}  // namespace llmux
