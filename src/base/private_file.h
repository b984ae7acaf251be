// Writing secrets to disk: a new file only this user can read.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace llmux {

// Creates `path` with mode 0600 and writes `content`. Refuses (kIoError) when the path already
// exists, a symbolic link included, so a file planted there is never followed or reused.
Status WriteNewPrivateFile(const std::string& path, std::string_view content);

}  // namespace llmux
