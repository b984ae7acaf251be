// The sandbox: bounds on what one template may cost, checked while parsing and rendering.
// Exceeding one is an error (RESOURCE_EXHAUSTED), never a crash or an unbounded wait.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmux::chat::jinja {

struct JinjaLimits {
  size_t max_template_bytes = 1 << 20;
  // Nesting of blocks and expressions in the template text (and of operator chains).
  int max_parse_depth = 128;
  // Macro calls (and call blocks) in progress at once: bounds recursive macros.
  int max_call_depth = 32;
  // Nesting of lists and dicts, in the request data and in values the template builds.
  int max_value_depth = 64;
  // for-loop iterations (and loop-filter tests, range() elements) in one rendering.
  int64_t max_loop_iterations = 200'000;  // about 0.15 s of the worst loop body
  // The rendering, and any one string built while rendering.
  size_t max_output_bytes = 4 << 20;
  // Bytes and elements copied by concatenations (~, +, join, filters) in one rendering: bounds
  // the quadratic cost of building a string piece by piece in a loop.
  int64_t max_copy_bytes = 256 << 20;
};

}  // namespace llmux::chat::jinja
