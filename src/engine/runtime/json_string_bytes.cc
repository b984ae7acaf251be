#include "engine/runtime/json_string_bytes.h"

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

}  // namespace

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
