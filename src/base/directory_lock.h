// One process at a time in a directory: `llmux serve` takes this lock on its data directory, so
// a second server on the same SQLite database stops with a clear message instead of writing to
// it beside the first.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"

namespace llmux {

class DirectoryLock {
 public:
  // An exclusive flock on DIR/llmux.lock (0600), which then holds the owner's pid. Unavailable
  // (naming that pid) when another process holds it. The kernel drops the lock when the
  // process ends, kill -9 included, so a crash leaves nothing to clean up.
  static Result<std::unique_ptr<DirectoryLock>> Acquire(const std::string& dir);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace llmux
