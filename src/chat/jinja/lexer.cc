#include "chat/jinja/lexer.h"

#include <array>
#include <utility>

#include "chat/jinja/text.h"

namespace llmux::chat::jinja {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWord(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_';
}

// JavaScript's multiline ^: after \n, \r, U+2028 or U+2029.
bool AtLineStart(std::string_view s, size_t i) {
  if (i == 0) return true;
  const char p = s[i - 1];
  if (p == '\n' || p == '\r') return true;
  return i >= 3 && s.substr(i - 3, 2) == "\xE2\x80" && (s[i - 1] == '\xA8' || s[i - 1] == '\xA9');
}

// /^[ \t]*({[#%-])/gm -> "$1"
std::string LstripBlocks(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (AtLineStart(s, i)) {
      size_t j = i;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      if (j + 1 < s.size() && s[j] == '{' &&
          (s[j + 1] == '#' || s[j + 1] == '%' || s[j + 1] == '-')) {
        i = j;  // drop the indentation before the tag
      }
    }
    out += s[i++];
  }
  return out;
}

// /([#%-]})\n/g -> "$1"
std::string TrimBlocks(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (i + 2 < s.size() && (s[i] == '#' || s[i] == '%' || s[i] == '-') && s[i + 1] == '}' &&
        s[i + 2] == '\n') {
      out += s[i];
      out += '}';
      i += 3;
    } else {
      out += s[i++];
    }
  }
  return out;
}

size_t SkipSpace(std::string_view s, size_t i) {
  while (size_t n = WhitespaceAt(s, i)) i += n;
  return i;
}

// Matches /{%(-?)\s*(?:end)?generation\s*(-?)%}/ at i; on a match sets the flags and the end.
bool MatchGenerationTag(std::string_view s, size_t i, bool* lstrip, bool* rstrip, size_t* end) {
  if (s.compare(i, 2, "{%") != 0) return false;
  size_t j = i + 2;
  *lstrip = j < s.size() && s[j] == '-';
  if (*lstrip) ++j;
  j = SkipSpace(s, j);
  if (s.compare(j, 3, "end") == 0 && s.compare(j + 3, 10, "generation") == 0) j += 3;
  if (s.compare(j, 10, "generation") != 0) return false;
  j = SkipSpace(s, j + 10);
  *rstrip = j < s.size() && s[j] == '-';
  if (*rstrip) ++j;
  if (s.compare(j, 2, "%}") != 0) return false;
  *end = j + 2;
  return true;
}

std::string RemoveGenerationTags(std::string_view s) {
  std::string out;
  size_t last = 0;
  for (size_t i = s.find("{%"); i != std::string_view::npos; i = s.find("{%", i + 1)) {
    if (i < last) continue;
    bool lstrip = false, rstrip = false;
    size_t end = 0;
    if (!MatchGenerationTag(s, i, &lstrip, &rstrip, &end)) continue;
    size_t text_end = i;
    while (lstrip && text_end > last) {
      const size_t n = WhitespaceBefore(s, text_end);
      if (n == 0 || text_end - n < last) break;
      text_end -= n;
    }
    const size_t after = SkipSpace(s, end);
    out.append(s.substr(last, text_end - last));
    if (!rstrip) out.append(s.substr(end, after - end));
    last = after;
  }
  out.append(s.substr(last));
  return out;
}

struct Rule {
  std::string_view seq;
  TokenType type;
};

