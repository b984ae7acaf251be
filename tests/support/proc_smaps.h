// Reading this process's memory mappings in tests (/proc/self/smaps).
#pragma once

#include <string>
#include <string_view>

namespace llmux::testing {

// The line that starts with `field` (e.g. "Rss:", "VmFlags:") in the entry of the mapping that
// holds p; "" when no mapping holds p or the entry has no such line.
std::string SmapsLine(const void* p, std::string_view field);

}  // namespace llmux::testing
