// The token constraint a chat request needs: one JSON object for response_format
// json_object, a JSON value valid against the schema for json_schema, a text of the grammar
// for a GBNF grammar, a forced <tool_call> frame for tool_choice required or a named function.
#pragma once

#include <memory>

#include "base/status.h"
#include "chat/output_format.h"
#include "engine/runtime/token_constraint.h"
#include "serving/grammar_cache.h"
#include "serving/inference_service.h"

namespace llmux::serving {

// Null when the request needs no constraint. Forced tool calls need a template whose calls
// are JSON inside <tool_call> tags (Qwen); other templates get Unimplemented. Schemas and
// grammars are compiled through `grammars`; one that does not compile is InvalidArgument
// naming the request field.
Result<std::unique_ptr<TokenConstraint>> MakeRequestConstraint(
    std::shared_ptr<const ConstraintVocab> vocab, const chat::OutputFormat& format,
    const ChatRequest& request, bool use_tools, GrammarCache& grammars);

}  // namespace llmux::serving
