// Plain data types of the HTTP server: headers, a parsed request and a whole response.
// No Boost in here, so that code formatting replies (the gateway) stays cheap to compile.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmux::http {

// Header fields in arrival order; names compare case-insensitively (RFC 9110 §5.1).
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  Headers() = default;
  Headers(std::initializer_list<Field> fields) : fields_(fields) {}

  // Appends a field (repeated names are kept, as HTTP allows).
  void Add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // Replaces every field called `name` with one field.
  void Set(std::string_view name, std::string value);

  // The first value of `name`, if any.
  std::optional<std::string_view> Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }

  const std::vector<Field>& fields() const { return fields_; }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<Field> fields_;
};

// ASCII case-insensitive comparison, as used for header names.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

struct Request {
  std::string method;  // as sent, e.g. "GET", "POST"
  std::string target;  // the request target as sent, e.g. "/v1/models?limit=2"
  std::string path;    // target before '?', e.g. "/v1/models" (not percent-decoded)
  std::string query;   // target after '?', without it; empty when there is none
  Headers headers;
  std::string body;
  std::string peer;  // "127.0.0.1:54321"
  int version = 11;  // 10 for HTTP/1.0, 11 for HTTP/1.1
  bool keep_alive = true;
  bool tls = false;  // arrived over HTTPS
};

// A whole (non-streamed) reply. Content-Length, Date-free; Server and Connection are added
// by the server.
struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  Headers headers;  // extra fields
};

// "Not Found" for 404 and so on; "Unknown" for codes without a standard phrase.
std::string_view StatusReason(int status);

}  // namespace llmux::http
