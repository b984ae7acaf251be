#include "serving/regex_grammar.h"

#include <algorithm>
#include <bitset>
#include <cctype>
#include <string>
#include <vector>

#include "engine/tokenizer/unicode.h"

namespace llmux::serving {

namespace {

using grammar::Alt;
using grammar::Byte;
using grammar::Bytes;
using grammar::ByteSet;
using grammar::Empty;
using grammar::Expr;
using grammar::kUnbounded;
using grammar::Literal;
using grammar::Range;
using grammar::Repeat;
using grammar::Seq;

// A set of characters: ASCII ones by bit, and `other`: the narrowed non-ASCII range (see the
// header) when the set is negated or stands for "anything".
struct CharSet {
  std::bitset<128> ascii;
  bool other = false;
  void AddRange(uint32_t lo, uint32_t hi) {
    for (uint32_t c = lo; c <= hi && c < 128; ++c) ascii.set(c);
  }
  void Negate() {
    ascii.flip();
    other = !other;
  }
  void Add(const CharSet& o) {
    ascii |= o.ascii;
    other = other || o.other;
  }
};

CharSet Digits() {
  CharSet s;
  s.AddRange('0', '9');
  return s;
}
CharSet Word() {
  CharSet s;
  s.AddRange('0', '9');
  s.AddRange('A', 'Z');
  s.AddRange('a', 'z');
  s.ascii.set('_');
  return s;
}
CharSet Space() {  // the ASCII part of ECMAScript's \s
  CharSet s;
  for (char c : {' ', '\t', '\n', '\v', '\f', '\r'}) s.ascii.set(static_cast<uint8_t>(c));
  return s;
}
CharSet Dot() {
  CharSet s;
  s.Negate();
  s.ascii.reset('\n');
  s.ascii.reset('\r');
  return s;
}

// How one decoded character is written inside a JSON string.
std::string JsonEscaped(uint8_t c) {
  switch (c) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\b':
      return "\\b";
    case '\f':
      return "\\f";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      break;
  }
  if (c < 0x20) {
    const char* hex = "0123456789abcdef";
    return std::string("\\u00") + hex[c >> 4] + hex[c & 15];
  }
  return std::string(1, static_cast<char>(c));
}

class RegexCompiler {
 public:
  RegexCompiler(std::string_view p, const Expr& any) : p_(p), any_(any) {}

  Result<Expr> Compile() {
    if (p_.size() > kMaxRegexLength) {
      return InvalidArgumentError("pattern: longer than " + std::to_string(kMaxRegexLength) +
                                  " bytes");
    }
    // Top level: each alternative may be anchored at either end.
    std::vector<Expr> alts;
    while (true) {
      const bool start = Eat('^');
      LLMUX_ASSIGN_OR_RETURN(Expr body, Sequence(0, /*top=*/true));
      const bool end = Eat('$');
      alts.push_back(Seq({start ? Empty() : any_, body, end ? Empty() : any_}));
      if (Eat('|')) continue;
      if (i_ < p_.size()) return Error(p_[i_] == ')' ? "unmatched ')'" : "unexpected character");
      break;
    }
    return Alt(std::move(alts));
  }

