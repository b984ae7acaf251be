#include "engine/runtime/json_machine.h"

namespace llmux::constraint {

namespace {

// Allowed range of the first continuation byte after a lead byte (later ones are 80..BF).
enum Utf8Range : uint8_t { kAny = 0, kA0toBF, k80to9F, k90toBF, k80to8F };

constexpr uint8_t kRangeLo[] = {0x80, 0xA0, 0x80, 0x90, 0x80};
constexpr uint8_t kRangeHi[] = {0xBF, 0xBF, 0x9F, 0xBF, 0x8F};

// Continuation bytes after lead byte b, or -1 if b cannot start a character (ASCII excluded).
int Utf8Lead(uint8_t b, uint8_t& range) {
  range = kAny;
  if (b >= 0xC2 && b <= 0xDF) return 1;
  if (b == 0xE0) return range = kA0toBF, 2;  // no overlong 3-byte forms
  if (b == 0xED) return range = k80to9F, 2;  // no UTF-16 surrogates
  if (b >= 0xE1 && b <= 0xEF) return 2;
  if (b == 0xF0) return range = k90toBF, 3;  // no overlong 4-byte forms
  if (b == 0xF4) return range = k80to8F, 3;  // nothing above U+10FFFF
  if (b >= 0xF1 && b <= 0xF3) return 3;
  return -1;
}

int HexDigit(uint8_t b) {
  if (b >= '0' && b <= '9') return b - '0';
  if (b >= 'a' && b <= 'f') return b - 'a' + 10;
  if (b >= 'A' && b <= 'F') return b - 'A' + 10;
  return -1;
}

bool IsDigit(uint8_t b) { return b >= '0' && b <= '9'; }

constexpr std::string_view kLiterals[] = {"true", "false", "null"};

bool Whitespace(JsonState& s, uint8_t b) {
  if (s.ws_run >= kMaxJsonWhitespaceRun) return false;
  ++s.ws_run;
  return true;
}

bool Open(JsonState& s, bool array) {
  if (s.depth >= kMaxJsonDepth) return false;
  const uint64_t bit = uint64_t{1} << s.depth;
  s.array_bits = array ? (s.array_bits | bit) : (s.array_bits & ~bit);
  ++s.depth;
  s.mode = array ? JsonMode::kArrayOpen : JsonMode::kObjectOpen;
  s.ws_run = 0;
  return true;
}

bool TopIsArray(const JsonState& s) { return (s.array_bits >> (s.depth - 1)) & 1; }

bool Close(JsonState& s, bool array) {
  if (s.depth == 0 || TopIsArray(s) != array) return false;
  --s.depth;
  s.mode = s.depth == 0 ? JsonMode::kDone : JsonMode::kAfterValue;
  s.ws_run = 0;
  return true;
}

void StartString(JsonState& s, bool key) {
  s.mode = JsonMode::kString;
  s.flags = key ? kJsonInKey : 0;
  s.ws_run = 0;
}

bool StartValue(JsonState& s, uint8_t b) {
  s.ws_run = 0;
  switch (b) {
    case '{':
      return Open(s, false);
    case '[':
      return Open(s, true);
    case '"':
      StartString(s, false);
      return true;
    case '-':
      s.mode = JsonMode::kNumMinus;
      return true;
    case '0':
      s.mode = JsonMode::kNumZero;
      return true;
    case 't':
    case 'f':
    case 'n':
      s.mode = JsonMode::kLiteral;
      s.aux = b == 't' ? 0 : b == 'f' ? 1 : 2;
      s.count = 1;
      return true;
    default:
      if (b >= '1' && b <= '9') {
        s.mode = JsonMode::kNumInt;
        s.count = 1;
        return true;
      }
      return false;
  }
}

// A number ends at the first byte that cannot continue it; that byte then follows the value.
bool EndNumber(JsonState& s, uint8_t b) {
  s.mode = JsonMode::kAfterValue;
  s.ws_run = 0;
  return JsonStep(s, b);
}

bool StringByte(JsonState& s, uint8_t b) {
  if (b == '"') {
    s.mode = (s.flags & kJsonInKey) ? JsonMode::kColon : JsonMode::kAfterValue;
    s.flags = 0;
    s.ws_run = 0;
    return true;
  }
  if (b == '\\') {
    s.mode = JsonMode::kEscape;
    return true;
  }
  if (b < 0x20) return false;
  if (b < 0x80) return true;
  uint8_t range;
  const int n = Utf8Lead(b, range);
  if (n < 0) return false;
  s.mode = JsonMode::kUtf8;
  s.count = static_cast<uint8_t>(n);
  s.aux = range;
  return true;
}

// One more hex digit of a \u escape. Surrogates are checked as early as the digits allow, so
// no accepted prefix is a dead end: a lone low half (DC00..DFFF) is refused at its second
// digit, and after a high half only a low half is accepted.
bool HexByte(JsonState& s, uint8_t b) {
  const int v = HexDigit(b);
  if (v < 0) return false;
  const bool need_low = s.flags & kJsonNeedLowHalf;
  if (s.count == 0 && need_low && v != 0xD) return false;
  if (s.count == 1 && s.hex == 0xD) {
    if (need_low ? v < 0xC : v >= 0xC) return false;
  }
  s.hex = static_cast<uint16_t>(s.hex * 16 + v);
  if (++s.count < 4) return true;
  if (need_low) {
    s.flags &= ~kJsonNeedLowHalf;
    s.mode = JsonMode::kString;
  } else if (s.hex >= 0xD800 && s.hex <= 0xDBFF) {
    s.mode = JsonMode::kLowBackslash;
  } else {
    s.mode = JsonMode::kString;
  }
  return true;
}

}  // namespace

bool JsonStep(JsonState& s, uint8_t b) {
  switch (s.mode) {
    case JsonMode::kStart:
      if (IsJsonWhitespace(b)) return Whitespace(s, b);
      return b == '{' && Open(s, false);
    case JsonMode::kObjectOpen:
      if (IsJsonWhitespace(b)) return Whitespace(s, b);
      if (b == '"') return StartString(s, true), true;
      return b == '}' && Close(s, false);
    case JsonMode::kObjectKey:
      if (IsJsonWhitespace(b)) return Whitespace(s, b);
      if (b == '"') return StartString(s, true), true;
      return false;
    case JsonMode::kColon:
      if (IsJsonWhitespace(b)) return Whitespace(s, b);
      if (b != ':') return false;
      s.mode = JsonMode::kValue;
      s.ws_run = 0;
      return true;
    case JsonMode::kValue:
      if (IsJsonWhitespace(b)) return Whitespace(s, b);
      return StartValue(s, b);
    case JsonMode::kArrayOpen:
      if (IsJsonWhitespace(b)) return Whitespace(s, b);
      if (b == ']') return Close(s, true);
      return StartValue(s, b);
    case JsonMode::kAfterValue:
      if (IsJsonWhitespace(b)) return Whitespace(s, b);
      if (b == ',') {
        s.mode = TopIsArray(s) ? JsonMode::kValue : JsonMode::kObjectKey;
        s.ws_run = 0;
        return true;
      }
      if (b == '}') return Close(s, false);
      if (b == ']') return Close(s, true);
      return false;
    case JsonMode::kDone:
      return false;
    case JsonMode::kString:
      return StringByte(s, b);
    case JsonMode::kEscape:
      switch (b) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          s.mode = JsonMode::kString;
          return true;
        case 'u':
          s.mode = JsonMode::kHex;
          s.count = 0;
          s.hex = 0;
          return true;
        default:
          return false;
      }
    case JsonMode::kHex:
      return HexByte(s, b);
    case JsonMode::kLowBackslash:
      if (b != '\\') return false;
      s.mode = JsonMode::kLowU;
      return true;
    case JsonMode::kLowU:
      if (b != 'u') return false;
      s.mode = JsonMode::kHex;
      s.flags |= kJsonNeedLowHalf;
      s.count = 0;
      s.hex = 0;
      return true;
    case JsonMode::kUtf8:
      if (b < kRangeLo[s.aux] || b > kRangeHi[s.aux]) return false;
      s.aux = kAny;
      if (--s.count == 0) s.mode = JsonMode::kString;
      return true;
    case JsonMode::kLiteral: {
      const std::string_view lit = kLiterals[s.aux];
      if (b != static_cast<uint8_t>(lit[s.count])) return false;
      if (++s.count == static_cast<uint8_t>(lit.size())) {
        s.mode = JsonMode::kAfterValue;
        s.ws_run = 0;
      }
      return true;
    }
    case JsonMode::kNumMinus:
      if (b == '0') {
        s.mode = JsonMode::kNumZero;
        return true;
      }
      if (b >= '1' && b <= '9') {
        s.mode = JsonMode::kNumInt;
        s.count = 1;
        return true;
      }
      return false;
    case JsonMode::kNumZero:
      if (b == '.') return s.mode = JsonMode::kNumDot, true;
      if (b == 'e' || b == 'E') return s.mode = JsonMode::kNumExpMark, true;
      return EndNumber(s, b);
    case JsonMode::kNumInt:
      if (IsDigit(b)) return s.count < kMaxJsonIntegerDigits && (++s.count, true);
      if (b == '.') return s.mode = JsonMode::kNumDot, true;
      if (b == 'e' || b == 'E') return s.mode = JsonMode::kNumExpMark, true;
      return EndNumber(s, b);
    case JsonMode::kNumDot:
      if (!IsDigit(b)) return false;
      s.mode = JsonMode::kNumFrac;
      s.count = 1;
      return true;
    case JsonMode::kNumFrac:
      if (IsDigit(b)) return s.count < kMaxJsonFractionDigits && (++s.count, true);
      if (b == 'e' || b == 'E') return s.mode = JsonMode::kNumExpMark, true;
      return EndNumber(s, b);
    case JsonMode::kNumExpMark:
      if (b == '+' || b == '-') return s.mode = JsonMode::kNumExpSign, true;
      if (!IsDigit(b)) return false;
      s.mode = JsonMode::kNumExp;
      s.count = 1;
      return true;
    case JsonMode::kNumExpSign:
      if (!IsDigit(b)) return false;
      s.mode = JsonMode::kNumExp;
      s.count = 1;
      return true;
    case JsonMode::kNumExp:
      if (IsDigit(b)) return s.count < kMaxJsonExponentDigits && (++s.count, true);
      return EndNumber(s, b);
  }
  return false;
}

