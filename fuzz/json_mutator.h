// A structure-aware mutation for the fuzz targets whose inputs hold JSON documents. Byte-level
// mutations rarely turn a string member into a number while keeping the document valid, yet a
// member of an unexpected type is exactly what makes json::value() and get<T>() throw. Half of
// the mutations pick one JSON document in the input (a line, or the text before a NUL byte,
// after up to two prefix bytes such as MCP's '~' or jwt_fuzz's mode byte), then replace one of
// its values by a value of another type or by a copy of another of its values, or drop it; the
// other half are libFuzzer's own.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmux::fuzz {

size_t MutateJsonInput(uint8_t* data, size_t size, size_t max_size, unsigned seed);

}  // namespace llmux::fuzz

// For a target's LLVMFuzzerCustomMutator.
#define LLMUX_FUZZ_JSON_MUTATOR                                                          \
  extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, \
                                            unsigned seed) {                             \
    return llmux::fuzz::MutateJsonInput(data, size, max_size, seed);                     \
  }
