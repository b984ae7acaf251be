#include "serving/request_constraints.h"

namespace llmux::serving {

Result<std::unique_ptr<TokenConstraint>> MakeRequestConstraint(
    std::shared_ptr<const ConstraintVocab> vocab, const chat::OutputFormat& format,
    const ChatRequest& request, bool use_tools) {
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
  if (request.response_format == ResponseFormat::kJsonObject) {
    return MakeJsonObjectConstraint(std::move(vocab));
  }
  return std::unique_ptr<TokenConstraint>();
}

}  // namespace llmux::serving
