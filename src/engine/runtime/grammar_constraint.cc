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
                    const std::vector<std::string>& special_texts, bool reuse_masks)
      : vocab_(std::move(vocab)),
        grammar_(std::move(g)),
        rec_(*grammar_),
        reuse_masks_(reuse_masks) {
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
  void Walk(uint32_t node, const Recognizer::State& s, size_t depth);
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
  struct Memo {
    uint64_t mask = 0;  // Recognizer::AcceptMask of the bytes that lead here
    bool ok = false;
    Recognizer::State state;
  };
  std::deque<std::vector<Memo>> levels_;  // walk states per trie depth, reused (stable addresses)
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
  bool reuse_masks_;
  std::vector<SavedMask> saved_;
  SavedMask scratch_;  // a state whose key is too long
  std::vector<uint32_t> key_;
  uint64_t clock_ = 0;
  uint64_t same_from_ = 0;  // the budgets that answer every Fits check of this walk alike
  uint64_t same_below_ = kNoBudgetRefused;
  TokenBitset eog_only_;  // after failing or ending
  std::vector<int32_t> eog_added_;
};

// Sibling bytes that the same stacks take lead to the same state (AcceptMask): each distinct
// state is stepped to once per node and kept until the node's children are done.
void GrammarConstraint::Walk(uint32_t node, const Recognizer::State& s, size_t depth) {
  if (levels_.size() <= depth) levels_.resize(depth + 1);
  std::vector<Memo>& memo = levels_[depth];
  size_t used = 0;
  const size_t start = rec_.Mark();
  const std::span<const ConstraintVocab::Node> nodes = vocab_->nodes();
  const uint32_t end = nodes[node].subtree_end;
  const grammar::ByteSet next = rec_.NextBytes(s);
  const bool memoize = s.tops.size() <= 64;
  for (uint32_t c = node + 1; c < end; c = nodes[c].subtree_end) {
    const ConstraintVocab::Node& n = nodes[c];
    if (!next.Has(n.byte)) continue;
    const uint64_t mask = memoize ? rec_.AcceptMask(s, n.byte) : 0;
    size_t i = 0;
    while (i < used && !(memoize && memo[i].mask == mask)) ++i;
    if (i == used) {
      if (!memoize) rec_.Rollback(start);  // one state at a time
      if (used == memo.size()) memo.emplace_back();
      if (memoize || used == 0) ++used;
      i = used - 1;
      memo[i].mask = mask;
      memo[i].ok = rec_.Step(s, n.byte, memo[i].state);
    }
    const Recognizer::State& t = memo[i].state;
    if (memo[i].ok) {
      // A subtree that some stack takes whole (string content or a run of a byte set, with
      // room for its longest token) is not walked.
      const bool string_below = n.flags & ConstraintVocab::kStringContentBelow;
      const std::array<uint64_t, 4>* below = vocab_->BytesBelow(c);
      uint32_t rest = 0, room = 0;
      if ((string_below || below) &&
          rec_.TakesRun(t, string_below, n.flags & ConstraintVocab::kWholeCharsBelow, below,
                        vocab_->LongestBelow(c), rest) &&
          (!budgeted_ || Fits(rest))) {
        AddRanks(n.first_rank, vocab_->RankEnd(c));
      } else if (string_below && (room = rec_.CharRoom(t, rest)) > 0 &&
                 (!budgeted_ ||
                  Fits(rest + ((n.flags & ConstraintVocab::kWholeCharsBelow) ? 0 : 3)))) {
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
        if (n.subtree_end > c + 1) Walk(c, t, depth + 1);
      }
    }
    if (!memoize) used = 0;  // not reusable: step again for the next sibling
  }
  rec_.Rollback(start);
}

// The tokens below `node` (plain string content) with at most `chars_left` characters after the
// node: a character starts at every byte that is not a continuation byte (one cut short at the
// end counts). One scan of the subtree's ranks against their character counts; walking the
// subtree instead visited most of the trie near the end of a bounded string.
void GrammarConstraint::TakeByChars(uint32_t node, uint32_t chars_left) {
  const uint32_t begin = vocab_->nodes()[node].first_rank, end = vocab_->RankEnd(node);
  if (vocab_->LongestBelow(node) <= chars_left) {  // bytes bound characters
    AddRanks(begin, end);
    return;
  }
  const uint32_t limit = vocab_->NodeChars(node) + chars_left;
  const std::span<const uint16_t> chars = vocab_->rank_chars();
  for (uint32_t r = begin; r < end;) {
    while (r < end && chars[r] > limit) ++r;
    const uint32_t run = r;
    while (r < end && chars[r] <= limit) ++r;
    if (r > run) AddRanks(run, r);
  }
}

GrammarConstraint::SavedMask& GrammarConstraint::AllowedNow() {
  if (!reuse_masks_ || !rec_.Key(state_, kMaxKeyLength, key_)) {
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
  Walk(0, state_, 0);
  out.allowed.Reset(vocab_->n_vocab());
  const std::span<const int32_t> ids = vocab_->ranked_ids();
  for (const auto& [begin, end] : ranges_) {
    for (uint32_t r = begin; r < end; ++r) out.allowed.Set(ids[r]);
  }
  out.any = !ranges_.empty();
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
    const std::vector<std::string>& special_texts, bool reuse_masks) {
  return std::make_unique<GrammarConstraint>(std::move(vocab), std::move(g), special_texts,
                                             reuse_masks);
}

}  // namespace llmux
