// Where tests find their data and the build's outputs. The paths are compiled into one small
// object (test_paths.cc) instead of every test file, so that a clone at another path reuses
// every other cached object (ccache) and only this one is rebuilt.
#pragma once

#include <string>
#include <string_view>

namespace llmux::testing {

// ../shared next to the checkout: models, reference vectors and texts no one here wrote.
const std::string& SharedDir();
// The CMake build directory (the llmux binary is BinaryDir() + "/src/cli/llmux").
const std::string& BinaryDir();
// The checkout (for npm packages installed in tests/e2e and demo/).
const std::string& SourceDir();

// SharedDir() + "/" + rel.
std::string SharedPath(std::string_view rel);

}  // namespace llmux::testing
