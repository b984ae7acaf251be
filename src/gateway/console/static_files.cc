#include "gateway/console/static_files.h"

#include <array>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

namespace llmux::gateway {

namespace fs = std::filesystem;

namespace {

bool PlainSegmentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Whether `inner` is `root` or below it, component by component (both canonical).
bool Within(const fs::path& root, const fs::path& inner) {
  auto r = root.begin(), i = inner.begin();
  for (; r != root.end(); ++r, ++i) {
    if (i == inner.end() || *r != *i) return false;
  }
  return true;
}

}  // namespace

StaticFiles::StaticFiles(fs::path root, size_t max_file_bytes)
    : root_(std::move(root)), max_file_bytes_(max_file_bytes) {}

bool StaticFiles::SafeRelativePath(std::string_view relative) {
  if (relative.empty() || relative.size() > 512) return false;
  size_t start = 0;
  while (start <= relative.size()) {
    size_t slash = relative.find('/', start);
    if (slash == std::string_view::npos) slash = relative.size();
    std::string_view segment = relative.substr(start, slash - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    for (char c : segment) {
      if (!PlainSegmentChar(c)) return false;
    }
    start = slash + 1;
  }
  return true;
}

std::string_view StaticFiles::ContentType(std::string_view file_name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".webmanifest", "application/manifest+json"},
  }};
  for (const auto& [ext, type] : kTypes) {
    if (file_name.size() > ext.size() && file_name.substr(file_name.size() - ext.size()) == ext) {
      return type;
    }
  }
  return "application/octet-stream";
}

Result<StaticFile> StaticFiles::Read(std::string_view relative) const {
  if (relative.empty()) relative = "index.html";
  if (!SafeRelativePath(relative)) return NotFoundError("no such file");
  std::error_code ec;
  const fs::path root = fs::canonical(root_, ec);
  if (ec) return NotFoundError("no such file");
  const fs::path file = fs::canonical(root / fs::path(relative), ec);
  // A symlink that leads out of the root is treated as missing.
  if (ec || !Within(root, file) || !fs::is_regular_file(file, ec))
    return NotFoundError("no such file");
  const uintmax_t size = fs::file_size(file, ec);
  if (ec) return NotFoundError("no such file");
  if (size > max_file_bytes_)
    return ResourceExhaustedError("the file is larger than the server serves");
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFoundError("no such file");
  StaticFile out;
  out.content.resize(static_cast<size_t>(size));
  in.read(out.content.data(), static_cast<std::streamsize>(size));
  out.content.resize(static_cast<size_t>(in.gcount()));
  out.content_type = std::string(ContentType(relative));
  out.path = std::string(relative);
  return out;
}

}  // namespace llmux::gateway
