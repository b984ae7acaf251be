#include "engine/runtime/token_constraint.h"

#include <cmath>
#include <string_view>
#include <utility>

#include "engine/runtime/json_machine.h"
#include "engine/runtime/token_bitset.h"

namespace llmux {

namespace {

using constraint::IsJsonWhitespace;
using constraint::JsonState;
using Kind = ConstraintSegment::Kind;

// The alternatives of a choice segment as a byte trie.
class ChoiceTrie {
 public:
  explicit ChoiceTrie(const std::vector<std::string>& options) : nodes_(1) {
    for (const std::string& option : options) {
      uint32_t node = 0;
      for (char c : option) {
        const uint8_t b = static_cast<uint8_t>(c);
        int32_t next = Child(node, b);
        if (next < 0) {
          next = static_cast<int32_t>(nodes_.size());
          nodes_[node].next.emplace_back(b, next);
          nodes_.emplace_back();
        }
        node = static_cast<uint32_t>(next);
      }
      nodes_[node].terminal = true;
    }
  }

  int32_t Child(uint32_t node, uint8_t b) const {
    for (const auto& [byte, next] : nodes_[node].next) {
      if (byte == b) return static_cast<int32_t>(next);
    }
    return -1;
  }
  bool Terminal(uint32_t node) const { return nodes_[node].terminal; }
  // True if some option ends where a longer one goes on with a byte in `bytes`.
  bool ContinuesWithAny(const std::vector<bool>& bytes) const {
    for (const Node& n : nodes_) {
      if (!n.terminal) continue;
      for (const auto& [byte, next] : n.next) {
        if (bytes[byte]) return true;
      }
    }
    return false;
  }
  std::vector<bool> FirstBytes() const {
    std::vector<bool> bytes(256, false);
    for (const auto& [byte, next] : nodes_[0].next) bytes[byte] = true;
    return bytes;
  }

 private:
  struct Node {
    std::vector<std::pair<uint8_t, uint32_t>> next;
    bool terminal = false;
  };
  std::vector<Node> nodes_;
};

struct Segment {
  Kind kind;
  std::string literal;
  ChoiceTrie choice;
};

struct SeqState {
  JsonState json;
  uint32_t pos = 0;  // literal: bytes matched; choice: trie node
  uint16_t seg = 0;  // current segment; == number of segments: in the trailing whitespace
  uint8_t trailing = 0;
};

enum class StepResult { kReject, kByLiteral, kByOther };

class SequenceConstraint final : public TokenConstraint {
 public:
  SequenceConstraint(std::shared_ptr<const ConstraintVocab> vocab, std::vector<Segment> segments,
                     int trailing_whitespace)
      : vocab_(std::move(vocab)),
        segments_(std::move(segments)),
        trailing_limit_(trailing_whitespace) {}

  void Mask(std::span<float> logits) override;
  void Accept(int32_t token) override;
  bool Complete() const override { return !failed_ && IsComplete(state_); }

 private:
  StepResult Step(SeqState& s, uint8_t b) const;
  bool IsComplete(const SeqState& s) const;
  bool InPlainString(const SeqState& s) const {
    return s.seg < segments_.size() && segments_[s.seg].kind == Kind::kJsonObject &&
           constraint::JsonInPlainString(s.json);
  }
  bool SpecialAllowed(std::string_view piece) const;
  void Walk(uint32_t node, const SeqState& s);
  void AddRanks(uint32_t begin, uint32_t end) {
    if (!ranges_.empty() && ranges_.back().second == begin) {
      ranges_.back().second = end;
    } else {
      ranges_.emplace_back(begin, end);
    }
  }

