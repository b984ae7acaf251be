#include "mcp/json_rpc.h"

namespace llmux::mcp {

namespace {

bool ValidId(const Json& id) { return id.is_string() || id.is_number_integer(); }

}  // namespace

Result<Message> ParseMessage(const Json& value, Json* id) {
  *id = nullptr;
  if (!value.is_object()) return InvalidArgumentError("a JSON-RPC message must be an object");
  auto version = value.find("jsonrpc");
  if (version == value.end() || *version != "2.0") {
    if (value.contains("id") && ValidId(value["id"])) *id = value["id"];
    return InvalidArgumentError("\"jsonrpc\" must be \"2.0\"");
  }
  Message m;
  auto id_it = value.find("id");
  const bool has_id = id_it != value.end();
  if (has_id) {
    if (!ValidId(*id_it)) return InvalidArgumentError("\"id\" must be a string or an integer");
    *id = *id_it;
    m.id = *id_it;
  }
  auto method = value.find("method");
  if (method != value.end()) {
    if (!method->is_string()) return InvalidArgumentError("\"method\" must be a string");
    m.method = method->get<std::string>();
    m.kind = has_id ? Message::Kind::kRequest : Message::Kind::kNotification;
    auto params = value.find("params");
    if (params != value.end()) {
      if (!params->is_object()) return InvalidArgumentError("\"params\" must be an object");
      m.params = *params;
    }
    return m;
  }
  if (!has_id) return InvalidArgumentError("a message needs a \"method\" or an \"id\"");
  m.kind = Message::Kind::kResponse;
  auto result = value.find("result");
  auto error = value.find("error");
  if ((result == value.end()) == (error == value.end())) {
    return InvalidArgumentError("a response carries exactly one of \"result\" and \"error\"");
  }
  if (result != value.end()) {
    m.result = *result;
  } else {
    // find, not operator[]: on a const object operator[] of a missing key reads past the map.
    auto code = error->find("code");
    if (!error->is_object() || code == error->end() || !code->is_number_integer()) {
      return InvalidArgumentError("\"error\" must be an object with an integer \"code\"");
    }
    RpcError e;
    e.code = code->get<int>();
    if (auto msg = error->find("message"); msg != error->end() && msg->is_string()) {
      e.message = msg->get<std::string>();
    }
    if (auto data = error->find("data"); data != error->end()) e.data = *data;
    m.error = std::move(e);
  }
  return m;
}

std::string Serialize(const Json& message) {
  return message.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

Json ResultMessage(const Json& id, Json result) {
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

Json ErrorMessage(const Json& id, const RpcError& error) {
  Json e{{"code", error.code}, {"message", error.message}};
  if (error.data) e["data"] = *error.data;
  // Without a known id the member is left out (JSON-RPC allows null, but MCP's schemas and
  // clients accept only strings and integers).
  if (id.is_null()) return Json{{"jsonrpc", "2.0"}, {"error", std::move(e)}};
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(e)}};
}

Json NotificationMessage(std::string_view method, Json params) {
  return Json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

Json RequestMessage(const Json& id, std::string_view method, Json params) {
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}

RpcError RpcErrorFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kOutOfRange:
      return {rpc_error::kInvalidParams, status.message(), std::nullopt};
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
      return {rpc_error::kUnauthorized, status.message(), std::nullopt};
    default:
      return {rpc_error::kInternalError, status.message(), std::nullopt};
  }
}

}  // namespace llmux::mcp
