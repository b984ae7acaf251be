// A small blocking HTTP/1.1 client on raw POSIX sockets, for the server's tests: it lets a
// test send arbitrary bytes (malformed, dripped, oversized) and read replies piece by piece.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/http/http_types.h"

namespace llmux::http::testing {

using std::chrono::milliseconds;

struct TestResponse {
  int status = 0;
  std::string reason;
  Headers headers;
  std::string body;
};

class TestClient {
 public:
  // Connects to 127.0.0.1:port, from the loopback address `from` when given (any of
  // 127.0.0.0/8, so tests can play several clients); connected() tells whether it worked.
  explicit TestClient(uint16_t port, const char* from = nullptr);
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool Send(std::string_view data);

  // One whole response: body by Content-Length, chunked, or up to the close.
  std::optional<TestResponse> ReadResponse(milliseconds timeout = milliseconds(5000));
  // Status line and header only (for streamed replies).
  std::optional<TestResponse> ReadHead(milliseconds timeout = milliseconds(5000));
  // The next chunk's payload after ReadHead on a chunked reply; "" for the last chunk,
  // nullopt on timeout, close or a framing error.
  std::optional<std::string> ReadChunk(milliseconds timeout = milliseconds(5000));
  // True once the server closes the connection (EOF or reset) within `timeout`; data that
  // arrives meanwhile is kept in received().
  bool WaitClosed(milliseconds timeout);
  const std::string& received() const { return buf_; }

  void Close();

 private:
  // Reads more bytes into buf_; false on timeout, EOF or error.
  bool ReadMore(std::chrono::steady_clock::time_point deadline);
  // Returns a line (without CRLF) from buf_, reading as needed.
  std::optional<std::string> ReadLine(std::chrono::steady_clock::time_point deadline);
  bool ReadExactly(size_t n, std::string& out, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// "METHOD path HTTP/1.1" with Host and (for a body) Content-Length; `extra` is more header
// lines, each ending in CRLF.
std::string MakeRequest(std::string_view method, std::string_view path, std::string_view body = "",
                        std::string_view extra = "");

}  // namespace llmux::http::testing
