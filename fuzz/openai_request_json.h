// Parsed OpenAI requests written back as OpenAI request bodies, for the round trip of
// openai_request_fuzz: every field the parser keeps, in the form the parser reads.
#pragma once

#include <nlohmann/json.hpp>

#include "gateway/openai/openai_request.h"

namespace llmux::fuzz {

using Json = nlohmann::ordered_json;

Json ChatRequestJson(const gateway::ParsedChatRequest& parsed);
Json CompletionRequestJson(const gateway::ParsedCompletionRequest& parsed);

}  // namespace llmux::fuzz