  std::shared_ptr<const ConstraintVocab> vocab_;
  std::vector<Segment> segments_;
  int trailing_limit_;
  SeqState state_;
  bool failed_ = false;                                // a token that was not allowed was accepted
  bool ended_ = false;                                 // an end-of-generation token was accepted
  std::vector<std::pair<uint32_t, uint32_t>> ranges_;  // allowed ranks, reused
  TokenBitset allowed_;                                // reused
};

StepResult SequenceConstraint::Step(SeqState& s, uint8_t b) const {
  for (;;) {
    if (s.seg >= segments_.size()) {
      if (!IsJsonWhitespace(b) || s.trailing >= trailing_limit_) return StepResult::kReject;
      ++s.trailing;
      return StepResult::kByOther;
    }
    const Segment& g = segments_[s.seg];
    switch (g.kind) {
      case Kind::kLiteral:
        if (s.pos < g.literal.size()) {
          if (static_cast<uint8_t>(g.literal[s.pos]) != b) return StepResult::kReject;
          ++s.pos;
          return StepResult::kByLiteral;
        }
        break;
      case Kind::kChoice: {
        const int32_t next = g.choice.Child(s.pos, b);
        if (next >= 0) {
          s.pos = static_cast<uint32_t>(next);
          return StepResult::kByOther;
        }
        if (!g.choice.Terminal(s.pos)) return StepResult::kReject;
        break;
      }
      case Kind::kJsonObject:
        if (!constraint::JsonComplete(s.json)) {
          return constraint::JsonStep(s.json, b) ? StepResult::kByOther : StepResult::kReject;
        }
        break;
    }
    // The segment is finished: the byte belongs to the next one.
    ++s.seg;
    s.pos = 0;
    s.json = JsonState{};
  }
}

bool SequenceConstraint::IsComplete(const SeqState& s) const {
  if (s.seg >= segments_.size()) return true;
  if (s.seg + 1u != segments_.size()) return false;
  const Segment& g = segments_[s.seg];
  switch (g.kind) {
    case Kind::kLiteral:
      return s.pos == g.literal.size();
    case Kind::kChoice:
      return g.choice.Terminal(s.pos);
    case Kind::kJsonObject:
      return constraint::JsonComplete(s.json);
  }
  return false;
}

// A special token may only spell out literal text, byte for byte.
bool SequenceConstraint::SpecialAllowed(std::string_view piece) const {
  SeqState s = state_;
  for (char c : piece) {
    if (Step(s, static_cast<uint8_t>(c)) != StepResult::kByLiteral) return false;
  }
  return true;
}

// Depth-first over the token trie: a rejected byte drops the whole subtree, and inside a JSON
// string a subtree of plain string content is taken whole.
void SequenceConstraint::Walk(uint32_t node, const SeqState& s) {
  const std::span<const TokenTrie::Node> nodes = vocab_->trie().nodes();
  const uint32_t end = nodes[node].subtree_end;
  for (uint32_t c = node + 1; c < end; c = nodes[c].subtree_end) {
    const TokenTrie::Node& n = nodes[c];
    SeqState t = s;
    if (Step(t, n.byte) == StepResult::kReject) continue;
    if ((n.flags & TokenTrie::kStringContentBelow) && InPlainString(t)) {
      AddRanks(n.first_rank, vocab_->trie().RankEnd(c));
      continue;
    }
    if (n.here) AddRanks(n.first_rank, n.first_rank + n.here);
    if (n.subtree_end > c + 1) Walk(c, t);
  }
}

void SequenceConstraint::Mask(std::span<float> logits) {
  allowed_.Reset(vocab_->n_vocab());
  if (!failed_ && !ended_) {
    ranges_.clear();
    Walk(0, state_);
    const std::span<const int32_t> ids = vocab_->trie().ranked_ids();
    for (const auto& [begin, end] : ranges_) {
      for (uint32_t r = begin; r < end; ++r) allowed_.Set(ids[r]);
    }
    bool any = !ranges_.empty();
    for (int32_t id : vocab_->special_ids()) {
      if (SpecialAllowed(vocab_->piece(id))) {
        allowed_.Set(id);
        any = true;
      }
    }
    // A vocabulary without single-byte tokens can leave no way on; end rather than sample a
    // token that breaks the text.
    if (!any && !IsComplete(state_)) failed_ = true;
  }
  if (failed_ || ended_ || IsComplete(state_)) {
    for (int32_t id : vocab_->eog_ids()) allowed_.Set(id);
  }
  allowed_.MaskLogits(logits);
}

void SequenceConstraint::Accept(int32_t token) {
  if (vocab_->is_eog(token)) {
    if (failed_ || ended_) return;
    if (IsComplete(state_)) {
      ended_ = true;
    } else {
      failed_ = true;
    }
    return;
  }
  const std::string_view piece = vocab_->piece(token);
  if (failed_ || ended_ || piece.empty()) {
    failed_ = true;
    return;
  }
  const bool special = vocab_->is_special(token);
  SeqState s = state_;
  for (char c : piece) {
    const StepResult r = Step(s, static_cast<uint8_t>(c));
    if (r == StepResult::kReject || (special && r != StepResult::kByLiteral)) {
      failed_ = true;
      return;
    }
  }
  state_ = s;
}

// Bytes that can start segment i (or the trailing whitespace when i is past the end).
std::vector<bool> FirstBytes(const std::vector<Segment>& segments, size_t i, int trailing) {
  std::vector<bool> bytes(256, false);
  const auto whitespace = [&bytes] {
    for (uint8_t b : {' ', '\t', '\n', '\r'}) bytes[b] = true;
  };
  if (i >= segments.size()) {
    if (trailing > 0) whitespace();
    return bytes;
  }
  switch (segments[i].kind) {
    case Kind::kLiteral:
      bytes[static_cast<uint8_t>(segments[i].literal[0])] = true;
      break;
    case Kind::kChoice:
      return segments[i].choice.FirstBytes();
    case Kind::kJsonObject:
      whitespace();
      bytes['{'] = true;
      break;
  }
  return bytes;
}

void AppendJsonEscaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : text) {
    const uint8_t b = static_cast<uint8_t>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (b < 0x20) {
      out += "\\u00";
      out += kHex[b >> 4];
      out += kHex[b & 15];
    } else {
      out += c;
    }
  }
}

}  // namespace

