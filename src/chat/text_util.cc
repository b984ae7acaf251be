#include "chat/text_util.h"

#include <cstdint>

namespace llmux::chat::text {
namespace {

bool IsPyWhitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 ||
         cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Length of the UTF-8 sequence announced by lead byte `b` (0 for a continuation or invalid
// byte).
size_t SequenceLength(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) return 2;
  if ((b & 0xF0) == 0xE0) return 3;
  if ((b & 0xF8) == 0xF0) return 4;
  return 0;
}

// Decodes the well-formed sequence of `len` bytes at `p` (no validation beyond the lead).
uint32_t Decode(const unsigned char* p, size_t len) {
  if (len == 1) return p[0];
  uint32_t cp = p[0] & (0x7F >> len);
  for (size_t i = 1; i < len; ++i) cp = (cp << 6) | (p[i] & 0x3F);
  return cp;
}

bool IsContinuation(unsigned char b) { return (b & 0xC0) == 0x80; }

}  // namespace

std::string_view LStripNewlines(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && s[i] == '\n') ++i;
  return s.substr(i);
}

std::string_view RStripNewlines(std::string_view s) {
  size_t n = s.size();
  while (n > 0 && s[n - 1] == '\n') --n;
  return s.substr(0, n);
}

std::string_view StripNewlines(std::string_view s) { return RStripNewlines(LStripNewlines(s)); }

std::string_view PyStrip(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t begin = 0;
  size_t end = s.size();
  while (begin < end) {
    const size_t len = SequenceLength(p[begin]);
    if (len == 0 || begin + len > end) break;
    bool valid = true;
    for (size_t i = 1; i < len; ++i) valid = valid && IsContinuation(p[begin + i]);
    if (!valid || !IsPyWhitespace(Decode(p + begin, len))) break;
    begin += len;
  }
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && end - start < 4 && IsContinuation(p[start])) --start;
    const size_t len = SequenceLength(p[start]);
    if (len != end - start) break;
    bool valid = true;
    for (size_t i = 1; i < len; ++i) valid = valid && IsContinuation(p[start + i]);
    if (!valid || !IsPyWhitespace(Decode(p + start, len))) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

std::string_view AfterLast(std::string_view s, std::string_view sep) {
  const size_t pos = s.rfind(sep);
  return pos == std::string_view::npos ? s : s.substr(pos + sep.size());
}

std::string_view BeforeFirst(std::string_view s, std::string_view sep) {
  const size_t pos = s.find(sep);
  return pos == std::string_view::npos ? s : s.substr(0, pos);
}

size_t PartialSuffixLength(std::string_view s, std::string_view tag) {
  if (tag.empty()) return 0;
  size_t n = std::min(s.size(), tag.size() - 1);
  for (; n > 0; --n) {
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  }
  return 0;
}

size_t Utf8CompletePrefix(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  // Look back over at most 3 continuation bytes for the lead byte of the last sequence.
  size_t i = n;
  size_t continuation = 0;
  while (i > 0 && continuation < 4 && IsContinuation(p[i - 1])) {
    --i;
    ++continuation;
  }
  if (i == 0) return n;
  const size_t lead = i - 1;
  const size_t len = SequenceLength(p[lead]);
  if (len > 1 && n - lead < len) return lead;
  return n;
}

}  // namespace llmux::chat::text
