// The request log's records: one per finished inference call (OpenAI HTTP, gRPC, MCP tools),
// with who called, which model, the token counts, the timing and how it ended; and the filters
// and pages the admin edges read them by. Never a secret: a key appears by its id only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmux::requestlog {

struct RequestRecord {
  int64_t id = 0;             // assigned by the store, increasing
  int64_t time_ms = 0;        // when the call was admitted, unix milliseconds
  std::string protocol;       // "http", "grpc"
  std::string route;          // "POST /v1/chat/completions", "/llmux.v1.Inference/Chat"
  std::string principal;      // the caller's subject: "key:7", "user:3", "anonymous"
  int64_t user_id = 0;        // 0: no local user
  int64_t key_id = 0;         // 0: not an API key
  std::string model;          // as requested
  std::string model_version;  // empty while models have no versions
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t ttft_ms = -1;    // admission to the first delta; -1: none came
  int64_t latency_ms = 0;  // admission to the end
  // The protocol's status of the outcome: an HTTP status (499: the client went away), or a
  // gRPC code. A stream that fails after its first bytes records its error's status.
  int status = 0;
  std::string error_class;  // "" when it succeeded; else "invalid_argument", "cancelled", ...
  std::string client;       // the client's address, without its port
  std::string prompt;       // the prompt text, only when RequestLogOptions::store_prompts
};

enum class StatusMatch { kAny, kOk, kError, kCode };

// Every set field must match.
struct RequestFilter {
  int64_t from_ms = 0;  // time_ms >= from_ms
  int64_t to_ms = 0;    // time_ms < to_ms; 0: no end
  std::optional<int64_t> key_id;
  std::optional<int64_t> user_id;
  std::string model;  // empty: any
  StatusMatch status = StatusMatch::kAny;
  int status_code = 0;  // for kCode
};

// Pages run newest first: records with id < before_id (0: from the newest), at most `limit`.
struct RequestPage {
  int64_t before_id = 0;
  int limit = 50;
};

struct RequestList {
  std::vector<RequestRecord> items;
  bool has_more = false;
  int64_t next_cursor = 0;  // when has_more: the next page's before_id
};

}  // namespace llmux::requestlog
