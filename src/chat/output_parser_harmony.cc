// ChatOutputParser for gpt-oss's harmony format (ToolCallSyntax::kHarmony): the reply is a
// sequence of messages, each a header up to <|message|> and a body up to its end token. The
// header's channel routes the body: analysis is reasoning, a recipient to=functions.NAME makes
// the body that function's arguments, anything else (final, a commentary preamble) is content.
#include <algorithm>
#include <array>

#include "chat/output_parser.h"
#include "chat/text_util.h"

namespace llmux::chat {
namespace {

constexpr std::string_view kMessage = "<|message|>";
constexpr std::string_view kChannel = "<|channel|>";
constexpr std::string_view kStart = "<|start|>";
// Tokens that end a body; <|start|> and <|channel|> begin the next header (an engine that does
// not decode the end token leaves them as the boundary), so they are not consumed.
constexpr std::array<std::string_view, 5> kBodyEnds = {"<|end|>", "<|call|>", "<|return|>", kStart,
                                                       kChannel};
// A header is a few tokens (role, channel, recipient, constraint); a longer one is text.
constexpr size_t kMaxHeaderBytes = 1024;

// The word after `key` in a header, up to whitespace or the next special token.
std::string_view HeaderWord(std::string_view header, std::string_view key) {
  const size_t at = header.find(key);
  if (at == std::string_view::npos) return {};
  std::string_view rest = header.substr(at + key.size());
  size_t end = 0;
  while (end < rest.size() && rest[end] != ' ' && rest[end] != '\n' && rest[end] != '\t' &&
         rest.substr(end, 2) != "<|") {
    ++end;
  }
  return rest.substr(0, end);
}

// Whether text can begin a header: one of its special tokens, or a recipient.
bool MayStartHeader(std::string_view text) {
  for (std::string_view start :
       {std::string_view("<|"), std::string_view(" to="), std::string_view("to=")}) {
    const size_t n = std::min(start.size(), text.size());
    if (text.substr(0, n) == start.substr(0, n)) return true;
  }
  return false;
}

}  // namespace

bool ChatOutputParser::StepHarmonyHeader(bool final, ChatDelta& out) {
  // Each decision depends on a prefix of the text only, so that it does not depend on how the
  // text was split: its first bytes, then where (or whether) <|message|> comes.
  if (!buf_.empty() && !MayStartHeader(buf_)) {  // text where a header belongs: content
    harmony_route_ = HarmonyRoute::kContent;
    state_ = State::kHarmonyBody;
    return true;
  }
  const size_t at = buf_.find(kMessage);
  const bool too_long = at == std::string::npos ? buf_.size() >= kMaxHeaderBytes + kMessage.size()
                                                : at > kMaxHeaderBytes;
  if (too_long) {  // no header: the rest of the reply is plain text
    state_ = State::kContent;
    return true;
  }
  if (at == std::string::npos) {
    if (!final) return false;
    // The end of output inside a header (e.g. "<|start|>assistant" before the model stopped):
    // protocol, not text.
    FlushNewlines(Channel::kContent, out);
    buf_.clear();
    state_ = State::kDone;
    return false;
  }
  const std::string_view header = std::string_view(buf_).substr(0, at);
  const std::string_view channel = HeaderWord(header, kChannel);
  const std::string_view recipient = HeaderWord(header, "to=");
  constexpr std::string_view kFunctions = "functions.";
  if (options_.parse_tool_calls && recipient.starts_with(kFunctions) &&
      recipient.size() > kFunctions.size()) {
    harmony_route_ = HarmonyRoute::kCall;
    harmony_header_ = buf_.substr(0, at + kMessage.size());
    call_.emplace(ToolBodySyntax::kArguments, std::string(recipient.substr(kFunctions.size())));
  } else if (channel == "analysis") {
    harmony_route_ = HarmonyRoute::kReasoning;
  } else {
    harmony_route_ = HarmonyRoute::kContent;
  }
  buf_.erase(0, at + kMessage.size());
  state_ = State::kHarmonyBody;
  return true;
}

bool ChatOutputParser::StepHarmonyBody(bool final, ChatDelta& out) {
  size_t end = std::string::npos;
  std::string_view tag;
  for (std::string_view t : kBodyEnds) {
    const size_t pos = buf_.find(t);
    if (pos < end) {
      end = pos;
      tag = t;
    }
  }
  size_t n = end;
  if (end == std::string::npos) {
    size_t keep = 0;
    if (!final) {
      for (std::string_view t : kBodyEnds) {
        keep = std::max(keep, text::PartialSuffixLength(buf_, t));
      }
    }
    n = Utf8Safe(buf_.size() - keep, final);
  }
  const std::string_view body = std::string_view(buf_).substr(0, n);
  const Channel channel =
      harmony_route_ == HarmonyRoute::kReasoning ? Channel::kReasoning : Channel::kContent;
  if (harmony_route_ == HarmonyRoute::kCall) {
    EmitCallPiece(call_->Feed(body), out);
  } else {
    EmitText(channel, body, out);
  }
  const bool ended = end != std::string::npos;
  if (ended) {
    const bool consumed = tag != kStart && tag != kChannel;
    buf_.erase(0, consumed ? end + tag.size() : end);
  } else {
    buf_.erase(0, n);
  }
  if (!ended && !final) return false;
  // The message ended: its trailing newlines are its text.
  if (harmony_route_ == HarmonyRoute::kCall) {
    EndHarmonyCall(out);
  } else {
    FlushNewlines(channel, out);
  }
  if (state_ == State::kDone) return false;
  state_ = ended ? State::kHarmonyHeader : State::kDone;
  return ended;
}

void ChatOutputParser::EndHarmonyCall(ChatDelta& out) {
  ToolCallStream::End end = call_->Finish();
  if (end.is_call) {
    EmitCallPiece(std::move(end.piece), out);
    call_.reset();
    harmony_header_.clear();
    CountCompletedCall();
    return;
  }
  // Not a call: the message is text, header included.
  EmitText(Channel::kContent, harmony_header_ + call_->raw(), out);
  FlushNewlines(Channel::kContent, out);
  call_.reset();
  harmony_header_.clear();
}

}  // namespace llmux::chat
