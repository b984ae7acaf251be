#include "engine/tokenizer/unicode.h"

#include <algorithm>
#include <array>

#include "engine/tokenizer/unicode_data.h"

namespace llmux::tokenizer {
namespace {

CharInfo InfoFromFlags(uint8_t flags) {
  return CharInfo{static_cast<CharClass>(flags & 0x7F), (flags & 0x80) != 0};
}

struct Gpt2Tables {
  std::array<uint32_t, 256> byte_to_cpt{};
  std::array<int16_t, 512> cpt_to_byte{};  // every mapped code point is below U+0144

  Gpt2Tables() {
    cpt_to_byte.fill(-1);
    auto printable = [](int b) {
      return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      byte_to_cpt[b] = printable(b) ? static_cast<uint32_t>(b) : next++;
      cpt_to_byte[byte_to_cpt[b]] = static_cast<int16_t>(b);
    }
  }
};

const Gpt2Tables& Gpt2() {
  static const Gpt2Tables tables;
  return tables;
}

}  // namespace

CharInfo GetCharInfo(uint32_t cpt) {
  if (cpt >= 0x110000) return CharInfo{};
  // Runs are sorted by first code point; find the last run starting at or before cpt.
  const CodepointRun* begin = kCodepointRuns;
  const CodepointRun* end = kCodepointRuns + kNumCodepointRuns;
  const CodepointRun* it = std::upper_bound(
      begin, end, cpt, [](uint32_t c, const CodepointRun& r) { return c < r.first; });
  return InfoFromFlags((it - 1)->flags);
}

uint32_t NextCodepointLenient(std::string_view text, size_t* pos) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  const size_t i = *pos;
  const uint8_t b = s[i];
  auto cont = [&](size_t k) { return (s[k] & 0xC0) == 0x80; };
  if (b < 0x80) {
    *pos = i + 1;
    return b;
  }
  if ((b & 0xE0) == 0xC0 && i + 1 < n && cont(i + 1)) {
    *pos = i + 2;
    return (uint32_t{b & 0x1Fu} << 6) | (s[i + 1] & 0x3F);
  }
  if ((b & 0xF0) == 0xE0 && i + 2 < n && cont(i + 1) && cont(i + 2)) {
    *pos = i + 3;
    return (uint32_t{b & 0x0Fu} << 12) | (uint32_t{s[i + 1] & 0x3Fu} << 6) | (s[i + 2] & 0x3F);
  }
  if ((b & 0xF8) == 0xF0 && i + 3 < n && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
    *pos = i + 4;
    const uint32_t cpt = (uint32_t{b & 0x07u} << 18) | (uint32_t{s[i + 1] & 0x3Fu} << 12) |
                         (uint32_t{s[i + 2] & 0x3Fu} << 6) | (s[i + 3] & 0x3F);
    return cpt <= 0x10FFFF ? cpt : kReplacementChar;
  }
  *pos = i + 1;
  return kReplacementChar;
}

std::optional<uint32_t> NextCodepointStrict(std::string_view text, size_t* pos) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t i = *pos;
  const uint8_t b = s[i];
  if (b < 0x80) {
    *pos = i + 1;
    return b;
  }
  // The length, the lead byte's payload and the smallest value that needs this length.
  size_t len = 0;
  uint32_t cpt = 0;
  uint32_t min = 0;
  if ((b & 0xE0) == 0xC0) {
    len = 2, cpt = b & 0x1Fu, min = 0x80;
  } else if ((b & 0xF0) == 0xE0) {
    len = 3, cpt = b & 0x0Fu, min = 0x800;
  } else if ((b & 0xF8) == 0xF0) {
    len = 4, cpt = b & 0x07u, min = 0x10000;
  } else {
    return std::nullopt;  // a continuation byte, or 0xF8 and above
  }
  if (len > text.size() - i) return std::nullopt;
  for (size_t k = 1; k < len; ++k) {
    if ((s[i + k] & 0xC0) != 0x80) return std::nullopt;
    cpt = (cpt << 6) | (s[i + k] & 0x3Fu);
  }
  if (cpt < min || cpt > 0x10FFFF || (cpt >= 0xD800 && cpt <= 0xDFFF)) return std::nullopt;
  *pos = i + len;
  return cpt;
}

std::vector<uint32_t> DecodeUtf8Lenient(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) out.push_back(NextCodepointLenient(text, &i));
  return out;
}

void AppendUtf8(uint32_t cpt, std::string& out) {
  if (cpt <= 0x7F) {
    out.push_back(static_cast<char>(cpt));
  } else if (cpt <= 0x7FF) {
    out.push_back(static_cast<char>(0xC0 | (cpt >> 6)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt <= 0xFFFF) {
    out.push_back(static_cast<char>(0xE0 | (cpt >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt <= 0x10FFFF) {
    out.push_back(static_cast<char>(0xF0 | (cpt >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else {
    AppendUtf8(kReplacementChar, out);
  }
}

std::string EncodeUtf8(const std::vector<uint32_t>& cpts) {
  std::string out;
  out.reserve(cpts.size());
  for (uint32_t c : cpts) AppendUtf8(c, out);
  return out;
}

uint32_t ByteToGpt2Codepoint(uint8_t byte) { return Gpt2().byte_to_cpt[byte]; }

int Gpt2CodepointToByte(uint32_t cpt) {
  return cpt < Gpt2().cpt_to_byte.size() ? Gpt2().cpt_to_byte[cpt] : -1;
}

}  // namespace llmux::tokenizer
