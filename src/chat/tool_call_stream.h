// Incremental parser of one generated tool call: the body between a template's call tags, or a
// whole bare-JSON reply (Llama 3.1). It announces the call as soon as its name is known and then
// passes on the arguments object piece by piece as it is generated, so that front ends can
// stream arguments the way OpenAI and Anthropic do.
//
// A body streams when it starts the usual way:
//   kJson:     {"name": "f", "arguments": {      ("parameters" is accepted for "arguments")
//   kDeepSeek: ...<｜tool▁sep｜>f\n```json\n{      (the fence is optional)
//   kArguments: {                                  (the name given to the constructor)
// Arguments pieces are the object's text with whitespace outside strings dropped (compact JSON
// for a well-formed object), never cut inside a UTF-8 sequence. What follows the object (the
// closing brace, the fence) is ignored. A body that starts otherwise (other key order,
// arguments as a JSON string, no arguments) is held whole and parsed at Finish() with
// tool_call_syntax.h, as before streaming; one that does not parse is not a call and raw()
// gives it back. Once a call was announced it stays a call: an arguments object that never
// closes, or nests deeper than kMaxJsonNesting, ends the arguments where it stopped.
// Memory: the announced-call path keeps only an incomplete UTF-8 tail; the held path keeps the
// body, which the request's token limit bounds.
#pragma once

#include <string>
#include <string_view>

namespace llmux::chat {

// kArguments: the body is the arguments object itself, the name known from elsewhere (harmony's
// to=functions.NAME header).
enum class ToolBodySyntax { kJson, kDeepSeek, kArguments };

struct ToolCallPiece {
  bool started = false;  // the call is announced with this piece (name is set)
  std::string name;
  std::string arguments;  // the next fragment of the arguments text (may be empty)
};

class ToolCallStream {
 public:
  explicit ToolCallStream(ToolBodySyntax syntax, std::string name = {})
      : syntax_(syntax), name_(std::move(name)) {}

  // Consumes the next bytes of the body.
  ToolCallPiece Feed(std::string_view text);

  struct End {
    bool is_call = false;  // false: the body is not a call (never announced); see raw()
    ToolCallPiece piece;   // what is left to emit (the whole call if it was held)
  };
  // The body ended (its closing tag, or the end of generation).
  End Finish();

  bool started() const { return phase_ == Phase::kArguments || phase_ == Phase::kTail; }
  // The arguments object closed (or was abandoned as too deep).
  bool arguments_done() const { return phase_ == Phase::kTail; }
  // The body as received; only while the call was not announced.
  const std::string& raw() const { return raw_; }

  // The most bytes before the arguments object that are searched for the call's start; a longer
  // preamble makes the body held whole.
  static constexpr size_t kMaxHeaderBytes = 4096;

 private:
  enum class Phase { kHeader, kHeld, kArguments, kTail };
  enum class HeaderMatch { kMore, kYes, kNo };

  HeaderMatch MatchHeader();
  HeaderMatch MatchJsonHeader();
  HeaderMatch MatchDeepSeekHeader();
  HeaderMatch MatchArgumentsHeader();
  // Scans arguments bytes, appending what is emitted to pending_.
  void ScanArguments(std::string_view text);
  // Moves the UTF-8-complete part of pending_ (all of it when `all`) to `out`.
  void TakePending(std::string& out, bool all);

  ToolBodySyntax syntax_;
  Phase phase_ = Phase::kHeader;
  std::string raw_;
  std::string name_;
  size_t args_start_ = 0;  // in raw_, set when the header matched
  std::string pending_;    // arguments text not yet emitted
  int depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
};

}  // namespace llmux::chat
