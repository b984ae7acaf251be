// ChatOutputParser: splits a model's streamed text into reasoning, content and tool calls.
//
// One parser per request, made by ChatTemplate::MakeParser (or from an OutputFormat). Feed it
// the decoded text pieces as they arrive; each call returns what can be emitted now. Finish()
// at the end of generation returns what was held back. The concatenation of all deltas does
// not depend on how the text was split into pieces (one byte at a time or all at once).
//
// Rules (for Qwen3's format; other formats swap the tags):
//  * Reasoning: with thinking on, output that starts with <think> is reasoning up to </think>
//    (or to the end when it never closes). With OutputFormat::starts_in_think the output is
//    reasoning from the first byte. Elsewhere <think> is ordinary text; with thinking off
//    everything is content.
//  * Newlines next to tags are layout, not text, as the chat templates treat them: newlines
//    right after <think>, </think> and </tool_call> and right before </think> and <tool_call>
//    are dropped (so re-rendering the reply with the template reproduces the model's output).
//  * Tool calls: a <tool_call>...</tool_call> block whose body is a JSON object with a string
//    "name" and an object "arguments" (or "parameters"; a JSON string holding an object is
//    accepted too; missing means {}) becomes a call. A call streams (tool_call_stream.h): its
//    first delta carries index, id and name (arguments empty or a first piece), later deltas
//    the same index and the next pieces of the arguments text (compact JSON). A body in
//    another shape is held and emitted in one delta when its closing tag arrives; a block
//    still open at Finish() ends the same way. Several blocks give several calls (parallel
//    calls), with index 0, 1, ... A held block that does not parse is returned as content,
//    tags included (like vLLM). The bare-JSON syntax (Llama 3.1) streams the same way.
//  * Held back: text that may still become a tag ("<tool" could be "<tool_call>"), newlines
//    that may turn out to be layout, the part of a call body that may be its closing tag, and
//    an incomplete UTF-8 sequence at the end of a piece.
//    So every delta is valid UTF-8 when the input is.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/output_format.h"
#include "chat/tool_call_stream.h"

namespace llmux::chat {

struct ToolCallDelta {
  int index = 0;          // position among this reply's tool calls
  // id and name: only in a call's first delta. id: "call_" + 24 random letters and digits
  // (ParserOptions::make_call_id).
  std::string id;
  std::string name;
  std::string arguments;  // the next piece of compact JSON text, e.g. {"city":"Paris"}
};

struct ChatDelta {
  std::string reasoning;
  std::string content;
  std::vector<ToolCallDelta> tool_calls;

  bool empty() const { return reasoning.empty() && content.empty() && tool_calls.empty(); }
  // Appends other's text; a piece of the arguments of the call this delta ends with is merged
  // into that call, so `tool_calls` holds one entry per call.
  void Append(const ChatDelta& other);
};

struct ParserOptions {
  // False when the request has no tools (or tool_choice is "none"): tool-call syntax is then
  // ordinary content.
  bool parse_tool_calls = true;
  // Makes the id of each call; default: "call_" + 24 random alphanumerics.
  std::function<std::string()> make_call_id;
  // More than 0: once this many calls are complete, the rest of the output is dropped and
  // done_with_tools() turns true (parallel_tool_calls false: 1).
  int max_tool_calls = 0;
};

// "call_" + 24 random letters and digits.
std::string RandomToolCallId();

class ChatOutputParser {
 public:
  explicit ChatOutputParser(OutputFormat format, ParserOptions options = {});

  // Consumes a piece of generated text. After Finish() further input is ignored.
  ChatDelta Feed(std::string_view text);
  // End of generation: emits everything held back.
  ChatDelta Finish();

  // Everything emitted so far (the whole reply once Finish() was called).
  const ChatDelta& total() const { return total_; }
  int tool_call_count() const { return static_cast<int>(total_.tool_calls.size()); }
  bool finished() const { return finished_; }
  // ParserOptions::max_tool_calls calls are complete: generation may stop.
  bool done_with_tools() const { return done_with_tools_; }

