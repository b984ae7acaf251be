// Joins token pieces into text that only ever ends on whole UTF-8 characters: a token may
// end inside a multi-byte character (byte-fallback tokens, byte-level BPE), so the bytes
// of an unfinished character are held back until the next piece completes them.
#pragma once

#include <string>
#include <string_view>

namespace llmux {

class Utf8Stream {
 public:
  // Appends a piece; returns the text that is now complete (possibly empty).
  std::string Push(std::string_view piece);
  // Returns whatever is held back (an unfinished character at the end of generation).
  std::string Flush();

 private:
  std::string pending_;
};

// Length of the longest prefix of s that does not end inside an incomplete (but so far
// valid) multi-byte character. Invalid bytes count as complete, so they are not held.
size_t CompleteUtf8Prefix(std::string_view s);

}  // namespace llmux
