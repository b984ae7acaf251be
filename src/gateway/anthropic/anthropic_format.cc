#include "gateway/anthropic/anthropic_format.h"

#include <nlohmann/json.hpp>
#include <random>

#include "net/http/http_status.h"

namespace llmux::gateway {

namespace {

using Json = nlohmann::ordered_json;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string RandomId(const char* prefix) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* kHex = "0123456789abcdef";
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id += kHex[rng() & 15];
  return id;
}

std::string Event(const char* name, const Json& data) {
  return std::string("event: ") + name + "\ndata: " + Dump(data) + "\n\n";
}

// Tool-call arguments as the object Anthropic's `input` is; text that is not a JSON object
// (a model's malformed call) is kept under "raw" rather than lost.
Json InputObject(const std::string& arguments) {
  if (arguments.empty()) return Json::object();
  Json j = Json::parse(arguments, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) return j;
  return Json{{"raw", arguments}};
}

const char* ErrorType(int http) {
  switch (http) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
      return "overloaded_error";
    default:
      return http < 500 ? "invalid_request_error" : "api_error";
  }
}

}  // namespace

std::string NewMessageId() { return RandomId("msg_"); }
std::string NewToolUseId() { return RandomId("toolu_"); }

const char* StopReason(const serving::Finish& finish) {
  if (!finish.stop_sequence.empty()) return "stop_sequence";
  switch (finish.reason) {
    case serving::FinishReason::kLength:
      return "max_tokens";
    case serving::FinishReason::kToolCalls:
      return "tool_use";
    default:
      return "end_turn";
  }
}

void MessageAccumulator::Add(const serving::Delta& d) {
  thinking_ += d.reasoning;
  text_ += d.content;
  for (const serving::ToolCallDelta& c : d.tool_calls) {
    if (c.index < 0) continue;
    if (c.index >= static_cast<int>(tool_calls_.size())) tool_calls_.resize(c.index + 1);
    serving::ToolCallDelta& t = tool_calls_[c.index];
    if (!c.name.empty()) t.name = c.name;
    t.arguments += c.arguments;
  }
}

// The stop sequence that ended generation, or null.
static Json StopSequence(const serving::Finish& finish) {
  return finish.stop_sequence.empty() ? Json(nullptr) : Json(finish.stop_sequence);
}

std::string MessageAccumulator::MessageJson(const MessageMeta& meta,
                                            const serving::Finish& finish) const {
  Json content = Json::array();
  if (!thinking_.empty()) {
    content.push_back(Json{{"type", "thinking"}, {"thinking", thinking_}, {"signature", ""}});
  }
  if (!text_.empty() || (thinking_.empty() && tool_calls_.empty())) {
    content.push_back(Json{{"type", "text"}, {"text", text_}});
  }
  for (const serving::ToolCallDelta& t : tool_calls_) {
    if (t.name.empty()) continue;
    content.push_back(Json{{"type", "tool_use"},
                           {"id", NewToolUseId()},
                           {"name", t.name},
                           {"input", InputObject(t.arguments)}});
  }
  return Dump(Json{{"id", meta.id},
                   {"type", "message"},
                   {"role", "assistant"},
                   {"model", meta.model},
                   {"content", std::move(content)},
                   {"stop_reason", StopReason(finish)},
                   {"stop_sequence", StopSequence(finish)},
                   {"usage",
                    {{"input_tokens", finish.usage.prompt_tokens},
                     {"output_tokens", finish.usage.completion_tokens}}}});
}

std::string MessageEventStream::Start() const {
  Json message{{"id", meta_.id},           {"type", "message"},
               {"role", "assistant"},      {"model", meta_.model},
               {"content", Json::array()}, {"stop_reason", nullptr},
               {"stop_sequence", nullptr}, {"usage", {{"input_tokens", 0}, {"output_tokens", 0}}}};
  return Event("message_start", Json{{"type", "message_start"}, {"message", std::move(message)}}) +
         Event("ping", Json{{"type", "ping"}});
}

std::string MessageEventStream::Open(Block kind, const serving::ToolCallDelta* call) {
  std::string out = Close();
  open_ = kind;
  ++index_;
  Json block;
  if (kind == Block::kThinking) {
    block = Json{{"type", "thinking"}, {"thinking", ""}, {"signature", ""}};
  } else if (kind == Block::kText) {
    block = Json{{"type", "text"}, {"text", ""}};
  } else {
    tool_index_ = call->index;
    block = Json{{"type", "tool_use"},
                 {"id", NewToolUseId()},
                 {"name", call->name},
                 {"input", Json::object()}};
  }
  out += Event("content_block_start", Json{{"type", "content_block_start"},
                                           {"index", index_},
                                           {"content_block", std::move(block)}});
  return out;
}

std::string MessageEventStream::Close() {
  if (open_ == Block::kNone) return "";
  open_ = Block::kNone;
  return Event("content_block_stop", Json{{"type", "content_block_stop"}, {"index", index_}});
}

std::string MessageEventStream::Add(const serving::Delta& d) {
  std::string out;
  auto delta = [&](Json body) {
    out +=
        Event("content_block_delta",
              Json{{"type", "content_block_delta"}, {"index", index_}, {"delta", std::move(body)}});
  };
  if (!d.reasoning.empty()) {
    if (open_ != Block::kThinking) out += Open(Block::kThinking, nullptr);
    delta(Json{{"type", "thinking_delta"}, {"thinking", d.reasoning}});
  }
  if (!d.content.empty()) {
    if (open_ != Block::kText) out += Open(Block::kText, nullptr);
    delta(Json{{"type", "text_delta"}, {"text", d.content}});
  }
  for (const serving::ToolCallDelta& c : d.tool_calls) {
    if (open_ != Block::kToolUse || c.index != tool_index_) {
      if (c.name.empty()) continue;  // arguments of a call that never started
      out += Open(Block::kToolUse, &c);
    }
    if (!c.arguments.empty())
      delta(Json{{"type", "input_json_delta"}, {"partial_json", c.arguments}});
  }
  return out;
}

std::string MessageEventStream::Finish(const serving::Finish& finish) {
  std::string out = Close();
  out += Event(
      "message_delta",
      Json{
          {"type", "message_delta"},
          {"delta", {{"stop_reason", StopReason(finish)}, {"stop_sequence", StopSequence(finish)}}},
          {"usage",
           {{"input_tokens", finish.usage.prompt_tokens},
            {"output_tokens", finish.usage.completion_tokens}}}});
  out += Event("message_stop", Json{{"type", "message_stop"}});
  return out;
}

std::string AnthropicErrorEvent(const Status& status) {
  return Event("error", Json::parse(AnthropicErrorJson(status)));
}

std::string CountTokensJson(int input_tokens) { return Dump(Json{{"input_tokens", input_tokens}}); }

std::string AnthropicErrorJson(const Status& status) {
  return AnthropicErrorJson(http::HttpStatusFor(status), status.message());
}

std::string AnthropicErrorJson(int http_status, const std::string& message) {
  return Dump(
      Json{{"type", "error"}, {"error", {{"type", ErrorType(http_status)}, {"message", message}}}});
}

}  // namespace llmux::gateway
