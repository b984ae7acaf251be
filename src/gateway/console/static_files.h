// StaticFiles: reads the files of one directory for an HTTP route, safely. A request path is
// untrusted: only plain segments of [A-Za-z0-9._-] are accepted (no "..", no "." segments, no
// percent escapes, backslashes or empty segments), the resolved file must stay inside the
// directory after symlinks are followed, must be a regular file and at most max_file_bytes.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/status.h"

namespace llmux::gateway {

struct StaticFile {
  std::string content;
  std::string content_type;  // from the extension; application/octet-stream when unknown
  std::string path;          // relative to the root, e.g. "assets/index-3f2a.js"
};

class StaticFiles {
 public:
  // `root` need not exist yet (then every lookup is NotFound).
  StaticFiles(std::filesystem::path root, size_t max_file_bytes);

  // The file at `relative` ("assets/app.js"; "" means index.html). NotFound for a bad or
  // missing path or one that leaves the root; ResourceExhausted for a file over the size bound.
  Result<StaticFile> Read(std::string_view relative) const;

  // Whether `relative` is a path of plain segments (see above).
  static bool SafeRelativePath(std::string_view relative);
  // "text/html; charset=utf-8" for "index.html" and so on.
  static std::string_view ContentType(std::string_view file_name);

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
  size_t max_file_bytes_;
};

}  // namespace llmux::gateway