 private:
  enum class State {
    kStart,
    kReasoning,
    kContent,
    kToolBody,
    kBareJson,
    kToolArray,       // kJsonArray, after its opener
    kHarmonyHeader,   // kHarmony: a message's header, up to <|message|>
    kHarmonyBody,     // kHarmony: a message's body, up to its end token
    kNameArgsHeader,  // kNameArgs: a call's name (and [CALL_ID]), up to tool_args
    kNameArgsBody,    // kNameArgs: a call's arguments object
    kDone
  };
  enum class ArrayPhase { kOpen, kItem, kObject, kNext };
  enum class HarmonyRoute { kReasoning, kContent, kCall };
  enum class Channel { kReasoning, kContent };

  void Process(bool final, ChatDelta& out);
  bool StepStart(bool final);
  bool StepReasoning(bool final, ChatDelta& out);
  bool StepContent(bool final, ChatDelta& out);
  bool StepToolBody(bool final, ChatDelta& out);
  void StepBareJson(bool final, ChatDelta& out);
  bool StepToolArray(bool final, ChatDelta& out);
  // The list is not (or no longer) calls: what was held goes out as content.
  void EndToolArray(bool malformed, ChatDelta& out);
  // Finishes the array's current call object; false when it is no call.
  bool EndArrayCall(ChatDelta& out);
  void CountCompletedCall();
  bool StepHarmonyHeader(bool final, ChatDelta& out);
  bool StepHarmonyBody(bool final, ChatDelta& out);
  void EndHarmonyCall(ChatDelta& out);
  bool StepNameArgsHeader(bool final, ChatDelta& out);
  bool StepNameArgsBody(bool final, ChatDelta& out);
  // The current call of kNameArgs ended (its object closed, or the output ended).
  void EndNameArgsCall(ChatDelta& out);
  // Scans buf_ from `from` for the end of the JSON object or array being read (strings and
  // nesting counted in object_depth_ / object_in_string_ / object_escape_, no recursion).
  // Returns where the scan stopped: after the closing bracket when `closed`, else buf_.size().
  size_t ScanObject(size_t from, bool& closed);

  // Appends text to a channel, applying the newline layout rules.
  void EmitText(Channel channel, std::string_view text, ChatDelta& out);
  void FlushNewlines(Channel channel, ChatDelta& out);
  // Passes a piece of the current call on as a ToolCallDelta.
  void EmitCallPiece(ToolCallPiece piece, ChatDelta& out);
  // The current call's body ended: its rest, or the raw block as content when it is no call.
  void EndToolBlock(bool closed, ChatDelta& out);
  // How much of buf_ (up to `limit`) can be emitted without cutting a UTF-8 sequence.
  size_t Utf8Safe(size_t limit, bool final) const;

  OutputFormat format_;
  ParserOptions options_;
  State state_ = State::kStart;
  std::string buf_;             // unprocessed input
  size_t pending_newlines_ = 0;  // trailing newlines held back in the current channel
  bool strip_leading_newlines_ = false;
  size_t newlines_before_tool_ = 0;  // given back if the block turns out not to be a call
  bool finished_ = false;
  bool done_with_tools_ = false;
  std::optional<ToolCallStream> call_;  // the call being parsed
  std::string bare_prefix_;  // kBareJson: what came before the object (given back if no call)
  // kToolArray: where in the list, the current object's nesting, and the list's text so far
  // (given back as content while none of its objects became a call).
  ArrayPhase array_phase_ = ArrayPhase::kOpen;
  int object_depth_ = 0;
  bool object_in_string_ = false;
  bool object_escape_ = false;
  std::string array_raw_;
  int array_first_call_ = 0;
  // kHarmonyBody: where the current message's body goes.
  HarmonyRoute harmony_route_ = HarmonyRoute::kContent;
  std::string harmony_header_;  // the call's header, given back if its body is no call
  // kNameArgs: the call's opener, name and tool_args as received, given back if it is no call;
  // whether its body has reached the object's '{'.
  std::string name_args_header_;
  bool name_args_object_ = false;
  int calls_started_ = 0;
  int calls_completed_ = 0;
  ChatDelta total_;
};

}  // namespace llmux::chat
