// Human-readable summary of a GGUF file (for `llmux inspect`).
#pragma once

#include <string>

#include "engine/gguf/gguf_reader.h"

namespace llmux::gguf {

// Version, alignment, every metadata key with its type and value, and every tensor with its
// type, shape, offset and size. Unless full_arrays is set, arrays show their first elements and
// their count, and long strings are cut.
std::string DescribeGguf(const GgufFile& file, bool full_arrays = false);

// One value as text: numbers as written, strings quoted and escaped, arrays as [a, b, ...].
// max_elements/max_string_bytes of 0 mean no limit.
std::string FormatValue(const Value& value, size_t max_elements, size_t max_string_bytes);

// "arr[str,512]" for arrays, else the scalar type name.
std::string DescribeType(const Value& value);

}  // namespace llmux::gguf
