// No chat template (stories260K and other base models): the prompt is the messages'
// contents, in order, joined with "\n". Roles, tools and the generation prompt add nothing,
// and no BOS text is written (the tokenizer adds BOS as it does for a completion), so a
// single user message gives exactly the prompt `llmux run` would use.
#include "chat/templates.h"

namespace llmux::chat::internal {
namespace {

class PlainTemplate : public ChatTemplate {
 public:
  std::string_view name() const override { return "plain"; }
  bool supports_tools() const override { return false; }
  bool supports_thinking() const override { return false; }
  std::string_view end_of_turn() const override { return ""; }
  OutputFormat output_format(const RenderOptions&) const override { return {}; }

  Result<std::string> Render(const std::vector<Message>& messages, const std::vector<Tool>& tools,
                             const RenderOptions&) const override {
    LLMUX_RETURN_IF_ERROR(ValidateConversation(messages, tools));
    std::string out;
    for (size_t i = 0; i < messages.size(); ++i) {
      if (i > 0) out += '\n';
      out += messages[i].content;
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<ChatTemplate> NewPlainTemplate() { return std::make_unique<PlainTemplate>(); }

}  // namespace llmux::chat::internal
