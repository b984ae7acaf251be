#include "chat/tool_call_stream.h"

#include <algorithm>

#include "base/json_nesting.h"
#include "chat/chat_types.h"
#include "chat/text_util.h"
#include "chat/tool_call_syntax.h"

namespace llmux::chat {
namespace {

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

enum class Step { kMore, kYes, kNo };

// A cursor over the header text; each step either matches, needs more text, or fails.
struct Cursor {
  std::string_view s;
  size_t i = 0;

  // Skips whitespace; kMore when the text ends first.
  Step Ws() {
    while (i < s.size() && IsJsonSpace(s[i])) ++i;
    return i < s.size() ? Step::kYes : Step::kMore;
  }
  Step Lit(std::string_view lit) const {
    const size_t n = std::min(lit.size(), s.size() - i);
    if (s.substr(i, n) != lit.substr(0, n)) return Step::kNo;
    return n < lit.size() ? Step::kMore : Step::kYes;
  }
  Step Take(std::string_view lit) {
    const Step r = Lit(lit);
    if (r == Step::kYes) i += lit.size();
    return r;
  }
  // A JSON string starting at i; its value in `out`.
  Step String(std::string& out) {
    if (i >= s.size()) return Step::kMore;
    if (s[i] != '"') return Step::kNo;
    bool escape = false;
    for (size_t j = i + 1; j < s.size(); ++j) {
      if (escape) {
        escape = false;
      } else if (s[j] == '\\') {
        escape = true;
      } else if (s[j] == '"') {
        const std::string_view text = s.substr(i, j + 1 - i);
        Json v = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
        if (!v.is_string()) return Step::kNo;
        out = v.get<std::string>();
        i = j + 1;
        return Step::kYes;
      }
    }
    return Step::kMore;
  }
};

#define LLMUX_STEP(expr)                                 \
  do {                                                   \
    const Step step_ = (expr);                           \
    if (step_ == Step::kMore) return HeaderMatch::kMore; \
    if (step_ == Step::kNo) return HeaderMatch::kNo;     \
  } while (0)

}  // namespace

ToolCallStream::HeaderMatch ToolCallStream::MatchJsonHeader() {
  Cursor c{raw_};
  LLMUX_STEP(c.Ws());
  LLMUX_STEP(c.Take("{"));
  LLMUX_STEP(c.Ws());
  LLMUX_STEP(c.Take("\"name\""));
  LLMUX_STEP(c.Ws());
  LLMUX_STEP(c.Take(":"));
  LLMUX_STEP(c.Ws());
  std::string name;
  LLMUX_STEP(c.String(name));
  if (name.empty()) return HeaderMatch::kNo;
  LLMUX_STEP(c.Ws());
  LLMUX_STEP(c.Take(","));
  LLMUX_STEP(c.Ws());
  const Step args = c.Lit("\"arguments\"");
  const Step params = c.Lit("\"parameters\"");
  if (args == Step::kYes) {
    c.i += 11;
  } else if (params == Step::kYes) {
    c.i += 12;
  } else if (args == Step::kNo && params == Step::kNo) {
    return HeaderMatch::kNo;
  } else {
    return HeaderMatch::kMore;
  }
  LLMUX_STEP(c.Ws());
  LLMUX_STEP(c.Take(":"));
  LLMUX_STEP(c.Ws());
  LLMUX_STEP(c.Lit("{"));
  name_ = std::move(name);
  args_start_ = c.i;
  return HeaderMatch::kYes;
}

ToolCallStream::HeaderMatch ToolCallStream::MatchDeepSeekHeader() {
  static constexpr std::string_view kSep = "<｜tool▁sep｜>";
  const size_t sep = raw_.find(kSep);
  if (sep == std::string::npos) return HeaderMatch::kMore;
  const size_t nl = raw_.find('\n', sep + kSep.size());
  if (nl == std::string::npos) return HeaderMatch::kMore;
  std::string_view name = std::string_view(raw_).substr(sep + kSep.size(), nl - sep - kSep.size());
  while (!name.empty() && IsJsonSpace(name.front())) name.remove_prefix(1);
  while (!name.empty() && IsJsonSpace(name.back())) name.remove_suffix(1);
  if (name.empty()) return HeaderMatch::kNo;
  Cursor c{raw_, nl + 1};
  LLMUX_STEP(c.Ws());
  if (c.Lit("`") == Step::kYes) {
    LLMUX_STEP(c.Take("```"));
    const size_t line_end = raw_.find('\n', c.i);  // skips the "```json" line
    if (line_end == std::string::npos) return HeaderMatch::kMore;
    c.i = line_end + 1;
    LLMUX_STEP(c.Ws());
  }
  LLMUX_STEP(c.Lit("{"));
  name_ = std::string(name);
  args_start_ = c.i;
  return HeaderMatch::kYes;
}

ToolCallStream::HeaderMatch ToolCallStream::MatchArgumentsHeader() {
  if (name_.empty()) return HeaderMatch::kNo;
  Cursor c{raw_};
  LLMUX_STEP(c.Ws());
  LLMUX_STEP(c.Lit("{"));
  args_start_ = c.i;
  return HeaderMatch::kYes;
}

#undef LLMUX_STEP

ToolCallStream::HeaderMatch ToolCallStream::MatchHeader() {
  HeaderMatch m = HeaderMatch::kNo;
  switch (syntax_) {
    case ToolBodySyntax::kJson:
      m = MatchJsonHeader();
      break;
    case ToolBodySyntax::kDeepSeek:
      m = MatchDeepSeekHeader();
      break;
    case ToolBodySyntax::kArguments:
      m = MatchArgumentsHeader();
      break;
  }
  if (m == HeaderMatch::kMore && raw_.size() > kMaxHeaderBytes) return HeaderMatch::kNo;
  return m;
}

void ToolCallStream::ScanArguments(std::string_view text) {
  for (size_t k = 0; k < text.size(); ++k) {
    const char b = text[k];
    if (in_string_) {
      pending_ += b;
      if (escape_) {
        escape_ = false;
      } else if (b == '\\') {
        escape_ = true;
      } else if (b == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (IsJsonSpace(b)) continue;
    if (b == '{' || b == '[') {
      if (depth_ >= kMaxJsonNesting) {  // too deep: the arguments end here
        phase_ = Phase::kTail;
        return;
      }
      ++depth_;
    } else if (b == '}' || b == ']') {
      --depth_;
    } else if (b == '"') {
      in_string_ = true;
    }
    pending_ += b;
    if (depth_ <= 0) {
      phase_ = Phase::kTail;
      return;
    }
  }
}

void ToolCallStream::TakePending(std::string& out, bool all) {
  const size_t n = all ? pending_.size() : text::Utf8CompletePrefix(pending_);
  out.append(pending_, 0, n);
  pending_.erase(0, n);
}

ToolCallPiece ToolCallStream::Feed(std::string_view text) {
  ToolCallPiece piece;
  switch (phase_) {
    case Phase::kHeader: {
      raw_.append(text);
      const HeaderMatch m = MatchHeader();
      if (m == HeaderMatch::kMore) return piece;
      if (m == HeaderMatch::kNo) {
        phase_ = Phase::kHeld;
        return piece;
      }
      phase_ = Phase::kArguments;
      piece.started = true;
      piece.name = name_;
      const std::string rest = raw_.substr(args_start_);
      raw_.clear();
      raw_.shrink_to_fit();
      ScanArguments(rest);
      break;
    }
    case Phase::kHeld:
      raw_.append(text);
      return piece;
    case Phase::kArguments:
      ScanArguments(text);
      break;
    case Phase::kTail:
      return piece;  // the closing brace, a fence: not part of the arguments
  }
  TakePending(piece.arguments, phase_ == Phase::kTail);
  return piece;
}

ToolCallStream::End ToolCallStream::Finish() {
  End end;
  if (started()) {
    end.is_call = true;
    TakePending(end.piece.arguments, /*all=*/true);
    phase_ = Phase::kTail;
    return end;
  }
  std::optional<ParsedToolCall> call;
  switch (syntax_) {
    case ToolBodySyntax::kJson:
      call = ParseJsonToolCall(raw_);
      break;
    case ToolBodySyntax::kDeepSeek:
      call = ParseDeepSeekToolCall(raw_);
      break;
    case ToolBodySyntax::kArguments:
      call = ParseArgumentsToolCall(name_, raw_);
      break;
  }
  if (!call) return end;
  end.is_call = true;
  end.piece.started = true;
  end.piece.name = std::move(call->name);
  end.piece.arguments = std::move(call->arguments);
  phase_ = Phase::kTail;
  return end;
}

}  // namespace llmux::chat
