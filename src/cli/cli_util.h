// Helpers shared by the subcommands: error reporting and thread-count defaults.
#pragma once

#include <cstdio>
#include <thread>

#include "base/status.h"

namespace llmux::cli {

// Prints "error: <message>" to stderr and returns the exit code for a failed command.
inline int ReportError(const Status& status) {
  std::fprintf(stderr, "error: %s\n", status.message().c_str());
  return 1;
}

inline int DefaultThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

}  // namespace llmux::cli