// The reference's ordered table (longer operators first where they share a first character).
constexpr std::array<Rule, 29> kRules = {{
    {"{%", TokenType::kOpenStatement},
    {"%}", TokenType::kCloseStatement},
    {"{{", TokenType::kOpenExpression},
    {"}}", TokenType::kCloseExpression},
    {"(", TokenType::kOpenParen},
    {")", TokenType::kCloseParen},
    {"{", TokenType::kOpenCurlyBracket},
    {"}", TokenType::kCloseCurlyBracket},
    {"[", TokenType::kOpenSquareBracket},
    {"]", TokenType::kCloseSquareBracket},
    {",", TokenType::kComma},
    {".", TokenType::kDot},
    {":", TokenType::kColon},
    {"|", TokenType::kPipe},
    {"<=", TokenType::kComparison},
    {">=", TokenType::kComparison},
    {"==", TokenType::kComparison},
    {"!=", TokenType::kComparison},
    {"<", TokenType::kComparison},
    {">", TokenType::kComparison},
    {"+", TokenType::kAdditive},
    {"-", TokenType::kAdditive},
    {"~", TokenType::kAdditive},
    {"**", TokenType::kExponentiation},
    {"*", TokenType::kMultiplicative},
    {"//", TokenType::kMultiplicative},
    {"/", TokenType::kMultiplicative},
    {"%", TokenType::kMultiplicative},
    {"=", TokenType::kEquals},
}};

Status SyntaxError(std::string message) {
  return InvalidArgumentError("template syntax: " + message);
}

class Lexer {
 public:
  explicit Lexer(std::string src) : src_(std::move(src)) {}

  Result<std::vector<Token>> Run();

 private:
  char At(size_t i) const { return i < src_.size() ? src_[i] : '\0'; }
  TokenType LastType() const { return tokens_.empty() ? TokenType::kText : tokens_.back().type; }

  // The reference fails when input ends while a run of the class is still going.
  template <typename Pred>
  Result<std::string> ConsumeWhile(Pred pred) {
    const size_t start = pos_;
    while (size_t n = pred(pos_)) {
      pos_ += n;
      if (pos_ >= src_.size()) return SyntaxError("unexpected end of input");
    }
    return src_.substr(start, pos_ - start);
  }
  Result<std::string> ConsumeDigits() {
    return ConsumeWhile([this](size_t i) -> size_t { return IsDigit(At(i)) ? 1 : 0; });
  }
  Result<std::string> ConsumeString(char quote);

  void StripTrailingWhitespace() {
    if (!tokens_.empty() && tokens_.back().type == TokenType::kText) {
      tokens_.back().value = std::string(TrimEnd(tokens_.back().value));
      if (tokens_.back().value.empty()) tokens_.pop_back();
    }
  }
  void SkipLeadingWhitespace() { pos_ = SkipSpace(src_, pos_); }

  std::string src_;
  size_t pos_ = 0;
  int curly_depth_ = 0;
  std::vector<Token> tokens_;
};

Result<std::string> Lexer::ConsumeString(char quote) {
  std::string str;
  while (true) {
    if (pos_ >= src_.size()) return SyntaxError("unexpected end of input in a string");
    const char c = src_[pos_];
    if (c == quote) break;
    ++pos_;
    if (c != '\\') {
      str += c;
      continue;
    }
    if (pos_ >= src_.size()) return SyntaxError("unexpected end of input in a string");
    const char e = src_[pos_++];
    if (e == 'x' || e == 'u') {
      const size_t len = e == 'x' ? 2 : 4;
      const std::string hex = src_.substr(pos_, len);
      uint32_t cp = 0;
      for (char h : hex) {
        const int d = IsDigit(h)               ? h - '0'
                      : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                      : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                               : -1;
        if (d < 0)
          return SyntaxError("invalid hexadecimal escape sequence: \\" + std::string(1, e) + hex);
        cp = cp * 16 + static_cast<uint32_t>(d);
      }
      if (hex.size() != len)
        return SyntaxError("invalid hexadecimal escape sequence: \\" + std::string(1, e) + hex);
      // UTF-8 of the code unit (a lone surrogate is written as its 3-byte form).
      if (cp < 0x80) {
        str += static_cast<char>(cp);
      } else if (cp < 0x800) {
        str += static_cast<char>(0xC0 | (cp >> 6));
        str += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        str += static_cast<char>(0xE0 | (cp >> 12));
        str += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        str += static_cast<char>(0x80 | (cp & 0x3F));
      }
      pos_ += len;
      continue;
    }
    switch (e) {
      case 'n':
        str += '\n';
        break;
      case 't':
        str += '\t';
        break;
      case 'r':
        str += '\r';
        break;
      case 'b':
        str += '\b';
        break;
      case 'f':
        str += '\f';
        break;
      case 'v':
        str += '\v';
        break;
      case '\'':
        str += '\'';
        break;
      case '"':
        str += '"';
        break;
      case '\\':
        str += '\\';
        break;
      default:
        return SyntaxError(std::string("unexpected escaped character: ") + e);
    }
  }
  return str;
}

