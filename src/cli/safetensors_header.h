// Reads the tensor table of a .safetensors file into plain convert::HfTensor records.
//
// Format: u64 little-endian N | N bytes of JSON header | data section. The header maps each
// tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data
// section) and may hold "__metadata__" (string to string). A file is hostile input, so:
//  * N is at most kMaxSafetensorsHeader and must fit in the file;
//  * the JSON nests no deeper than kMaxJsonNesting and must be an object;
//  * every tensor: a known dtype, a shape of at most 8 non-negative dims whose element count
//    times the dtype's size (overflow-checked) equals end - begin, begin <= end <= the data
//    section's size, and no two tensors' byte ranges overlap.
// A refusal is a DataLoss (or InvalidArgument for an unknown dtype) naming the file and, where
// there is one, the tensor.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/convert/hf_checkpoint.h"

namespace llmux::cli {

inline constexpr uint64_t kMaxSafetensorsHeader = 100ull << 20;  // 100 MiB

// Checks the 8-byte length prefix against the file size; returns N.
Result<uint64_t> CheckSafetensorsHeaderLength(uint64_t n, uint64_t file_size,
                                              const std::string& file);

// Parses the header JSON (the N bytes after the prefix) of a file of file_size bytes. Offsets in
// the result are absolute (8 + N + begin); `file` is recorded in each tensor and in messages.
Result<std::vector<convert::HfTensor>> ParseSafetensorsHeader(std::string_view header,
                                                              uint64_t file_size,
                                                              const std::string& file);

// The whole file in memory (the fuzz target): prefix, header and the tensor table.
Result<std::vector<convert::HfTensor>> ParseSafetensorsBytes(std::string_view bytes,
                                                             const std::string& file);

// Reads only the prefix and the header from disk.
Result<std::vector<convert::HfTensor>> ReadSafetensorsFile(const std::string& path);

}  // namespace llmux::cli
