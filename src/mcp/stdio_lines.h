// The framing of MCP's stdio transport: one JSON-RPC message per line, UTF-8, no raw newline
// inside a message. Shared by the stdio server and the stdio-to-HTTP bridge. Plain file
// descriptors, so that pipes, terminals and sockets all work.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "mcp/json_rpc.h"

namespace llmux::mcp {

// A message as one line (without the '\n'): compact JSON, where a string's newline is
// written as \n; bytes that are not UTF-8 are replaced (U+FFFD) instead of failing the dump.
std::string EncodeLine(const Json& message);

// One line from the client, read as a message.
struct DecodedLine {
  Json value;  // the line's JSON (discarded when it is not JSON)
  Message message;
  // Set when the line is not a valid message: the error response to send back (-32700
  // without an id for text that is not JSON, -32600 for JSON that is not a message).
  std::optional<Json> error_reply;
};
DecodedLine DecodeLine(std::string_view line);

// Reads lines from a file descriptor (blocking). Not thread-safe: one reader.
class LineReader {
 public:
  LineReader(int fd, size_t max_line_bytes);

  // The next non-blank line without its terminator ("\n" or "\r\n"); a last line without
  // one counts too. nullopt at the end of the input. A line longer than max_line_bytes is
  // skipped and comes back as kResourceExhausted; a read failure as kUnavailable, after
  // which the input counts as ended.
  std::optional<Result<std::string>> Next();

 private:
  // Appends what the next read() gives; false at the end of the input.
  bool Fill();

  int fd_;
  size_t max_line_bytes_;
  std::string buffer_;
  size_t scanned_ = 0;  // bytes of buffer_ already known to hold no '\n'
  bool eof_ = false;
  Status read_error_;
};

// Writes messages one per line to a file descriptor. Thread-safe: tools answer from engine
// threads, and one message is never interleaved with another. After Close, or once a write
// fails (the client went away), messages are dropped.
class LineWriter {
 public:
  explicit LineWriter(int fd) : fd_(fd) {}

  // Returns false when the message was dropped.
  bool Write(const Json& message);
  void Close();
  bool closed() const;

 private:
  const int fd_;
  mutable std::mutex mu_;
  bool closed_ = false;
};

}  // namespace llmux::mcp
