// Tokens -> syntax tree, with the reference's grammar and operator precedence (which differs
// from Python Jinja's in places: `is` and `|` bind tighter than arithmetic, `-x|f` is (-x)|f).
// Nesting is bounded: deeper input is refused with an error, never a stack overflow.
#pragma once

#include <vector>

#include "base/status.h"
#include "chat/jinja/ast.h"
#include "chat/jinja/lexer.h"

namespace llmux::chat::jinja {

// The template's top-level statements. max_depth bounds the nesting of blocks and expressions.
Result<NodeList> Parse(const std::vector<Token>& tokens, int max_depth);

}  // namespace llmux::chat::jinja
