// Serving-core results to Anthropic Messages API JSON: the whole message, the streamed SSE
// events (message_start, content_block_start/delta/stop, message_delta, message_stop, ping,
// error), the count_tokens reply and the error object.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

// Identity of one message: its id ("msg_...") and model.
struct MessageMeta {
  std::string id;
  std::string model;
};

std::string NewMessageId();  // "msg_" + 24 random hex digits
std::string NewToolUseId();  // "toolu_" + 24 random hex digits

// end_turn, max_tokens, tool_use, or stop_sequence when one of stop_sequences ended generation.
const char* StopReason(const serving::Finish& finish);

// Accumulates deltas into the whole message: content blocks thinking?, text?, tool_use*.
class MessageAccumulator {
 public:
  void Add(const serving::Delta& delta);
  std::string MessageJson(const MessageMeta& meta, const serving::Finish& finish) const;

 private:
  std::string thinking_;
  std::string text_;
  std::vector<serving::ToolCallDelta> tool_calls_;  // merged by index
};

// Turns deltas into Anthropic's stream events, opening and closing content blocks as the kind
// of output changes (thinking, text, one block per tool call). Each call returns zero or more
// whole "event: ...\ndata: {...}\n\n" events.
class MessageEventStream {
 public:
  explicit MessageEventStream(MessageMeta meta) : meta_(std::move(meta)) {}
  // message_start (usage.input_tokens 0: the prompt's size is known at the finish, sent in
  // message_delta) and a ping.
  std::string Start() const;
  std::string Add(const serving::Delta& delta);
  // The open block's content_block_stop, message_delta (stop_reason, usage) and message_stop.
  std::string Finish(const serving::Finish& finish);

 private:
  enum class Block { kNone, kThinking, kText, kToolUse };
  std::string Open(Block kind, const serving::ToolCallDelta* call);
  std::string Close();

  MessageMeta meta_;
  Block open_ = Block::kNone;
  int index_ = -1;       // the open (or last) block's index
  int tool_index_ = -1;  // the serving index of the open tool call
};

std::string AnthropicErrorEvent(const Status& status);
std::string CountTokensJson(int input_tokens);

// Anthropic's {"type": "error", "error": {"type", "message"}}; the HTTP status is
// http::HttpStatusFor's.
std::string AnthropicErrorJson(const Status& status);
std::string AnthropicErrorJson(int http_status, const std::string& message);

}  // namespace llmux::gateway
