// GBNF grammars (llama.cpp's format) compiled to the constraint engine's grammar.
#pragma once

#include <memory>
#include <string_view>

#include "base/status.h"
#include "engine/runtime/grammar.h"

namespace llmux::serving {

inline constexpr size_t kMaxGbnfNesting = 64;  // nested groups

Result<std::shared_ptr<const grammar::Grammar>> CompileGbnf(std::string_view text);

}  // namespace llmux::serving