 private:
  Status Error(const std::string& what) const {
    return InvalidArgumentError("pattern: " + what + " at offset " + std::to_string(i_));
  }
  bool Eat(char c) {
    if (i_ < p_.size() && p_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool AtEnd() const { return i_ >= p_.size(); }
  Status Grow(size_t n) {
    size_ += n;
    if (size_ > kMaxRegexElements) {
      return Error("the compiled pattern is too large (repetitions expand; more than " +
                   std::to_string(kMaxRegexElements) + " grammar elements)");
    }
    return Status::Ok();
  }

  Result<Expr> Alternatives(int depth) {
    if (depth > kMaxRegexNesting) {
      return Error("groups nested deeper than " + std::to_string(kMaxRegexNesting));
    }
    std::vector<Expr> alts;
    do {
      LLMUX_ASSIGN_OR_RETURN(Expr e, Sequence(depth, /*top=*/false));
      alts.push_back(std::move(e));
    } while (Eat('|'));
    return Alt(std::move(alts));
  }

  // Terms up to '|', ')' or the end (at the top level, up to a final '$' too).
  Result<Expr> Sequence(int depth, bool top) {
    std::vector<Expr> items;
    while (!AtEnd() && p_[i_] != '|' && p_[i_] != ')') {
      if (p_[i_] == '$') {
        const bool last = i_ + 1 == p_.size() || p_[i_ + 1] == '|';
        if (top && last) break;
        return Error(
            "'$' is supported only at the end of the pattern or of a top-level "
            "alternative");
      }
      if (p_[i_] == '^') {
        return Error(
            "'^' is supported only at the start of the pattern or of a top-level "
            "alternative");
      }
      LLMUX_ASSIGN_OR_RETURN(Expr atom, Atom(depth));
      LLMUX_ASSIGN_OR_RETURN(Expr q, Quantified(std::move(atom)));
      items.push_back(std::move(q));
    }
    if (items.empty()) return Empty();
    return Seq(std::move(items));
  }

  Result<uint32_t> Number() {
    if (AtEnd() || p_[i_] < '0' || p_[i_] > '9') return Error("a number was expected");
    uint64_t v = 0;
    while (!AtEnd() && p_[i_] >= '0' && p_[i_] <= '9') {
      v = v * 10 + static_cast<uint64_t>(p_[i_++] - '0');
      if (v > kMaxRegexRepeat) {
        return Error("a repetition count above " + std::to_string(kMaxRegexRepeat));
      }
    }
    return static_cast<uint32_t>(v);
  }

  Result<Expr> Quantified(Expr atom) {
    uint32_t lo = 1, hi = 1;
    if (Eat('?')) {
      lo = 0;
    } else if (Eat('*')) {
      lo = 0;
      hi = kUnbounded;
    } else if (Eat('+')) {
      hi = kUnbounded;
    } else if (Eat('{')) {
      LLMUX_ASSIGN_OR_RETURN(lo, Number());
      hi = lo;
      if (Eat(',')) {
        if (!AtEnd() && p_[i_] == '}') {
          hi = kUnbounded;
        } else {
          LLMUX_ASSIGN_OR_RETURN(hi, Number());
        }
      }
      if (!Eat('}')) return Error("a malformed {n,m} quantifier");
      if (hi < lo) return Error("a {n,m} quantifier with m below n");
    } else {
      return atom;
    }
    Eat('?');  // lazy: the same language
    if (!AtEnd() && (p_[i_] == '*' || p_[i_] == '+' || p_[i_] == '?' || p_[i_] == '{')) {
      return Error("nothing to repeat");
    }
    // The item becomes one rule; each copy is one reference, each optional copy a rule of 3.
    const uint64_t copies = uint64_t{lo} + (hi == kUnbounded ? 1 : 3ull * (hi - lo));
    LLMUX_RETURN_IF_ERROR(Grow(static_cast<size_t>(std::min<uint64_t>(copies, 1u << 30))));
    return Repeat(std::move(atom), lo, hi);
  }

  Result<Expr> Atom(int depth) {
    const char c = p_[i_];
    switch (c) {
      case '(': {
        ++i_;
        if (Eat('?')) {
          if (Eat(':')) {
          } else if (!AtEnd() && (p_[i_] == '=' || p_[i_] == '!')) {
            return Error("lookahead is not supported");
          } else if (Eat('<')) {
            if (!AtEnd() && (p_[i_] == '=' || p_[i_] == '!')) {
              return Error("lookbehind is not supported");
            }
            while (!AtEnd() && p_[i_] != '>') ++i_;  // a group name
            if (!Eat('>')) return Error("an unterminated group name");
          } else {
            return Error("an unsupported group '(?'");
          }
        }
        LLMUX_ASSIGN_OR_RETURN(Expr e, Alternatives(depth + 1));
        if (!Eat(')')) return Error("a missing ')'");
        return e;
      }
      case '[':
        return Class();
      case '.':
        ++i_;
        return Chars(Dot());
      case '\\':
        return Escape();
      case '*':
      case '+':
      case '?':
        return Error("nothing to repeat");
      case '{':
      case '}':
      case ']':
        return Error(std::string("a lone '") + c + "'");
      default:
        break;
    }
    LLMUX_ASSIGN_OR_RETURN(uint32_t cp, Utf8Char());
    return Char(cp);
  }

  Result<uint32_t> Utf8Char() {
    const std::optional<uint32_t> cp = tokenizer::NextCodepointStrict(p_, &i_);
    if (!cp) return Error("invalid UTF-8");
    return *cp;
  }

  // One character as it is written in a JSON string.
  Result<Expr> Char(uint32_t cp) {
    LLMUX_RETURN_IF_ERROR(Grow(4));
    if (cp < 0x80) return Literal(JsonEscaped(static_cast<uint8_t>(cp)));
    if (cp >= 0xD800 && cp <= 0xDFFF) return Error("a lone surrogate");
    std::string bytes;
    tokenizer::AppendUtf8(cp, bytes);
    return Literal(bytes);
  }

  Result<Expr> Chars(const CharSet& s) {
    LLMUX_RETURN_IF_ERROR(Grow(8));
    ByteSet plain;
    std::vector<Expr> alts;
    for (uint32_t c = 0; c < 128; ++c) {
      if (!s.ascii.test(c)) continue;
      const std::string w = JsonEscaped(static_cast<uint8_t>(c));
      if (w.size() == 1) {
        plain.Add(static_cast<uint8_t>(c));
      } else {
        alts.push_back(Literal(w));
      }
    }
    if (s.other) {
      const Expr cont = Range(0x80, 0xBF);
      alts.push_back(Seq({Range(0xC4, 0xDF), cont}));        // U+0100..U+07FF
      alts.push_back(Seq({Range(0xE4, 0xE9), cont, cont}));  // U+4000..U+9FFF
    }
    if (!plain.Empty()) alts.insert(alts.begin(), Bytes(plain));
    if (alts.empty()) return Error("a class that matches no character");
    return Alt(std::move(alts));
  }

  // \x, \u and \u{} escapes, after the letter; the code point.
  Result<uint32_t> Hex(int digits) {
    uint32_t v = 0;
    for (int k = 0; k < digits; ++k) {
      if (AtEnd() || !std::isxdigit(static_cast<unsigned char>(p_[i_]))) {
        return Error("a malformed hexadecimal escape");
      }
      const char h = p_[i_++];
      v = v * 16 + static_cast<uint32_t>(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
    }
    return v;
  }
  Result<uint32_t> UnicodeEscape() {
    if (Eat('{')) {
      uint32_t v = 0;
      int n = 0;
      while (!AtEnd() && p_[i_] != '}' && n < 7) {
        LLMUX_ASSIGN_OR_RETURN(uint32_t d, Hex(1));
        v = v * 16 + d;
        ++n;
      }
      if (n == 0 || !Eat('}') || v > 0x10FFFF) return Error("a malformed \\u{...} escape");
      return v;
    }
    LLMUX_ASSIGN_OR_RETURN(uint32_t v, Hex(4));
    if (v >= 0xD800 && v <= 0xDBFF && i_ + 1 < p_.size() && p_[i_] == '\\' && p_[i_ + 1] == 'u') {
      const size_t save = i_;
      i_ += 2;
      LLMUX_ASSIGN_OR_RETURN(uint32_t low, Hex(4));
      if (low >= 0xDC00 && low <= 0xDFFF) return 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00);
      i_ = save;
    }
    return v;
  }

  // After '\\': a class escape (set) or one character (cp). in_class changes \b and '-'.
  struct Escaped {
    bool is_set = false;
    CharSet set;
    uint32_t cp = 0;
  };
  Result<Escaped> EscapeBody(bool in_class) {
    ++i_;  // the backslash
    if (AtEnd()) return Error("a '\\' at the end of the pattern");
    const char c = p_[i_++];
    Escaped e;
    auto set = [&](CharSet s, bool negate) {
      if (negate) s.Negate();
      e.is_set = true;
      e.set = s;
      return e;
    };
    switch (c) {
      case 'd':
      case 'D':
        return set(Digits(), c == 'D');
      case 'w':
      case 'W':
        return set(Word(), c == 'W');
      case 's':
      case 'S':
        return set(Space(), c == 'S');
      case 'n':
        e.cp = '\n';
        return e;
      case 'r':
        e.cp = '\r';
        return e;
      case 't':
        e.cp = '\t';
        return e;
      case 'v':
        e.cp = '\v';
        return e;
      case 'f':
        e.cp = '\f';
        return e;
      case 'x': {
        LLMUX_ASSIGN_OR_RETURN(e.cp, Hex(2));
        return e;
      }
      case 'u': {
        LLMUX_ASSIGN_OR_RETURN(e.cp, UnicodeEscape());
        return e;
      }
      case '0':
        if (!AtEnd() && p_[i_] >= '0' && p_[i_] <= '9') return Error("an octal escape");
        e.cp = 0;
        return e;
      case 'b':
        if (in_class) {
          e.cp = '\b';
          return e;
        }
        return Error("word boundaries (\\b) are not supported");
      case 'B':
        return Error("word boundaries (\\B) are not supported");
      case 'k':
        return Error("backreferences are not supported");
      case 'c':
        return Error("control escapes (\\c) are not supported");
      case 'p':
      case 'P':
        return Error("unicode property escapes are not supported");
      case '-':
        if (in_class) {
          e.cp = '-';
          return e;
        }
        break;
      default:
        if (c >= '1' && c <= '9') return Error("backreferences are not supported");
        if (std::string_view("^$\\.*+?()[]{}|/").find(c) != std::string_view::npos) {
          e.cp = static_cast<uint8_t>(c);
          return e;
        }
        break;
    }
    --i_;
    return Error(std::string("an unknown escape '\\") + c + "'");
  }

  Result<Expr> Escape() {
    LLMUX_ASSIGN_OR_RETURN(Escaped e, EscapeBody(/*in_class=*/false));
    if (e.is_set) return Chars(e.set);
    return Char(e.cp);
  }

  // One class member: a set (class escape) or a character.
  Result<Escaped> ClassAtom() {
    if (p_[i_] == '\\') return EscapeBody(/*in_class=*/true);
    Escaped e;
    LLMUX_ASSIGN_OR_RETURN(e.cp, Utf8Char());
    return e;
  }

  Result<Expr> Class() {
    ++i_;  // '['
    const bool negate = Eat('^');
    CharSet s;
    while (!AtEnd() && p_[i_] != ']') {
      LLMUX_ASSIGN_OR_RETURN(Escaped a, ClassAtom());
      if (!AtEnd() && p_[i_] == '-' && i_ + 1 < p_.size() && p_[i_ + 1] != ']') {
        ++i_;
        LLMUX_ASSIGN_OR_RETURN(Escaped b, ClassAtom());
        if (a.is_set || b.is_set) return Error("a range with a class escape");
        if (b.cp < a.cp) return Error("a class range out of order");
        if (b.cp >= 0x80) return Error("non-ASCII characters in a class are not supported");
        s.AddRange(a.cp, b.cp);
        continue;
      }
      if (a.is_set) {
        s.Add(a.set);
      } else {
        if (a.cp >= 0x80) return Error("non-ASCII characters in a class are not supported");
        s.ascii.set(a.cp);
      }
    }
    if (!Eat(']')) return Error("a missing ']'");
    if (negate) s.Negate();
    return Chars(s);
  }

  std::string_view p_;
  const Expr& any_;
  size_t i_ = 0;
  size_t size_ = 0;
};

}  // namespace

Result<Expr> CompileRegex(std::string_view pattern, const Expr& any_chars) {
  return RegexCompiler(pattern, any_chars).Compile();
}

}  // namespace llmux::serving