ConstraintSegment ConstraintSegment::Literal(std::string text) {
  ConstraintSegment s;
  s.kind = Kind::kLiteral;
  s.options.push_back(std::move(text));
  return s;
}

ConstraintSegment ConstraintSegment::Choice(std::vector<std::string> options) {
  ConstraintSegment s;
  s.kind = Kind::kChoice;
  s.options = std::move(options);
  return s;
}

ConstraintSegment ConstraintSegment::JsonObject() {
  ConstraintSegment s;
  s.kind = Kind::kJsonObject;
  return s;
}

Result<std::unique_ptr<TokenConstraint>> MakeSequenceConstraint(
    std::shared_ptr<const ConstraintVocab> vocab, std::vector<ConstraintSegment> segments,
    int trailing_whitespace) {
  if (!vocab) return InvalidArgumentError("constraint: no vocabulary");
  if (trailing_whitespace < 0 || trailing_whitespace > 255) {
    return InvalidArgumentError("constraint: trailing whitespace must be in 0..255");
  }
  std::vector<Segment> compiled;
  for (ConstraintSegment& seg : segments) {
    switch (seg.kind) {
      case Kind::kLiteral:
        if (seg.options.size() != 1) {
          return InvalidArgumentError("constraint: a literal segment needs exactly one text");
        }
        if (seg.options[0].empty()) continue;  // matches nothing: drop it
        compiled.push_back({Kind::kLiteral, std::move(seg.options[0]), ChoiceTrie({})});
        break;
      case Kind::kChoice:
        if (seg.options.empty()) return InvalidArgumentError("constraint: a choice has no options");
        for (const std::string& option : seg.options) {
          if (option.empty())
            return InvalidArgumentError("constraint: a choice has an empty option");
        }
        compiled.push_back({Kind::kChoice, {}, ChoiceTrie(seg.options)});
        break;
      case Kind::kJsonObject:
        compiled.push_back({Kind::kJsonObject, {}, ChoiceTrie({})});
        break;
    }
  }
  if (compiled.size() >= 0xFFFF) return InvalidArgumentError("constraint: too many segments");
  for (size_t i = 0; i < compiled.size(); ++i) {
    if (compiled[i].kind != Kind::kChoice) continue;
    if (compiled[i].choice.ContinuesWithAny(FirstBytes(compiled, i + 1, trailing_whitespace))) {
      return InvalidArgumentError(
          "constraint: a choice option is a prefix of another that goes on with a byte that "
          "could also start what follows the choice");
    }
  }
  return std::unique_ptr<TokenConstraint>(
      new SequenceConstraint(std::move(vocab), std::move(compiled), trailing_whitespace));
}

Result<std::unique_ptr<TokenConstraint>> MakeSequenceConstraint(
    const Tokenizer& tokenizer, std::vector<ConstraintSegment> segments, int trailing_whitespace) {
  return MakeSequenceConstraint(ConstraintVocab::Build(tokenizer), std::move(segments),
                                trailing_whitespace);
}

std::unique_ptr<TokenConstraint> MakeJsonObjectConstraint(
    std::shared_ptr<const ConstraintVocab> vocab) {
  std::vector<Segment> segments;
  segments.push_back({Kind::kJsonObject, {}, ChoiceTrie({})});
  return std::make_unique<SequenceConstraint>(std::move(vocab), std::move(segments),
                                              kJsonTrailingWhitespace);
}

std::unique_ptr<TokenConstraint> MakeJsonObjectConstraint(const Tokenizer& tokenizer) {
  return MakeJsonObjectConstraint(ConstraintVocab::Build(tokenizer));
}

std::vector<ConstraintSegment> ToolCallSegments(std::vector<std::string> names) {
  // Names go inside a JSON string: escaped, so that the call parses back to the same name.
  for (std::string& name : names) {
    std::string escaped;
    AppendJsonEscaped(escaped, name);
    name = std::move(escaped);
  }
  std::vector<ConstraintSegment> segments;
  segments.push_back(ConstraintSegment::Literal("<tool_call>\n{\"name\": \""));
  segments.push_back(ConstraintSegment::Choice(std::move(names)));
  segments.push_back(ConstraintSegment::Literal("\", \"arguments\": "));
  segments.push_back(ConstraintSegment::JsonObject());
  segments.push_back(ConstraintSegment::Literal("}\n</tool_call>"));
  return segments;
}

}  // namespace llmux
