#include "serving/gbnf.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/tokenizer/unicode.h"

namespace llmux::serving {

namespace {

using grammar::Alt;
using grammar::Byte;
using grammar::Bytes;
using grammar::ByteSet;
using grammar::Expr;
using grammar::GrammarBuilder;
using grammar::kUnbounded;
using grammar::Range;
using grammar::Ref;
using grammar::Repeat;
using grammar::Seq;

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr uint32_t kMaxGbnfRepeat = 4096;

std::string EncodeUtf8(uint32_t cp) {
  std::string out;
  tokenizer::AppendUtf8(cp, out);
  return out;
}

// The byte sequences between two UTF-8 encodings of the same length (UTF-8 keeps code point
// order, so these are exactly the code points between): like decimal ranges in base 64.
Expr EncodedRange(std::string_view lo, std::string_view hi) {
  const auto b = [](char c) { return static_cast<uint8_t>(c); };
  if (lo.size() == 1) return Range(b(lo[0]), b(hi[0]));
  if (lo[0] == hi[0]) return Seq({Byte(b(lo[0])), EncodedRange(lo.substr(1), hi.substr(1))});
  const size_t rest = lo.size() - 1;
  const std::string top(rest, '\xBF'), bottom(rest, '\x80');
  std::vector<Expr> alts;
  uint8_t mid_lo = b(lo[0]), mid_hi = b(hi[0]);
  if (lo.substr(1) != bottom) {
    alts.push_back(Seq({Byte(b(lo[0])), EncodedRange(lo.substr(1), top)}));
    ++mid_lo;
  }
  const bool hi_full = hi.substr(1) == top;
  if (!hi_full) --mid_hi;
  if (mid_lo <= mid_hi)
    alts.push_back(Seq({Range(mid_lo, mid_hi), Repeat(Range(0x80, 0xBF), rest, rest)}));
  if (!hi_full) alts.push_back(Seq({Byte(b(hi[0])), EncodedRange(bottom, hi.substr(1))}));
  return Alt(std::move(alts));
}

// Code point ranges (inclusive) as one expression; surrogates are left out.
Expr CodePoints(std::vector<std::pair<uint32_t, uint32_t>> ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<uint32_t, uint32_t>> split;
  for (auto [lo, hi] : ranges) {
    // Cut at the surrogates and where the encoded length changes.
    for (auto [a, z] : {std::pair<uint32_t, uint32_t>{0, 0x7F},
                        {0x80, 0x7FF},
                        {0x800, 0xD7FF},
                        {0xE000, 0xFFFF},
                        {0x10000, kMaxCodePoint}}) {
      const uint32_t l = std::max(lo, a), h = std::min(hi, z);
      if (l <= h) split.emplace_back(l, h);
    }
  }
  ByteSet ascii;
  std::vector<Expr> alts;
  for (auto [lo, hi] : split) {
    if (hi < 0x80) {
      ascii.AddRange(static_cast<uint8_t>(lo), static_cast<uint8_t>(hi));
    } else {
      alts.push_back(EncodedRange(EncodeUtf8(lo), EncodeUtf8(hi)));
    }
  }
  if (!ascii.Empty()) alts.insert(alts.begin(), Bytes(ascii));
  if (alts.empty()) return Bytes(ByteSet{});  // matches nothing
  return Alt(std::move(alts));
}

class GbnfParser {
 public:
  explicit GbnfParser(std::string_view text) : s_(text) {}

  Result<std::shared_ptr<const grammar::Grammar>> Parse() {
    SkipSpace(true);
    while (pos_ < s_.size()) {
      const std::string name = Name();
      if (name.empty()) return Error("expected a rule name");
      SkipSpace(false);
      if (s_.substr(pos_, 3) != "::=") return Error("expected '::=' after '" + name + "'");
      pos_ += 3;
      SkipSpace(true);
      LLMUX_ASSIGN_OR_RETURN(Expr e, Alternates(false, 0));
      const uint32_t rule = RuleId(name);
      if (!defined_.insert(rule).second) return Error("rule '" + name + "' is defined twice");
      b_.Define(rule, std::move(e));
      if (pos_ < s_.size() && s_[pos_] != '\n' && s_[pos_] != '\r') {
        return Error(std::string("unexpected '") + s_[pos_] + "'");
      }
      SkipSpace(true);
    }
    const auto root = ids_.find("root");
    if (root == ids_.end() || !defined_.count(root->second)) {
      return InvalidArgumentError("grammar: no 'root' rule");
    }
    auto g = b_.Build(root->second);
    if (!g.ok()) return g.status();
    return g;
  }

