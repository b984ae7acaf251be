// The sha256 digest of a file, read in fixed-size chunks (never the whole file in memory).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace llmux::registry {

struct FileDigest {
  std::string digest;  // "sha256:" + 64 lowercase hex digits
  int64_t size_bytes = 0;
};

// kNotFound (no such file), kInvalidArgument (not a regular file), kIoError (a read failed).
Result<FileDigest> Sha256File(const std::string& path);

}  // namespace llmux::registry
