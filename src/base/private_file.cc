#include "base/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace llmux {

Status WriteNewPrivateFile(const std::string& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return IoError("cannot create " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(path.c_str());
      return IoError("cannot write " + path + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return IoError("cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

Status CreatePrivateDirectory(const std::string& path, bool* widened) {
  if (widened) *widened = false;
  if (path.empty()) return InvalidArgumentError("empty directory path");
  std::filesystem::path dir = std::filesystem::path(path).lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();  // "data/" is "data"
  // Parents with the usual mode, then the directory itself with 0700 (a umask only narrows it).
  std::error_code ec;
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
  if (ec) return IoError("cannot create " + dir.parent_path().string() + ": " + ec.message());
  if (::mkdir(dir.c_str(), 0700) == 0) return Status::Ok();
  if (errno != EEXIST) return IoError("cannot create " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return IoError(path + " exists and is not a directory");
  if (widened) *widened = (st.st_mode & 077) != 0;
  return Status::Ok();
}

Status MakeFilePrivate(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return IoError("cannot open " + path + ": " + std::strerror(errno));
  const int rc = ::fchmod(fd, 0600);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("cannot chmod " + path + ": " + std::strerror(err));
  return Status::Ok();
}

}  // namespace llmux
