#include "tests/support/test_paths.h"

namespace llmux::testing {

const std::string& SharedDir() {
  static const std::string dir = LLMUX_SHARED_DIR;
  return dir;
}

const std::string& BinaryDir() {
  static const std::string dir = LLMUX_BINARY_DIR;
  return dir;
}

const std::string& SourceDir() {
  static const std::string dir = LLMUX_SOURCE_DIR;
  return dir;
}

std::string SharedPath(std::string_view rel) { return SharedDir() + "/" + std::string(rel); }

}  // namespace llmux::testing
