#include "chat/output_parser.h"

#include <algorithm>
#include <random>

#include "chat/text_util.h"

namespace llmux::chat {
namespace {

constexpr std::string_view kPythonTag = "<|python_tag|>";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

void ChatDelta::Append(const ChatDelta& other) {
  reasoning += other.reasoning;
  content += other.content;
  for (const ToolCallDelta& call : other.tool_calls) {
    if (!tool_calls.empty() && call.id.empty() && call.name.empty() &&
        tool_calls.back().index == call.index) {
      tool_calls.back().arguments += call.arguments;
    } else {
      tool_calls.push_back(call);
    }
  }
}

std::string RandomToolCallId() {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{(static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                   std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kAlphabet[pick(rng)];
  return id;
}

ChatOutputParser::ChatOutputParser(OutputFormat format, ParserOptions options)
    : format_(std::move(format)), options_(std::move(options)) {
  if (format_.think_close.empty()) format_.think_open.clear();
  if (!format_.think_close.empty() && format_.starts_in_think) {
    state_ = State::kReasoning;
    strip_leading_newlines_ = true;
  }
}

ChatDelta ChatOutputParser::Feed(std::string_view text) {
  ChatDelta out;
  if (finished_ || done_with_tools_) return out;
  buf_.append(text);
  Process(/*final=*/false, out);
  total_.Append(out);
  return out;
}

ChatDelta ChatOutputParser::Finish() {
  ChatDelta out;
  if (finished_) return out;
  Process(/*final=*/true, out);
  finished_ = true;
  state_ = State::kDone;
  total_.Append(out);
  return out;
}

void ChatOutputParser::Process(bool final, ChatDelta& out) {
  for (;;) {
    bool again = false;
    switch (state_) {
      case State::kStart: again = StepStart(final); break;
      case State::kReasoning: again = StepReasoning(final, out); break;
      case State::kContent: again = StepContent(final, out); break;
      case State::kToolBody: again = StepToolBody(final, out); break;
      case State::kBareJson: StepBareJson(final, out); break;
      case State::kToolArray:
        again = StepToolArray(final, out);
        break;
      case State::kHarmonyHeader:
        again = StepHarmonyHeader(final, out);
        break;
      case State::kHarmonyBody:
        again = StepHarmonyBody(final, out);
        break;
      case State::kNameArgsHeader:
        again = StepNameArgsHeader(final, out);
        break;
      case State::kNameArgsBody:
        again = StepNameArgsBody(final, out);
        break;
      case State::kDone: break;
    }
    if (!again) return;
  }
}

bool ChatOutputParser::StepStart(bool final) {
  if (format_.tool_syntax == ToolCallSyntax::kHarmony) {
    state_ = State::kHarmonyHeader;
    return true;
  }
  const std::string_view buf = buf_;
  if (!format_.think_open.empty()) {
    if (StartsWith(buf, format_.think_open)) {
      buf_.erase(0, format_.think_open.size());
      state_ = State::kReasoning;
      strip_leading_newlines_ = true;
      return true;
    }
    if (!final && StartsWith(format_.think_open, buf)) return false;  // may still be <think>
  }
  if (format_.tool_syntax == ToolCallSyntax::kBareJson && options_.parse_tool_calls) {
    const size_t first = buf.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
      if (!final) return false;
    } else {
      const std::string_view rest = buf.substr(first);
      if (rest[0] == '{' || StartsWith(rest, kPythonTag)) {
        state_ = State::kBareJson;
        return true;
      }
      if (!final && StartsWith(kPythonTag, rest)) return false;
    }
  }
  state_ = State::kContent;
  return true;
}

bool ChatOutputParser::StepReasoning(bool final, ChatDelta& out) {
  const size_t close = buf_.find(format_.think_close);
  if (close != std::string::npos) {
    EmitText(Channel::kReasoning, std::string_view(buf_).substr(0, close), out);
    pending_newlines_ = 0;  // newlines before </think> are layout
    buf_.erase(0, close + format_.think_close.size());
    state_ = State::kContent;
    strip_leading_newlines_ = true;
    return true;
  }
  const size_t keep = final ? 0 : text::PartialSuffixLength(buf_, format_.think_close);
  const size_t n = Utf8Safe(buf_.size() - keep, final);
  EmitText(Channel::kReasoning, std::string_view(buf_).substr(0, n), out);
  buf_.erase(0, n);
  if (final) FlushNewlines(Channel::kReasoning, out);
  return false;
}

bool ChatOutputParser::StepContent(bool final, ChatDelta& out) {
  std::vector<std::string_view> tags;
  if (options_.parse_tool_calls && (format_.tool_syntax == ToolCallSyntax::kJsonInTags ||
                                    format_.tool_syntax == ToolCallSyntax::kDeepSeek ||
                                    format_.tool_syntax == ToolCallSyntax::kJsonArray ||
                                    format_.tool_syntax == ToolCallSyntax::kNameArgs)) {
    if (!format_.tool_open.empty()) tags.push_back(format_.tool_open);
    for (const auto& t : format_.tool_section_tags) tags.push_back(t);
  }
  size_t best = std::string::npos;
  std::string_view best_tag;
  for (std::string_view tag : tags) {
    const size_t pos = buf_.find(tag);
    if (pos < best) {
      best = pos;
      best_tag = tag;
    }
  }
  if (best != std::string::npos) {
    EmitText(Channel::kContent, std::string_view(buf_).substr(0, best), out);
    const bool opens_call = best_tag == format_.tool_open;
    buf_.erase(0, best + best_tag.size());
    if (opens_call && format_.tool_syntax == ToolCallSyntax::kJsonArray) {
      newlines_before_tool_ = pending_newlines_;
      state_ = State::kToolArray;
      array_phase_ = ArrayPhase::kOpen;
      array_raw_.clear();
      array_first_call_ = calls_started_;
    } else if (opens_call && format_.tool_syntax == ToolCallSyntax::kNameArgs) {
      newlines_before_tool_ = pending_newlines_;
      state_ = State::kNameArgsHeader;
    } else if (opens_call) {
      newlines_before_tool_ = pending_newlines_;
      state_ = State::kToolBody;
    } else {
      strip_leading_newlines_ = true;  // a section wrapper: layout around it is dropped
    }
    pending_newlines_ = 0;
    return true;
  }
  size_t keep = 0;
  if (!final) {
    for (std::string_view tag : tags) keep = std::max(keep, text::PartialSuffixLength(buf_, tag));
  }
  const size_t n = Utf8Safe(buf_.size() - keep, final);
  EmitText(Channel::kContent, std::string_view(buf_).substr(0, n), out);
  buf_.erase(0, n);
  if (final) FlushNewlines(Channel::kContent, out);
  return false;
}

bool ChatOutputParser::StepToolBody(bool final, ChatDelta& out) {
  if (!call_) {
    call_.emplace(format_.tool_syntax == ToolCallSyntax::kDeepSeek ? ToolBodySyntax::kDeepSeek
                                                                   : ToolBodySyntax::kJson);
  }
  const size_t close = buf_.find(format_.tool_close);
  if (close != std::string::npos) {
    EmitCallPiece(call_->Feed(std::string_view(buf_).substr(0, close)), out);
    buf_.erase(0, close + format_.tool_close.size());
    EndToolBlock(/*closed=*/true, out);
    return true;
  }
  // Everything but what may be the start of the closing tag goes to the call now.
  const size_t n =
      final ? buf_.size() : buf_.size() - text::PartialSuffixLength(buf_, format_.tool_close);
  EmitCallPiece(call_->Feed(std::string_view(buf_).substr(0, n)), out);
  buf_.erase(0, n);
  if (!final) return false;
  EndToolBlock(/*closed=*/false, out);
  return true;
}

void ChatOutputParser::StepBareJson(bool final, ChatDelta& out) {
  if (!call_) {
    // StepStart saw '{' or the whole python tag after optional whitespace.
    size_t skip = buf_.find_first_not_of(" \t\r\n");
    if (StartsWith(std::string_view(buf_).substr(skip), kPythonTag)) skip += kPythonTag.size();
    bare_prefix_ = buf_.substr(0, skip);
    buf_.erase(0, skip);
    call_.emplace(ToolBodySyntax::kJson);
  }
  EmitCallPiece(call_->Feed(buf_), out);
  buf_.clear();
  if (!final) return;
  ToolCallStream::End end = call_->Finish();
  if (end.is_call) {
    EmitCallPiece(std::move(end.piece), out);
    ++calls_completed_;
  } else {
    EmitText(Channel::kContent, bare_prefix_ + call_->raw(), out);
    FlushNewlines(Channel::kContent, out);
  }
  call_.reset();
  state_ = State::kDone;
}

void ChatOutputParser::CountCompletedCall() {
  if (options_.max_tool_calls > 0 && ++calls_completed_ >= options_.max_tool_calls) {
    done_with_tools_ = true;
    buf_.clear();
    state_ = State::kDone;
  }
}

// The list after [TOOL_CALLS]: '[', objects separated by ',', ']'. Each object is scanned for
// its end (strings and nesting counted, no recursion) and fed to a ToolCallStream meanwhile.
bool ChatOutputParser::StepToolArray(bool final, ChatDelta& out) {
  size_t i = 0;
  auto consume = [&](size_t n) {
    if (calls_started_ == array_first_call_) array_raw_.append(buf_, i, n);
    i += n;
  };
  while (i < buf_.size()) {
    const char c = buf_[i];
    if (array_phase_ == ArrayPhase::kObject) {
      bool closed = false;
      const size_t k = ScanObject(i, closed);
      EmitCallPiece(call_->Feed(std::string_view(buf_).substr(i, k - i)), out);
      consume(k - i);
      if (!closed) break;
      if (!EndArrayCall(out)) {
        buf_.erase(0, i);
        EndToolArray(/*malformed=*/true, out);
        return true;
      }
      if (state_ == State::kDone) return false;  // max_tool_calls reached
      array_phase_ = ArrayPhase::kNext;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      consume(1);
      continue;
    }
    if (array_phase_ == ArrayPhase::kOpen && c == '[') {
      array_phase_ = ArrayPhase::kItem;
    } else if (array_phase_ == ArrayPhase::kItem && c == '{') {
      call_.emplace(ToolBodySyntax::kJson);
      object_depth_ = 0;
      object_in_string_ = object_escape_ = false;
      array_phase_ = ArrayPhase::kObject;
      continue;  // the brace is the object's first byte
    } else if (array_phase_ == ArrayPhase::kNext && c == ',') {
      array_phase_ = ArrayPhase::kItem;
    } else if (array_phase_ == ArrayPhase::kNext && c == ']') {
      consume(1);
      buf_.erase(0, i);
      EndToolArray(/*malformed=*/false, out);
      return true;
    } else {
      buf_.erase(0, i);
      EndToolArray(/*malformed=*/true, out);
      return true;
    }
    consume(1);
  }
  buf_.erase(0, i);
  if (!final) return false;
  if (array_phase_ == ArrayPhase::kObject && !EndArrayCall(out)) {
    EndToolArray(/*malformed=*/true, out);
    return true;
  }
  EndToolArray(/*malformed=*/calls_started_ == array_first_call_, out);
  return true;
}

size_t ChatOutputParser::ScanObject(size_t from, bool& closed) {
  closed = false;
  size_t k = from;
  for (; k < buf_.size() && !closed; ++k) {
    const char b = buf_[k];
    if (object_in_string_) {
      if (object_escape_) {
        object_escape_ = false;
      } else if (b == '\\') {
        object_escape_ = true;
      } else if (b == '"') {
        object_in_string_ = false;
      }
    } else if (b == '"') {
      object_in_string_ = true;
    } else if (b == '{' || b == '[') {
      ++object_depth_;
    } else if (b == '}' || b == ']') {
      closed = --object_depth_ == 0;
    }
  }
  return k;
}

bool ChatOutputParser::EndArrayCall(ChatDelta& out) {
  ToolCallStream::End end = call_->Finish();
  call_.reset();
  if (!end.is_call) return false;
  EmitCallPiece(std::move(end.piece), out);
  newlines_before_tool_ = 0;
  CountCompletedCall();
  return true;
}

void ChatOutputParser::EndToolArray(bool malformed, ChatDelta& out) {
  call_.reset();
  state_ = State::kContent;
  if (malformed && calls_started_ == array_first_call_) {
    // Not a list of calls: the opener and what followed it are text.
    pending_newlines_ = newlines_before_tool_;
    strip_leading_newlines_ = false;
    EmitText(Channel::kContent, format_.tool_open + array_raw_, out);
  } else {
    strip_leading_newlines_ = true;  // newlines after the list are layout
  }
  newlines_before_tool_ = 0;
  array_raw_.clear();
}

void ChatOutputParser::EmitCallPiece(ToolCallPiece piece, ChatDelta& out) {
  if (piece.started) {
    ToolCallDelta d;
    d.index = calls_started_++;
    d.id = options_.make_call_id ? options_.make_call_id() : RandomToolCallId();
    d.name = std::move(piece.name);
    d.arguments = std::move(piece.arguments);
    out.tool_calls.push_back(std::move(d));
    newlines_before_tool_ = 0;  // the newlines before the call were layout
    return;
  }
  if (piece.arguments.empty() || calls_started_ == 0) return;
  ChatDelta more;
  more.tool_calls.push_back(ToolCallDelta{calls_started_ - 1, "", "", std::move(piece.arguments)});
  out.Append(more);
}

void ChatOutputParser::EndToolBlock(bool closed, ChatDelta& out) {
  ToolCallStream::End end = call_->Finish();
  state_ = State::kContent;
  if (end.is_call) {
    EmitCallPiece(std::move(end.piece), out);
    call_.reset();
    newlines_before_tool_ = 0;
    strip_leading_newlines_ = true;  // newlines after </tool_call> are layout
    CountCompletedCall();
    return;
  }
  // Not a call: the block is ordinary text, newlines before it included.
  std::string raw = format_.tool_open;
  raw.append(call_->raw());
  if (closed) raw += format_.tool_close;
  call_.reset();
  pending_newlines_ = newlines_before_tool_;
  newlines_before_tool_ = 0;
  strip_leading_newlines_ = false;
  EmitText(Channel::kContent, raw, out);
}

void ChatOutputParser::EmitText(Channel channel, std::string_view text, ChatDelta& out) {
  std::string& dst = channel == Channel::kReasoning ? out.reasoning : out.content;
  if (strip_leading_newlines_) {
    text = text::LStripNewlines(text);
    if (text.empty()) return;
    strip_leading_newlines_ = false;
  }
  if (text.empty()) return;
  const size_t last = text.find_last_not_of('\n');
  if (last == std::string_view::npos) {
    pending_newlines_ += text.size();
    return;
  }
  dst.append(pending_newlines_, '\n');
  dst.append(text.substr(0, last + 1));
  pending_newlines_ = text.size() - last - 1;
}

void ChatOutputParser::FlushNewlines(Channel channel, ChatDelta& out) {
  std::string& dst = channel == Channel::kReasoning ? out.reasoning : out.content;
  dst.append(pending_newlines_, '\n');
  pending_newlines_ = 0;
}

size_t ChatOutputParser::Utf8Safe(size_t limit, bool final) const {
  if (final) return limit;
  return text::Utf8CompletePrefix(std::string_view(buf_).substr(0, limit));
}

}  // namespace llmux::chat
