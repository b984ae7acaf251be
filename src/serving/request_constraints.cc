#include "serving/request_constraints.h"

#include "chat/tool_call_syntax.h"
#include "engine/runtime/grammar_constraint.h"
#include "serving/gbnf.h"
#include "serving/json_schema_grammar.h"

namespace llmux::serving {

namespace {

// A JSON string's text (quotes included) for a name written into the call syntax.
std::string JsonString(const std::string& s) { return chat::CompactJson(chat::Json(s)); }

// The tool's parameters schema as JSON text; an absent one (or one without a type) is an object.
std::string ParametersSchema(const chat::Tool& tool) {
  chat::Json schema = chat::Json::object();
  if (auto fn = tool.spec.find("function"); fn != tool.spec.end() && fn->is_object()) {
    if (auto p = fn->find("parameters"); p != fn->end() && p->is_object()) schema = *p;
  }
  if (!schema.contains("type")) schema["type"] = "object";
  return chat::CompactJson(schema);
}

// One call of `tool` as the template writes it, arguments from its parameters schema.
Result<FramedSchema> CallFrame(const chat::OutputFormat& format, const chat::Tool& tool) {
  const std::string name = tool.name();
  FramedSchema f;
  f.schema = ParametersSchema(tool);
  switch (format.tool_syntax) {
    case chat::ToolCallSyntax::kJsonInTags:
      f.before = format.tool_open + "\n{\"name\": " + JsonString(name) + ", \"arguments\": ";
      f.after = "}\n" + format.tool_close;
      return f;
    case chat::ToolCallSyntax::kBareJson:
      f.before = "{\"name\": " + JsonString(name) + ", \"parameters\": ";
      f.after = "}";
      return f;
    case chat::ToolCallSyntax::kDeepSeek:
      f.before = format.tool_open + "function<｜tool▁sep｜>" + name + "\n```json\n";
      f.after = "\n```" + format.tool_close;
      return f;
    case chat::ToolCallSyntax::kJsonArray:
      f.before = "{\"name\": " + JsonString(name) + ", \"arguments\": ";
      f.after = "}";
      return f;
    case chat::ToolCallSyntax::kHarmony:
      f.before = "<|channel|>commentary to=functions." + name + " <|constrain|>json<|message|>";
      return f;  // then the end of generation (<|call|>)
    case chat::ToolCallSyntax::kNameArgs:
      f.before = format.tool_open + name + format.tool_args;
      return f;
    case chat::ToolCallSyntax::kNone:
      break;
  }
  // A request this model cannot honour, not a missing server feature.
  return InvalidArgumentError(
             "tool_choice 'required' or a named function needs a chat template with a tool-call "
             "syntax; this model's has none: use 'auto' or 'none'")
      .WithField("tool_choice");
}

// The most calls a forced reply may make when parallel calls are allowed.
constexpr int kMaxForcedCalls = 4;

// How the template lists several calls (Llama 3.1 makes one call per reply).
FramedList CallList(const chat::OutputFormat& format, bool parallel) {
  FramedList list;
  list.max_count = parallel ? kMaxForcedCalls : 1;
  if (format.tool_syntax == chat::ToolCallSyntax::kJsonInTags) list.separator = "\n";
  // One call per reply: Llama 3.1; harmony, whose call message ends generation.
  if (format.tool_syntax == chat::ToolCallSyntax::kBareJson ||
      format.tool_syntax == chat::ToolCallSyntax::kHarmony) {
    list.max_count = 1;
  }
  if (format.tool_syntax == chat::ToolCallSyntax::kJsonArray) {
    // Appended, not assigned from literals: GCC 12 warns falsely (-Wrestrict) on the latter here.
    list.before.append(format.tool_open).append("[");
    list.separator.append(", ");
    list.after.append("]");
  }
  if (format.tool_syntax == chat::ToolCallSyntax::kDeepSeek &&
      format.tool_section_tags.size() == 2) {
    list.before = format.tool_section_tags[0];
    list.after = format.tool_section_tags[1];
  }
  return list;
}

// The special tokens a template writes its call syntax with.
std::vector<std::string> CallTags(const chat::OutputFormat& format) {
  std::vector<std::string> tags = format.tool_section_tags;
  tags.push_back(format.tool_open);
  tags.push_back(format.tool_close);
  tags.push_back("<｜tool▁sep｜>");
  if (format.tool_syntax == chat::ToolCallSyntax::kHarmony) {
    for (const char* t : {"<|channel|>", "<|constrain|>", "<|message|>"}) tags.push_back(t);
  }
  if (format.tool_syntax == chat::ToolCallSyntax::kNameArgs) tags.push_back(format.tool_args);
  return tags;
}

}  // namespace

Result<std::unique_ptr<TokenConstraint>> MakeRequestConstraint(
    std::shared_ptr<const ConstraintVocab> vocab, const chat::OutputFormat& format,
    const ChatRequest& request, bool use_tools, GrammarCache& grammars) {
  const ToolChoiceMode mode = request.tool_choice.mode;
  if (use_tools && (mode == ToolChoiceMode::kRequired || mode == ToolChoiceMode::kFunction)) {
    std::vector<FramedSchema> frames;
    for (const chat::Tool& t : request.tools) {
      if (mode == ToolChoiceMode::kFunction && t.name() != request.tool_choice.function_name) {
        continue;
      }
      LLMUX_ASSIGN_OR_RETURN(FramedSchema f, CallFrame(format, t));
      frames.push_back(std::move(f));
    }
    if (frames.empty()) {
      return InvalidArgumentError("tool_choice names '" + request.tool_choice.function_name +
                                  "', which is not among the tools")
          .WithField("tool_choice");
    }
    const FramedList list = CallList(format, request.parallel_tool_calls);
    // Each part length-prefixed, so that different requests never share a key.
    std::string key = "tool-call:" + std::to_string(list.max_count);
    auto add = [&key](const std::string& part) {
      key.append(":").append(std::to_string(part.size())).append(":").append(part);
    };
    for (const std::string* part : {&list.before, &list.separator, &list.after}) add(*part);
    for (const FramedSchema& f : frames) {
      add(f.before);
      add(f.schema);
      add(f.after);
    }
    auto g =
        grammars.Get(key, [&] { return CompileFramedSchemas(frames, /*strict=*/false, list); });
    if (!g.ok()) return g.status().WithField("tools");
    return MakeGrammarConstraint(std::move(vocab), std::move(*g), CallTags(format));
  }
  switch (request.response_format) {
    case ResponseFormat::kText:
      break;
    case ResponseFormat::kJsonObject: {
      // Any JSON object: the schema {"type": "object"} (json_schema_grammar.h), so that the
      // answer steers towards its end within max_tokens as every schema does.
      auto g = grammars.Get("json_object", [] {
        return CompileJsonSchema(R"({"type": "object"})", /*strict=*/false);
      });
      if (!g.ok()) return g.status();
      return MakeGrammarConstraint(std::move(vocab), std::move(*g));
    }
    case ResponseFormat::kJsonSchema: {
      const bool strict = request.json_schema_strict;
      auto g =
          grammars.Get(std::string(strict ? "schema-strict:" : "schema:") + request.json_schema,
                       [&] { return CompileJsonSchema(request.json_schema, strict); });
      if (!g.ok()) return g.status().WithField("response_format.json_schema.schema");
      return MakeGrammarConstraint(std::move(vocab), std::move(*g));
    }
    case ResponseFormat::kGrammar: {
      auto g =
          grammars.Get("gbnf:" + request.grammar, [&] { return CompileGbnf(request.grammar); });
      if (!g.ok()) return g.status().WithField("grammar");
      return MakeGrammarConstraint(std::move(vocab), std::move(*g));
    }
  }
  return std::unique_ptr<TokenConstraint>();
}

}  // namespace llmux::serving