 private:
  Status Error(const std::string& what) const {
    size_t line = 1 + std::count(s_.begin(), s_.begin() + std::min(pos_, s_.size()), '\n');
    return InvalidArgumentError("grammar: " + what + " (line " + std::to_string(line) + ")");
  }

  static bool IsNameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  }

  void SkipSpace(bool newlines) {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  std::string Name() {
    const size_t start = pos_;
    while (pos_ < s_.size() && IsNameChar(s_[pos_])) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }

  uint32_t RuleId(const std::string& name) {
    auto [it, added] = ids_.emplace(name, 0);
    if (added) it->second = b_.AddRule(name);
    return it->second;
  }

  Result<Expr> Alternates(bool nested, int depth) {
    std::vector<Expr> alts;
    LLMUX_ASSIGN_OR_RETURN(Expr first, Sequence(nested, depth));
    alts.push_back(std::move(first));
    while (pos_ < s_.size() && s_[pos_] == '|') {
      ++pos_;
      SkipSpace(true);
      LLMUX_ASSIGN_OR_RETURN(Expr next, Sequence(nested, depth));
      alts.push_back(std::move(next));
    }
    return Alt(std::move(alts));
  }

  Result<Expr> Sequence(bool nested, int depth) {
    std::vector<Expr> items;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      Expr item;
      if (c == '"') {
        LLMUX_ASSIGN_OR_RETURN(item, LiteralText());
      } else if (c == '[') {
        LLMUX_ASSIGN_OR_RETURN(item, CharClass());
      } else if (c == '.') {
        ++pos_;
        item = CodePoints({{0, kMaxCodePoint}});
      } else if (c == '(') {
        if (depth + 1 > static_cast<int>(kMaxGbnfNesting)) {
          return Error("groups nested deeper than " + std::to_string(kMaxGbnfNesting));
        }
        ++pos_;
        SkipSpace(true);
        LLMUX_ASSIGN_OR_RETURN(item, Alternates(true, depth + 1));
        if (pos_ >= s_.size() || s_[pos_] != ')') return Error("expected ')'");
        ++pos_;
      } else if (IsNameChar(c)) {
        const size_t start = pos_;
        const std::string name = Name();
        // A name followed by ::= starts the next rule (no newline needed before it).
        SkipSpace(false);
        if (!nested && s_.substr(pos_, 3) == "::=") {
          pos_ = start;
          break;
        }
        pos_ = start + name.size();
        item = Ref(RuleId(name));
      } else {
        break;
      }
      SkipSpace(nested);
      LLMUX_ASSIGN_OR_RETURN(item, Postfix(std::move(item), nested));
      items.push_back(std::move(item));
      if (items.size() > 100000) return Error("sequence too long");
    }
    return Seq(std::move(items));
  }

