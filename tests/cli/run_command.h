// Runs the llmux binary as a child process and captures what it prints, for end-to-end tests.
#pragma once

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>
#include "tests/support/test_paths.h"

namespace llmux::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together when merge_stderr
};

inline std::string LlmuxBinary() { return llmux::testing::BinaryDir() + "/src/cli/llmux"; }

// Runs `llmux <args>` through the shell. Arguments must already be quoted.
inline CommandResult RunLlmux(const std::string& args, bool merge_stderr = false) {
  std::string cmd = LlmuxBinary() + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  CommandResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace llmux::testing
