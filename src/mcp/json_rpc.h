// JSON-RPC 2.0 as MCP uses it: classifying one incoming message and building replies.
// MCP sends one message per HTTP body or stdio line (batches were removed in 2025-06-18).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/status.h"

namespace llmux::mcp {

using Json = nlohmann::json;

// The standard codes, plus MCP's own.
namespace rpc_error {
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kResourceNotFound = -32002;  // MCP: resources/read of an unknown URI
// Server-defined (-32000..-32099): the caller's credentials or rights do not allow it.
inline constexpr int kUnauthorized = -32001;
}  // namespace rpc_error

struct RpcError {
  int code = rpc_error::kInternalError;
  std::string message;
  std::optional<Json> data;
};

struct Message {
  enum class Kind { kRequest, kNotification, kResponse };
  Kind kind = Kind::kRequest;
  Json id;           // requests and responses (string or integer)
  std::string method;  // requests and notifications
  Json params = Json::object();  // requests and notifications; {} when absent
  Json result;                     // responses: the result, or null with `error` set
  std::optional<RpcError> error;   // responses that carry an error
};

// Classifies one parsed JSON value. An invalid message yields the RpcError to answer with
// (kInvalidRequest), and `id` is set to the message's id when one could be read (else null).
Result<Message> ParseMessage(const Json& value, Json* id);

// A message as compact JSON text, the one way every transport writes it. Model output may hold
// invalid UTF-8 (a token that splits a character): such bytes become U+FFFD instead of failing.
std::string Serialize(const Json& message);

Json ResultMessage(const Json& id, Json result);
Json ErrorMessage(const Json& id, const RpcError& error);
Json NotificationMessage(std::string_view method, Json params);
Json RequestMessage(const Json& id, std::string_view method, Json params);

// A Status as a JSON-RPC error: kInvalidArgument -> -32602, kNotFound -> -32602,
// kUnauthenticated/kPermissionDenied -> -32001, others -> -32603.
RpcError RpcErrorFor(const Status& status);

}  // namespace llmux::mcp
