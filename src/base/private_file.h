// Writing secrets to disk: a new file only this user can read.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace llmux {

// Creates `path` with mode 0600 and writes `content`. Refuses (kIoError) when the path already
// exists, a symbolic link included, so a file planted there is never followed or reused.
Status WriteNewPrivateFile(const std::string& path, std::string_view content);

// Creates the directory `path` (and missing parents) with mode 0700. An existing directory is
// left as it is (it may be shared on purpose); `*widened` tells the caller whether group or
// others can enter it, to warn.
Status CreatePrivateDirectory(const std::string& path, bool* widened = nullptr);

// Makes the file `path` readable and writable by its owner only (0600): created empty if it does
// not exist, its mode narrowed if it does. For files that hold secrets and are written by a
// library that picks its own mode (SQLite's database, -wal and -shm files).
Status MakeFilePrivate(const std::string& path);

}  // namespace llmux
