// A blocking HTTP/1.1 client for llmux's own outbound calls, which are few: an OIDC issuer's
// discovery document and JWKS, and model files (src/net/pull streams those into a file).
// http:// and https:// (OpenSSL through Boost.Asio; the peer's certificate is checked against
// the system store or a given CA file, and its name against the host).
// Every call has a deadline and a cap on the response size.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "net/http/http_types.h"

namespace llmux::http {

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // http://host[:port]/path?query or https://...
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};  // connect + send + whole response
  size_t max_response_bytes = 4 * 1024 * 1024;
  std::string ca_file;      // https: trust these certificates instead of the system store
  bool verify_peer = true;  // https: false only for tests
  // Set: a 2xx response's body is handed over as it arrives (each piece once; the response's
  // body stays empty), for streamed answers such as NDJSON; returning false stops reading.
  // The timeout and the size cap still count the whole response.
  std::function<bool(std::string_view piece)> on_body;
  // Set: called once the status line and headers are read, before any of the body; returning
  // false stops there (the response then has its status and headers and no body). Lets a
  // caller check a streamed answer's headers (Content-Range) before taking its body.
  std::function<bool(int status, const Headers& headers)> on_head;
  // Nonzero: each read of the response must bring something within this long (a stalled
  // transfer fails with DeadlineExceeded), besides the whole-response `timeout`.
  std::chrono::milliseconds idle_timeout{0};
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

// Sends one request on a fresh connection. Errors: InvalidArgument for a bad URL,
// Unavailable for connect, TLS and I/O failures, DeadlineExceeded past the timeout,
// ResourceExhausted for a response over the cap. A non-2xx status is not an error.
Result<ClientResponse> Fetch(const ClientRequest& request);

// The parts of an http(s) URL.
struct Url {
  bool tls = false;
  std::string host;
  std::string port;    // defaults to 80 / 443
  std::string target;  // path and query, "/" at least
};
Result<Url> ParseUrl(const std::string& url);

}  // namespace llmux::http
