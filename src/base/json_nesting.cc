#include "base/json_nesting.h"

#include <fmt/format.h>

namespace llmux {

bool JsonNestingWithin(std::string_view text, int max_nesting) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_nesting) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

std::string JsonTooDeepMessage(int max_nesting) {
  return fmt::format("JSON nested deeper than {} levels (the limit of arrays and objects inside each other)",
                     max_nesting);
}

}  // namespace llmux
