#include "chat/jinja/text.h"

#include <locale.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cwctype>

namespace llmux::chat::jinja {
namespace {

// Decodes the UTF-8 sequence at s[i]; returns its length (1 for an invalid byte).
size_t Decode(std::string_view s, size_t i, uint32_t* cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    *cp = c;
    return 1;
  }
  uint32_t v = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc >> 6) != 0x2) {
      *cp = c;
      return 1;
    }
    v = (v << 6) | (cc & 0x3F);
  }
  *cp = v;
  return n;
}

bool IsJsSpace(uint32_t c) {
  if (c <= 32) return c == 32 || (c >= 9 && c <= 13);
  return c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

}  // namespace

size_t WhitespaceAt(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  uint32_t cp = 0;
  const size_t n = Decode(s, i, &cp);
  return IsJsSpace(cp) ? n : 0;
}

size_t WhitespaceBefore(std::string_view s, size_t end) {
  // Whitespace is at most 3 bytes of UTF-8.
  for (size_t n = 1; n <= 3 && n <= end; ++n) {
    if (WhitespaceAt(s, end - n) == n) return n;
  }
  return 0;
}

std::string_view TrimStart(std::string_view s) {
  size_t i = 0;
  while (size_t n = WhitespaceAt(s, i)) i += n;
  return s.substr(i);
}

std::string_view TrimEnd(std::string_view s) {
  size_t end = s.size();
  while (size_t n = WhitespaceBefore(s, end)) end -= n;
  return s.substr(0, end);
}

std::vector<std::string> CodePoints(std::string_view s) {
  std::vector<std::string> out;
  uint32_t cp = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t n = Decode(s, i, &cp);
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

size_t Utf16Length(std::string_view s) {
  size_t len = 0;
  uint32_t cp = 0;
  for (size_t i = 0; i < s.size();) {
    i += Decode(s, i, &cp);
    len += cp > 0xFFFF ? 2 : 1;
  }
  return len;
}

namespace {

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The C.UTF-8 locale for towupper_l / towlower_l, made once (null if the system lacks it:
// then only ASCII is mapped).
locale_t Utf8Locale() {
  static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return loc;
}

std::string CaseMap(std::string_view s, bool upper) {
  std::string out;
  out.reserve(s.size());
  const locale_t loc = Utf8Locale();
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const size_t n = Decode(s, i, &cp);
    if (cp < 0x80) {
      char c = s[i];
      if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      out += c;
    } else if (n == 1) {
      out += s[i];  // an invalid byte stays as it is
    } else if (upper && cp == 0xDF) {
      out += "SS";
    } else if (loc != static_cast<locale_t>(nullptr)) {
      const auto w = static_cast<wint_t>(cp);
      AppendUtf8(static_cast<uint32_t>(upper ? towupper_l(w, loc) : towlower_l(w, loc)), &out);
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace

std::string Upper(std::string_view s) { return CaseMap(s, true); }
std::string Lower(std::string_view s) { return CaseMap(s, false); }

std::string TitleCase(std::string_view s) {
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    if (word(out[i]) && (i == 0 || !word(out[i - 1])) && out[i] >= 'a' && out[i] <= 'z') {
      out[i] = static_cast<char>(out[i] - 'a' + 'A');
    }
  }
  return out;
}

std::string JsNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0) return "0";
  // Shortest round-trip digits, then ECMAScript's Number::toString layout.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), std::fabs(v), std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  const size_t e_pos = sci.find('e');
  std::string digits = sci.substr(0, e_pos);
  if (digits.size() > 1) digits.erase(1, 1);  // drop the '.'
  const int exp10 = std::stoi(sci.substr(e_pos + 1));
  const int k = static_cast<int>(digits.size());
  const int n = exp10 + 1;
  std::string out = v < 0 ? "-" : "";
  if (k <= n && n <= 21) {
    out.append(digits);
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(n), std::string::npos);
  } else if (-6 < n && n <= 0) {
    out.append("0.");
    out.append(static_cast<size_t>(-n), '0');
    out.append(digits);
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.append(n - 1 >= 0 ? "e+" : "e-");
    out.append(std::to_string(std::abs(n - 1)));
  }
  return out;
}

std::string JsonQuote(std::string_view s, bool ensure_ascii) {
  std::string out = "\"";
  char buf[16];
  auto unit = [&](uint32_t u) {
    std::snprintf(buf, sizeof(buf), "\\u%04x", u);
    out += buf;
  };
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const size_t n = Decode(s, i, &cp);
    switch (cp) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (cp < 0x20) {
          unit(cp);
        } else if (ensure_ascii && cp >= 0x7F) {
          if (cp > 0xFFFF) {
            unit(0xD800 + ((cp - 0x10000) >> 10));
            unit(0xDC00 + ((cp - 0x10000) & 0x3FF));
          } else {
            unit(cp);
          }
        } else {
          out.append(s.substr(i, n));
        }
    }
    i += n;
  }
  out += '"';
  return out;
}

}  // namespace llmux::chat::jinja