Result<std::vector<Token>> Lexer::Run() {
  const size_t length = src_.size();
  while (pos_ < length) {
    const bool at_start = tokens_.empty();
    const TokenType last = LastType();
    if (at_start || last == TokenType::kCloseStatement || last == TokenType::kCloseExpression ||
        last == TokenType::kComment) {
      size_t end = pos_;
      while (true) {
        end = src_.find('{', end);
        if (end == std::string::npos) {
          end = length;
          break;
        }
        const char next = At(end + 1);
        if (next == '%' || next == '{' || next == '#') break;
        ++end;
      }
      if (end > pos_) {
        tokens_.push_back({TokenType::kText, src_.substr(pos_, end - pos_)});
        pos_ = end;
        continue;
      }
    }

    if (At(pos_) == '{') {
      const char next = At(pos_ + 1);
      if (next == '#') {
        pos_ += 2;
        const bool strip_before = At(pos_) == '-';
        if (strip_before) ++pos_;
        const size_t end = src_.find("#}", pos_);
        if (end == std::string::npos) return SyntaxError("missing end of comment tag");
        std::string comment = src_.substr(pos_, end - pos_);
        const bool strip_after = !comment.empty() && comment.back() == '-';
        if (strip_after) comment.pop_back();
        if (strip_before) StripTrailingWhitespace();
        tokens_.push_back({TokenType::kComment, std::move(comment)});
        pos_ = end + 2;
        if (strip_after) SkipLeadingWhitespace();
        continue;
      }
      if (At(pos_ + 2) == '-' && (next == '%' || next == '{')) {
        StripTrailingWhitespace();
        tokens_.push_back(next == '%' ? Token{TokenType::kOpenStatement, "{%"}
                                      : Token{TokenType::kOpenExpression, "{{"});
        if (next == '{') curly_depth_ = 0;
        pos_ += 3;
        continue;
      }
    }

    LLMUX_RETURN_IF_ERROR(
        ConsumeWhile([this](size_t i) { return WhitespaceAt(src_, i); }).status());

    const char c = At(pos_);
    if (c == '-' && At(pos_ + 2) == '}' && (At(pos_ + 1) == '%' || At(pos_ + 1) == '}')) {
      tokens_.push_back(At(pos_ + 1) == '%' ? Token{TokenType::kCloseStatement, "%}"}
                                            : Token{TokenType::kCloseExpression, "}}"});
      pos_ += 3;
      SkipLeadingWhitespace();
      continue;
    }

    if (c == '-' || c == '+') {
      if (at_start || last == TokenType::kText) {
        return SyntaxError(std::string("unexpected character: ") + c);
      }
      const bool binary = last == TokenType::kIdentifier || last == TokenType::kNumericLiteral ||
                          last == TokenType::kStringLiteral || last == TokenType::kCloseParen ||
                          last == TokenType::kCloseSquareBracket;
      if (!binary) {
        ++pos_;
        LLMUX_ASSIGN_OR_RETURN(std::string num, ConsumeDigits());
        if (!num.empty() && At(pos_) == '.' && IsDigit(At(pos_ + 1))) {
          ++pos_;
          LLMUX_ASSIGN_OR_RETURN(std::string frac, ConsumeDigits());
          num += "." + frac;
        }
        tokens_.push_back({num.empty() ? TokenType::kUnary : TokenType::kNumericLiteral, c + num});
        continue;
      }
    }

    bool matched = false;
    for (const Rule& rule : kRules) {
      if (rule.seq[0] != c) continue;
      if (rule.seq == "}}" && curly_depth_ > 0) continue;  // closes a dict literal inside {{ }}
      if (src_.compare(pos_, rule.seq.size(), rule.seq) != 0) continue;
      tokens_.push_back({rule.type, std::string(rule.seq)});
      if (rule.type == TokenType::kOpenExpression) curly_depth_ = 0;
      if (rule.type == TokenType::kOpenCurlyBracket) ++curly_depth_;
      if (rule.type == TokenType::kCloseCurlyBracket) --curly_depth_;
      pos_ += rule.seq.size();
      matched = true;
      break;
    }
    if (matched) continue;

    if (c == '\'' || c == '"') {
      ++pos_;
      LLMUX_ASSIGN_OR_RETURN(std::string str, ConsumeString(c));
      tokens_.push_back({TokenType::kStringLiteral, std::move(str)});
      ++pos_;
      continue;
    }
    if (IsDigit(c)) {
      LLMUX_ASSIGN_OR_RETURN(std::string num, ConsumeDigits());
      if (last != TokenType::kDot && At(pos_) == '.' && IsDigit(At(pos_ + 1))) {
        ++pos_;
        LLMUX_ASSIGN_OR_RETURN(std::string frac, ConsumeDigits());
        num += "." + frac;
      }
      tokens_.push_back({TokenType::kNumericLiteral, std::move(num)});
      continue;
    }
    if (IsWord(c)) {
      LLMUX_ASSIGN_OR_RETURN(std::string word, ConsumeWhile([this](size_t i) -> size_t {
                               return IsWord(At(i)) ? 1 : 0;
                             }));
      tokens_.push_back({TokenType::kIdentifier, std::move(word)});
      continue;
    }
    return SyntaxError(std::string("unexpected character: ") + c);
  }
  return std::move(tokens_);
}

}  // namespace

