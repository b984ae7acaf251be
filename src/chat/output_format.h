// How a model marks reasoning and tool calls in what it generates: the part of a chat
// template that the output parser needs. Each ChatTemplate describes its model's format.
#pragma once

#include <string>
#include <vector>

namespace llmux::chat {

enum class ToolCallSyntax {
  kNone,  // tool calls are not recognised; everything is text
  // One call per tag pair, a JSON object inside (Qwen, Hermes):
  //   <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>
  kJsonInTags,
  // DeepSeek-V3: inside <｜tool▁calls▁begin｜> ... <｜tool▁calls▁end｜>, each call is
  //   <｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{...}\n```<｜tool▁call▁end｜>
  kDeepSeek,
  // Llama 3.1: the whole reply is one JSON object {"name": "f", "parameters": {...}},
  // optionally after <|python_tag|>.
  kBareJson,
  // Mistral: after tool_open ([TOOL_CALLS]) a JSON array of call objects,
  //   [TOOL_CALLS][{"name": "f", "arguments": {...}}, ...]   (extra keys such as "id" ignored)
  kJsonArray,
  // gpt-oss harmony: a reply is a sequence of messages
  //   <|channel|>analysis<|message|>...<|end|>                       reasoning
  //   <|start|>assistant<|channel|>commentary to=functions.f <|constrain|>json<|message|>
  //       {...}<|call|>                                               a call of f
  //   <|start|>assistant<|channel|>final<|message|>...<|return|>     content
  // Reasoning comes from the analysis channel, so think_open/think_close stay empty.
  kHarmony,
  // Mistral v11 and later: each call is tool_open, the name, tool_args, the arguments object
  //   [TOOL_CALLS]f[ARGS]{...}[TOOL_CALLS]g[ARGS]{...}    ([CALL_ID]id before [ARGS] is skipped)
  kNameArgs,
};

struct OutputFormat {
  // Reasoning block tags; empty when the model has none or thinking is off for the request.
  std::string think_open;
  std::string think_close;
  // The generation prompt already opened the block (DeepSeek-R1 style): output starts as
  // reasoning. Otherwise a reasoning block is recognised only at the very start of output.
  bool starts_in_think = false;

  ToolCallSyntax tool_syntax = ToolCallSyntax::kNone;
  std::string tool_open;  // per-call tags (kJsonInTags, kDeepSeek, kNameArgs's opener); the
                          // list's opener (kJsonArray)
  std::string tool_close;
  std::string tool_args;                       // kNameArgs: between a call's name and its arguments
  std::vector<std::string> tool_section_tags;  // wrappers around all calls, dropped (kDeepSeek)
};

}  // namespace llmux::chat
