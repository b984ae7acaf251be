// Generated Unicode tables (see gen_unicode_data.mjs). Use unicode.h instead of this header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmux::tokenizer {

struct CodepointRun {
  uint32_t first;  // first code point of the run
  uint8_t flags;   // CharClass value | 0x80 when White_Space
};

extern const CodepointRun kCodepointRuns[];
extern const size_t kNumCodepointRuns;

}  // namespace llmux::tokenizer
