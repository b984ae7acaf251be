#include "tests/support/proc_smaps.h"

#include <cstdint>
#include <fstream>
#include <sstream>

namespace llmux::testing {

std::string SmapsLine(const void* p, std::string_view field) {
  std::ifstream in("/proc/self/smaps");
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    // An entry starts with its range, "lo-hi perms offset dev inode path"; its fields follow.
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-' && line.find(':') > line.find(' ')) {
      inside = lo <= addr && addr < hi;
      continue;
    }
    if (inside && line.rfind(field, 0) == 0) return line;
  }
  return "";
}

}  // namespace llmux::testing
