// ChatOutputParser for Mistral's v11+ calls (ToolCallSyntax::kNameArgs): each call is the
// opener ([TOOL_CALLS]), the function's name, optionally [CALL_ID] and an id, tool_args
// ([ARGS]) and the arguments object, which streams as harmony's bodies do. Text between and
// after calls is content. An opener not followed by a short name and tool_args, or tool_args
// not followed by an object, is text.
#include "chat/output_parser.h"
#include "chat/text_util.h"

namespace llmux::chat {
namespace {

constexpr std::string_view kCallId = "[CALL_ID]";
// A function name (with a call id) is short; a longer run before tool_args is text.
constexpr size_t kMaxNameBytes = 256;

bool IsName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (text::IsSpace(c) || c == '[' || c == ']' || c == '{' || c == '}' || c == '"') return false;
  }
  return true;
}

}  // namespace

bool ChatOutputParser::StepNameArgsHeader(bool final, ChatDelta& out) {
  // Decided on a prefix of the text only (where tool_args comes, or that it did not come within
  // the limit), so the outcome does not depend on how the text was split.
  const size_t at = buf_.find(format_.tool_args);
  if (at == std::string::npos && !final && buf_.size() < kMaxNameBytes + format_.tool_args.size())
    return false;
  const std::string_view header =
      at == std::string::npos ? std::string_view() : std::string_view(buf_).substr(0, at);
  const std::string_view name = header.substr(0, header.find(kCallId));
  if (at == std::string::npos || at > kMaxNameBytes || !IsName(name)) {
    // Not a call: the opener is text, and what follows is read as content again.
    pending_newlines_ = newlines_before_tool_;
    newlines_before_tool_ = 0;
    strip_leading_newlines_ = false;
    EmitText(Channel::kContent, format_.tool_open, out);
    state_ = State::kContent;
    return true;
  }
  const size_t end = at + format_.tool_args.size();
  name_args_header_ = format_.tool_open + buf_.substr(0, end);
  call_.emplace(ToolBodySyntax::kArguments, std::string(name));
  object_depth_ = 0;
  object_in_string_ = object_escape_ = false;
  name_args_object_ = false;
  buf_.erase(0, end);
  state_ = State::kNameArgsBody;
  return true;
}

bool ChatOutputParser::StepNameArgsBody(bool final, ChatDelta& out) {
  size_t i = 0;
  if (!name_args_object_) {
    while (i < buf_.size() && text::IsSpace(buf_[i])) ++i;
    if (i < buf_.size() && buf_[i] != '{') {  // no arguments object: not a call
      call_->Feed(std::string_view(buf_).substr(0, i));
      buf_.erase(0, i);
      EndNameArgsCall(out);
      return true;
    }
    name_args_object_ = i < buf_.size();
  }
  bool closed = false;
  const size_t k = name_args_object_ ? ScanObject(i, closed) : i;
  EmitCallPiece(call_->Feed(std::string_view(buf_).substr(0, k)), out);
  buf_.erase(0, k);
  if (!closed && !final) return false;
  EndNameArgsCall(out);
  return state_ != State::kDone;
}

void ChatOutputParser::EndNameArgsCall(ChatDelta& out) {
  ToolCallStream::End end = call_->Finish();
  state_ = State::kContent;
  if (end.is_call) {
    EmitCallPiece(std::move(end.piece), out);
    call_.reset();
    name_args_header_.clear();
    newlines_before_tool_ = 0;
    strip_leading_newlines_ = true;  // newlines after a call are layout
    CountCompletedCall();
    return;
  }
  // Not a call: opener, name and body are text, newlines before them included.
  std::string raw = name_args_header_ + call_->raw();
  call_.reset();
  name_args_header_.clear();
  pending_newlines_ = newlines_before_tool_;
  newlines_before_tool_ = 0;
  strip_leading_newlines_ = false;
  EmitText(Channel::kContent, raw, out);
}

}  // namespace llmux::chat
