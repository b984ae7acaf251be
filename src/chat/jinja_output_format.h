// The output format of a model whose chat template is only known as Jinja source: the
// tool-call syntax and reasoning tags its template writes for assistant turns, recognised
// from distinctive text in the source (the model emits what its template renders).
#pragma once

#include <string_view>

#include "chat/output_format.h"

namespace llmux::chat {

// Recognised, in this order:
//  * gpt-oss harmony: <|channel|> and <|message|>                       -> kHarmony
//  * Mistral v11+: [TOOL_CALLS] and [ARGS] (name, then arguments)       -> kNameArgs
//  * Mistral before v11: [TOOL_CALLS] followed by a JSON list           -> kJsonArray
//  * DeepSeek-V3: <｜tool▁calls▁begin｜>                                      -> kDeepSeek
//  * Hermes-style <tool_call> ... </tool_call> with a JSON body (Qwen, Hermes and their
//    fine-tunes)                                                          -> kJsonInTags
//  * Llama 3.1-style: header tokens and <|python_tag|> or "parameters"    -> kBareJson
//  * <think> ... </think> reasoning: recognised at the start of output; when the generation
//    prompt opens <think> without closing it, output starts as reasoning. A template that
//    reads enable_thinking gets no reasoning tags when it is false (its prompt closes the
//    block, as Qwen3's does).
// Anything else has no tool-call syntax (Gemma 3, Llama 2). Linear scans of the source only.
OutputFormat DetectJinjaOutputFormat(std::string_view source, bool enable_thinking);

}  // namespace llmux::chat
