// One regex step of a byte-level BPE pre-tokenizer, run the way llama.cpp runs its general
// (non hand-written) pre-tokenizer regexes:
//  * A pattern with Unicode classes (\p{L}, \p{N}, \p{P}, \p{M}, \p{S}, \p{Lu} ...) runs over a
//    "collapsed" text with one byte per code point: ASCII stays itself, other whitespace becomes
//    \v and other code points become one byte per class. Each \p{..} becomes a bracket of its
//    class byte plus its ASCII members.
//  * A pattern without them runs over the code points themselves (non-ASCII whitespace as \v).
// Each existing piece is searched separately; matches and the unmatched stretches between
// them both become pieces.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace llmux::tokenizer {

// The text in the forms the regex steps need, built once per Split call.
struct RegexText {
  explicit RegexText(const std::vector<uint32_t>& cpts);
  const std::vector<uint32_t>& cpts;
  std::string collapsed;            // one byte per code point
  std::string utf8;                 // valid UTF-8, non-ASCII whitespace as \v
  std::vector<uint32_t> cpt_bytes;  // byte offset of each code point in utf8 (+ end)
};

// Builds the collapsed form of `pattern` (exposed for tests); `uses_classes` tells whether the
// pattern had any Unicode class in it.
Result<std::string> CollapsePattern(std::string_view pattern, bool* uses_classes);

class RegexSplitter {
 public:
  static Result<std::unique_ptr<RegexSplitter>> Create(std::string_view pattern);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // `pieces` are lengths in code points that sum to the text length; returns the new pieces.
  std::vector<size_t> Split(const RegexText& text, const std::vector<size_t>& pieces) const;

 private:
  RegexSplitter() = default;
  void* code_ = nullptr;  // pcre2_code*
  bool collapsed_ = false;
};

}  // namespace llmux::tokenizer
