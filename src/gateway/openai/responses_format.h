// Serving-core deltas to OpenAI Responses-API objects. One ResponseBuilder serves both the
// whole reply and the stream: each delta yields the SSE events for it (`event: <type>` and
// `data: {...}` with a sequence_number) and grows the output items; Finish yields the final
// response object, so a streamed and a whole response carry the same items.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "chat/chat_types.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

struct ResponsesMeta {
  std::string id;  // "resp_..."
  int64_t created_at = 0;
  std::string model;
  std::string previous_response_id;
  bool store = true;
  chat::Json echo = chat::Json::object();  // ParsedResponsesRequest::echo
};

class ResponseBuilder {
 public:
  explicit ResponseBuilder(ResponsesMeta meta);

  // response.created and response.in_progress.
  std::string StartEvents();
  // The events of one delta (empty when it carries no text or tool call).
  std::string Add(const serving::Delta& delta);
  // Closes the open item; the whole response object (status completed, or incomplete when
  // the output hit max_output_tokens).
  std::string ResponseJson(const serving::Finish& finish);
  // Closes the open item and ends the stream: response.completed or response.incomplete.
  std::string FinishEvents(const serving::Finish& finish);
  // An `error` event (OpenAI's {type: error, code, message, param}) for a generation that
  // failed mid-stream.
  std::string ErrorEvent(const Status& status);
  // The assistant's turn as a chat message (content and tool calls), for the stored conversation.
  chat::Message AssistantMessage() const;

 private:
  enum class Kind { kReasoning, kMessage, kFunctionCall };
  struct Item {
    Kind kind = Kind::kMessage;
    std::string id;
    std::string text;  // reasoning or message text, or the call's arguments
    std::string call_id;
    std::string name;
    int tool_index = -1;
    bool done = false;
  };
  std::string Event(const char* type, chat::Json data);
  chat::Json ItemJson(const Item& item) const;
  chat::Json Response(const char* status, const serving::Finish* finish) const;
  // The open item of this kind, or a new one (closing the open one into `events`).
  Item& Open(Kind kind, int tool_index, std::string& events);
  std::string Added(const Item& item);  // output_item.added (and content_part.added)
  std::string CloseOpen();

  ResponsesMeta meta_;
  std::vector<Item> items_;
  int64_t sequence_ = 0;
};

}  // namespace llmux::gateway