const char* TokenTypeName(TokenType type) {
  switch (type) {
    case TokenType::kText:
      return "Text";
    case TokenType::kNumericLiteral:
      return "NumericLiteral";
    case TokenType::kStringLiteral:
      return "StringLiteral";
    case TokenType::kIdentifier:
      return "Identifier";
    case TokenType::kEquals:
      return "Equals";
    case TokenType::kOpenParen:
      return "OpenParen";
    case TokenType::kCloseParen:
      return "CloseParen";
    case TokenType::kOpenStatement:
      return "OpenStatement";
    case TokenType::kCloseStatement:
      return "CloseStatement";
    case TokenType::kOpenExpression:
      return "OpenExpression";
    case TokenType::kCloseExpression:
      return "CloseExpression";
    case TokenType::kOpenSquareBracket:
      return "OpenSquareBracket";
    case TokenType::kCloseSquareBracket:
      return "CloseSquareBracket";
    case TokenType::kOpenCurlyBracket:
      return "OpenCurlyBracket";
    case TokenType::kCloseCurlyBracket:
      return "CloseCurlyBracket";
    case TokenType::kComma:
      return "Comma";
    case TokenType::kDot:
      return "Dot";
    case TokenType::kColon:
      return "Colon";
    case TokenType::kPipe:
      return "Pipe";
    case TokenType::kAdditive:
      return "AdditiveBinaryOperator";
    case TokenType::kMultiplicative:
      return "MultiplicativeBinaryOperator";
    case TokenType::kExponentiation:
      return "ExponentiationBinaryOperator";
    case TokenType::kComparison:
      return "ComparisonBinaryOperator";
    case TokenType::kUnary:
      return "UnaryOperator";
    case TokenType::kComment:
      return "Comment";
  }
  return "?";
}

std::string Preprocess(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return RemoveGenerationTags(TrimBlocks(LstripBlocks(text)));
}

Result<std::vector<Token>> Tokenize(std::string_view text) { return Lexer(Preprocess(text)).Run(); }

}  // namespace llmux::chat::jinja
