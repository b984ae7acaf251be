#include "engine/runtime/utf8_stream.h"

namespace llmux {

size_t CompleteUtf8Prefix(std::string_view s) {
  // Look back at most 3 bytes for the lead byte of the last character.
  const size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking
    size_t need = 0;
    if (c < 0x80) {
      need = 1;
    } else if ((c & 0xE0) == 0xC0) {
      need = 2;
    } else if ((c & 0xF0) == 0xE0) {
      need = 3;
    } else if ((c & 0xF8) == 0xF0) {
      need = 4;
    } else {
      return n;  // not a lead byte: invalid, pass it through
    }
    return back < need ? n - back : n;
  }
  return n;  // only continuation bytes (or too many): invalid, pass through
}

std::string Utf8Stream::Push(std::string_view piece) {
  pending_.append(piece);
  const size_t complete = CompleteUtf8Prefix(pending_);
  std::string out = pending_.substr(0, complete);
  pending_.erase(0, complete);
  return out;
}

std::string Utf8Stream::Flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace llmux