bool JsonFeed(JsonState& s, std::string_view text) {
  for (char c : text) {
    if (!JsonStep(s, static_cast<uint8_t>(c))) return false;
  }
  return true;
}

bool JsonMatches(std::string_view text) {
  JsonState s;
  return JsonFeed(s, text) && JsonComplete(s);
}

bool EndsWithWholeChar(std::string_view text) {
  size_t i = text.size();
  size_t cont = 0;
  while (i > 0 && (static_cast<uint8_t>(text[i - 1]) & 0xC0) == 0x80 && cont < 4) {
    --i;
    ++cont;
  }
  if (i == 0) return cont == 0;
  const uint8_t lead = static_cast<uint8_t>(text[i - 1]);
  const size_t need = lead < 0x80 ? 0 : lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 9;
  return need == cont;
}

void StringSuffixesOk(std::string_view text, std::vector<uint8_t>& ok) {
  const size_t n = text.size();
  ok.assign(n + 1, 0);
  ok[n] = 1;
  for (size_t i = n; i-- > 0;) {
    const uint8_t b = static_cast<uint8_t>(text[i]);
    if (b < 0x80) {
      ok[i] = b >= 0x20 && b != '"' && b != '\\' && ok[i + 1];
      continue;
    }
    uint8_t range;
    const int len = Utf8Lead(b, range);
    if (len < 0) continue;  // a continuation byte or an invalid lead: not at a boundary
    bool valid = true;
    size_t j = i + 1;
    for (int k = 0; k < len && j < n; ++k, ++j) {
      const uint8_t c = static_cast<uint8_t>(text[j]);
      const uint8_t r = k == 0 ? range : static_cast<uint8_t>(kAny);
      if (c < kRangeLo[r] || c > kRangeHi[r]) {
        valid = false;
        break;
      }
    }
    // j is past the character, or at the end of a text cut inside it (fine: the state then
    // waits for the rest).
    ok[i] = valid && ok[j];
  }
}

}  // namespace llmux::constraint