  Result<Expr> Postfix(Expr item, bool nested) {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == '*') {
        item = Repeat(std::move(item), 0, kUnbounded);
      } else if (c == '+') {
        item = Repeat(std::move(item), 1, kUnbounded);
      } else if (c == '?') {
        item = Repeat(std::move(item), 0, 1);
      } else if (c == '{') {
        ++pos_;
        SkipSpace(false);
        LLMUX_ASSIGN_OR_RETURN(uint32_t min, Number());
        uint32_t max = min;
        SkipSpace(false);
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          SkipSpace(false);
          max = kUnbounded;
          if (pos_ < s_.size() && s_[pos_] != '}') {
            LLMUX_ASSIGN_OR_RETURN(max, Number());
          }
          SkipSpace(false);
        }
        if (pos_ >= s_.size() || s_[pos_] != '}') return Error("expected '}'");
        if (max < min) return Error("a repetition's maximum is below its minimum");
        item = Repeat(std::move(item), min, max);
      } else {
        break;
      }
      ++pos_;
      SkipSpace(nested);
    }
    return item;
  }

  Result<uint32_t> Number() {
    const size_t start = pos_;
    uint64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      v = v * 10 + (s_[pos_++] - '0');
      if (v > kMaxGbnfRepeat)
        return Error("repetition counts above " + std::to_string(kMaxGbnfRepeat) +
                     " are not supported");
    }
    if (pos_ == start) return Error("expected a number");
    return static_cast<uint32_t>(v);
  }

  // One character of a literal or class at pos_: an escape or a UTF-8 character.
  Result<uint32_t> CodePoint() {
    const uint8_t c = static_cast<uint8_t>(s_[pos_]);
    if (c == '\\') {
      if (pos_ + 1 >= s_.size()) return Error("unfinished escape");
      const char e = s_[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case 'n':
          return uint32_t{'\n'};
        case 'r':
          return uint32_t{'\r'};
        case 't':
          return uint32_t{'\t'};
        case '\\':
        case '"':
        case '[':
        case ']':
        case '-':
        case '^':
          return static_cast<uint32_t>(e);
        case 'x':
          return Hex(2);
        case 'u':
          return Hex(4);
        case 'U':
          return Hex(8);
        default:
          return Error(std::string("unknown escape '\\") + e + "'");
      }
    }
    const std::optional<uint32_t> cp = tokenizer::NextCodepointStrict(s_, &pos_);
    if (!cp) return Error("invalid UTF-8");
    return *cp;
  }

  Result<uint32_t> Hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      if (pos_ >= s_.size()) return Error("unfinished escape");
      const char h = s_[pos_++];
      int d = h >= '0' && h <= '9'   ? h - '0'
              : h >= 'a' && h <= 'f' ? h - 'a' + 10
              : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                     : -1;
      if (d < 0) return Error("bad hex digit in escape");
      v = v * 16 + d;
    }
    if (v > kMaxCodePoint) return Error("escape beyond U+10FFFF");
    return v;
  }

  Result<Expr> LiteralText() {
    ++pos_;  // "
    std::string bytes;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      if (s_[pos_] == '\n') return Error("newline inside a literal");
      if (s_[pos_] == '\\') {
        LLMUX_ASSIGN_OR_RETURN(uint32_t cp, CodePoint());
        if (cp >= 0xD800 && cp <= 0xDFFF) return Error("a surrogate in a literal");
        bytes += EncodeUtf8(cp);
      } else {
        bytes += s_[pos_++];
      }
    }
    if (pos_ >= s_.size()) return Error("unterminated literal");
    ++pos_;
    return grammar::Literal(bytes);
  }

  Result<Expr> CharClass() {
    ++pos_;  // [
    bool negated = false;
    if (pos_ < s_.size() && s_[pos_] == '^') {
      negated = true;
      ++pos_;
    }
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    while (pos_ < s_.size() && s_[pos_] != ']') {
      LLMUX_ASSIGN_OR_RETURN(uint32_t lo, CodePoint());
      uint32_t hi = lo;
      if (pos_ + 1 < s_.size() && s_[pos_] == '-' && s_[pos_ + 1] != ']') {
        ++pos_;
        LLMUX_ASSIGN_OR_RETURN(hi, CodePoint());
        if (hi < lo) return Error("a character range runs backwards");
      }
      ranges.emplace_back(lo, hi);
      if (ranges.size() > 4096) return Error("character class too long");
    }
    if (pos_ >= s_.size()) return Error("unterminated character class");
    ++pos_;
    if (negated) {
      std::sort(ranges.begin(), ranges.end());
      std::vector<std::pair<uint32_t, uint32_t>> rest;
      uint32_t next = 0;
      for (auto [lo, hi] : ranges) {
        if (lo > next) rest.emplace_back(next, lo - 1);
        next = std::max(next, hi + 1);
      }
      if (next <= kMaxCodePoint) rest.emplace_back(next, kMaxCodePoint);
      ranges = std::move(rest);
    }
    if (ranges.empty()) return Error("a character class that matches nothing");
    return CodePoints(std::move(ranges));
  }

  std::string_view s_;
  size_t pos_ = 0;
  GrammarBuilder b_;
  std::map<std::string, uint32_t> ids_;
  std::set<uint32_t> defined_;
};

}  // namespace

Result<std::shared_ptr<const grammar::Grammar>> CompileGbnf(std::string_view text) {
  return GbnfParser(text).Parse();
}

}  // namespace llmux::serving
