#include "gateway/openai/responses_format.h"

#include "gateway/openai/openai_format.h"
#include "gateway/openai/responses_request.h"

namespace llmux::gateway {

namespace {

using Json = chat::Json;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json EchoOr(const Json& echo, const char* name, Json fallback) {
  auto it = echo.find(name);
  return it == echo.end() ? fallback : *it;
}

Json UsageJson(const serving::Usage& u) {
  return {{"input_tokens", u.prompt_tokens},
          {"input_tokens_details", {{"cached_tokens", u.cached_tokens}}},
          {"output_tokens", u.completion_tokens},
          // The engine does not count thinking tokens apart from the answer's.
          {"output_tokens_details", {{"reasoning_tokens", 0}}},
          {"total_tokens", u.total_tokens()}};
}

}  // namespace

ResponseBuilder::ResponseBuilder(ResponsesMeta meta) : meta_(std::move(meta)) {}

std::string ResponseBuilder::Event(const char* type, Json data) {
  Json j = {{"type", type}, {"sequence_number", sequence_++}};
  for (auto& [k, v] : data.items()) j[k] = std::move(v);
  return std::string("event: ") + type + "\ndata: " + Dump(j) + "\n\n";
}

Json ResponseBuilder::ItemJson(const Item& item) const {
  const char* status = item.done ? "completed" : "in_progress";
  switch (item.kind) {
    case Kind::kReasoning: {
      Json content = Json::array();
      if (item.done) content.push_back({{"type", "reasoning_text"}, {"text", item.text}});
      return {{"id", item.id},
              {"type", "reasoning"},
              {"summary", Json::array()},
              {"content", content},
              {"status", status}};
    }
    case Kind::kMessage: {
      Json content = Json::array();
      if (item.done) {
        content.push_back({{"type", "output_text"},
                           {"text", item.text},
                           {"annotations", Json::array()},
                           {"logprobs", Json::array()}});
      }
      return {{"id", item.id},
              {"type", "message"},
              {"status", status},
              {"role", "assistant"},
              {"content", content}};
    }
    case Kind::kFunctionCall:
      break;
  }
  return {{"id", item.id},           {"type", "function_call"},
          {"status", status},        {"arguments", item.done ? item.text : ""},
          {"call_id", item.call_id}, {"name", item.name}};
}

std::string ResponseBuilder::CloseOpen() {
  if (items_.empty() || items_.back().done) return "";
  Item& item = items_.back();
  const int index = static_cast<int>(items_.size()) - 1;
  item.done = true;
  std::string events;
  const Json where = {{"item_id", item.id}, {"output_index", index}};
  switch (item.kind) {
    case Kind::kReasoning: {
      Json done = where;
      done["content_index"] = 0;
      done["text"] = item.text;
      events += Event("response.reasoning_text.done", done);
      Json part = where;
      part["content_index"] = 0;
      part["part"] = {{"type", "reasoning_text"}, {"text", item.text}};
      events += Event("response.content_part.done", part);
      break;
    }
    case Kind::kMessage: {
      Json done = where;
      done["content_index"] = 0;
      done["text"] = item.text;
      done["logprobs"] = Json::array();
      events += Event("response.output_text.done", done);
      Json part = where;
      part["content_index"] = 0;
      part["part"] = {{"type", "output_text"},
                      {"text", item.text},
                      {"annotations", Json::array()},
                      {"logprobs", Json::array()}};
      events += Event("response.content_part.done", part);
      break;
    }
    case Kind::kFunctionCall: {
      Json done = where;
      done["name"] = item.name;
      done["arguments"] = item.text;
      events += Event("response.function_call_arguments.done", done);
      break;
    }
  }
  events += Event("response.output_item.done", {{"output_index", index}, {"item", ItemJson(item)}});
  return events;
}

ResponseBuilder::Item& ResponseBuilder::Open(Kind kind, int tool_index, std::string& events) {
  if (!items_.empty() && !items_.back().done && items_.back().kind == kind &&
      items_.back().tool_index == tool_index) {
    return items_.back();
  }
  events += CloseOpen();
  Item item;
  item.kind = kind;
  item.tool_index = tool_index;
  item.id = NewResponseId(kind == Kind::kReasoning ? "rs_"
                          : kind == Kind::kMessage ? "msg_"
                                                   : "fc_");
  items_.push_back(std::move(item));
  return items_.back();
}

std::string ResponseBuilder::Added(const Item& item) {
  const int index = static_cast<int>(items_.size()) - 1;
  std::string events =
      Event("response.output_item.added", {{"output_index", index}, {"item", ItemJson(item)}});
  if (item.kind == Kind::kFunctionCall) return events;
  Json part = item.kind == Kind::kMessage ? Json{{"type", "output_text"},
                                                 {"text", ""},
                                                 {"annotations", Json::array()},
                                                 {"logprobs", Json::array()}}
                                          : Json{{"type", "reasoning_text"}, {"text", ""}};
  events +=
      Event("response.content_part.added",
            {{"item_id", item.id}, {"output_index", index}, {"content_index", 0}, {"part", part}});
  return events;
}

std::string ResponseBuilder::StartEvents() {
  Json response = Response("in_progress", nullptr);
  std::string events = Event("response.created", {{"response", response}});
  events += Event("response.in_progress", {{"response", response}});
  return events;
}

std::string ResponseBuilder::Add(const serving::Delta& d) {
  std::string events;
  auto text_delta = [&](Kind kind, const std::string& text, const char* type) {
    const size_t before = items_.size();
    Item& item = Open(kind, -1, events);
    if (items_.size() != before) events += Added(item);
    item.text += text;
    Json data = {{"item_id", item.id},
                 {"output_index", static_cast<int>(items_.size()) - 1},
                 {"content_index", 0},
                 {"delta", text}};
    if (kind == Kind::kMessage) data["logprobs"] = Json::array();
    events += Event(type, data);
  };
  if (!d.reasoning.empty())
    text_delta(Kind::kReasoning, d.reasoning, "response.reasoning_text.delta");
  if (!d.content.empty()) text_delta(Kind::kMessage, d.content, "response.output_text.delta");
  for (const serving::ToolCallDelta& c : d.tool_calls) {
    const size_t before = items_.size();
    Item& item = Open(Kind::kFunctionCall, c.index, events);
    item.name += c.name;
    if (items_.size() != before) {
      item.call_id = c.id.empty() ? NewResponseId("call_") : c.id;
      events += Added(item);
    }
    if (c.arguments.empty()) continue;
    item.text += c.arguments;
    events += Event("response.function_call_arguments.delta",
                    {{"item_id", item.id},
                     {"output_index", static_cast<int>(items_.size()) - 1},
                     {"delta", c.arguments}});
  }
  return events;
}

Json ResponseBuilder::Response(const char* status, const serving::Finish* finish) const {
  const Json& e = meta_.echo;
  Json output = Json::array();
  for (const Item& item : items_) output.push_back(ItemJson(item));
  Json r = {{"id", meta_.id},   {"object", "response"}, {"created_at", meta_.created_at},
            {"status", status}, {"background", false},  {"error", nullptr}};
  r["incomplete_details"] =
      std::string(status) == "incomplete" ? Json{{"reason", "max_output_tokens"}} : Json(nullptr);
  r["instructions"] = EchoOr(e, "instructions", nullptr);
  r["max_output_tokens"] = EchoOr(e, "max_output_tokens", nullptr);
  r["metadata"] = EchoOr(e, "metadata", Json::object());
  r["model"] = meta_.model;
  r["output"] = std::move(output);
  r["parallel_tool_calls"] = EchoOr(e, "parallel_tool_calls", true);
  r["previous_response_id"] =
      meta_.previous_response_id.empty() ? Json(nullptr) : Json(meta_.previous_response_id);
  r["reasoning"] = EchoOr(e, "reasoning", Json{{"effort", nullptr}, {"summary", nullptr}});
  r["store"] = meta_.store;
  r["temperature"] = EchoOr(e, "temperature", 1.0);
  r["text"] = EchoOr(e, "text", Json{{"format", {{"type", "text"}}}});
  r["tool_choice"] = EchoOr(e, "tool_choice", "auto");
  r["tools"] = EchoOr(e, "tools", Json::array());
  r["top_p"] = EchoOr(e, "top_p", 1.0);
  r["truncation"] = "disabled";
  r["usage"] = finish ? UsageJson(finish->usage) : Json(nullptr);
  return r;
}

std::string ResponseBuilder::FinishEvents(const serving::Finish& finish) {
  std::string events;
  // A reply with no output at all still has its (empty) message, as OpenAI's does.
  if (items_.empty()) events += Added(Open(Kind::kMessage, -1, events));
  events += CloseOpen();
  const bool incomplete = finish.reason == serving::FinishReason::kLength;
  Json response = Response(incomplete ? "incomplete" : "completed", &finish);
  events +=
      Event(incomplete ? "response.incomplete" : "response.completed", {{"response", response}});
  return events;
}

std::string ResponseBuilder::ResponseJson(const serving::Finish& finish) {
  if (items_.empty()) {
    std::string ignored;
    Open(Kind::kMessage, -1, ignored);
  }
  CloseOpen();
  const bool incomplete = finish.reason == serving::FinishReason::kLength;
  return Dump(Response(incomplete ? "incomplete" : "completed", &finish));
}

std::string ResponseBuilder::ErrorEvent(const Status& status) {
  Json error = Json::parse(ErrorJson(status))["error"];
  return Event("error",
               {{"code", error["code"]}, {"message", error["message"]}, {"param", error["param"]}});
}

chat::Message ResponseBuilder::AssistantMessage() const {
  chat::Message m = MakeMessage("assistant", "");
  for (const Item& item : items_) {
    if (item.kind == Kind::kMessage) m.content += item.text;
    if (item.kind == Kind::kFunctionCall) {
      m.tool_calls.push_back(chat::ToolCall{item.call_id, item.name, item.text});
    }
  }
  return m;
}

}  // namespace llmux::gateway
