#include "serving/request_constraints.h"

#include "engine/runtime/grammar_constraint.h"
#include "serving/gbnf.h"
#include "serving/json_schema_grammar.h"

namespace llmux::serving {

Result<std::unique_ptr<TokenConstraint>> MakeRequestConstraint(
    std::shared_ptr<const ConstraintVocab> vocab, const chat::OutputFormat& format,
    const ChatRequest& request, bool use_tools, GrammarCache& grammars) {
  const ToolChoiceMode mode = request.tool_choice.mode;
  if (use_tools && (mode == ToolChoiceMode::kRequired || mode == ToolChoiceMode::kFunction)) {
    if (format.tool_syntax != chat::ToolCallSyntax::kJsonInTags || format.tool_open != "<tool_call>") {
      return UnimplementedError(
                 "tool_choice 'required' or a named function is not supported for this model's "
                 "chat template; use 'auto'")
          .WithField("tool_choice");
    }
    std::vector<std::string> names;
    if (mode == ToolChoiceMode::kFunction) {
      names.push_back(request.tool_choice.function_name);
    } else {
      for (const chat::Tool& t : request.tools) names.push_back(t.name());
    }
    auto constraint = MakeSequenceConstraint(std::move(vocab), ToolCallSegments(std::move(names)));
    if (!constraint.ok()) return constraint.status().WithField("tools");
    return std::move(*constraint);
  }
  switch (request.response_format) {
    case ResponseFormat::kText:
      break;
    case ResponseFormat::kJsonObject:
      return MakeJsonObjectConstraint(std::move(vocab));
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
