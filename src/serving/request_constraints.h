// The token constraint a chat request needs: one JSON object for response_format
// json_object, a JSON value valid against the schema for json_schema, a text of the grammar
// for a GBNF grammar, a forced tool call for tool_choice required or a named function.
#pragma once

#include <memory>

#include "base/status.h"
#include "chat/output_format.h"
#include "engine/runtime/token_constraint.h"
#include "serving/grammar_cache.h"
#include "serving/inference_service.h"

namespace llmux::serving {

// Null when the request needs no constraint. A forced tool call is written in the template's
// own call syntax (Qwen/Hermes tags, Llama 3.1 bare JSON, DeepSeek-V3 tags, Mistral's
// [TOOL_CALLS] list, gpt-oss harmony), one call of one of the allowed tools whose arguments
// match that tool's parameters schema (json_schema_grammar.h, not strict); templates without a
// call syntax get InvalidArgument (field tool_choice). Schemas and
// grammars are compiled through `grammars`; one that does not compile is InvalidArgument
// naming the request field.
Result<std::unique_ptr<TokenConstraint>> MakeRequestConstraint(
    std::shared_ptr<const ConstraintVocab> vocab, const chat::OutputFormat& format,
    const ChatRequest& request, bool use_tools, GrammarCache& grammars);

}  // namespace llmux::serving
