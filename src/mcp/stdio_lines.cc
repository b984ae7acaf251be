#include "mcp/stdio_lines.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/json_nesting.h"

namespace llmux::mcp {

std::string EncodeLine(const Json& message) { return Serialize(message); }

DecodedLine DecodeLine(std::string_view line) {
  DecodedLine out;
  if (!JsonNestingWithin(line)) {
    out.value = Json(Json::value_t::discarded);
    out.error_reply =
        ErrorMessage(nullptr, RpcError{rpc_error::kParseError, "Parse error: " + JsonTooDeepMessage(), std::nullopt});
    return out;
  }
  out.value = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  const Json& value = out.value;
  if (value.is_discarded()) {
    out.error_reply = ErrorMessage(
        nullptr,
        RpcError{rpc_error::kParseError, "Parse error: the line is not JSON", std::nullopt});
    return out;
  }
  if (value.is_array()) {
    out.error_reply = ErrorMessage(
        nullptr,
        RpcError{rpc_error::kInvalidRequest,
                 "Invalid Request: batches are not supported since MCP 2025-06-18", std::nullopt});
    return out;
  }
  Json id;
  auto parsed = ParseMessage(value, &id);
  if (!parsed.ok()) {
    out.error_reply =
        ErrorMessage(id, RpcError{rpc_error::kInvalidRequest,
                                  "Invalid Request: " + parsed.status().message(), std::nullopt});
    return out;
  }
  out.message = std::move(*parsed);
  return out;
}

LineReader::LineReader(int fd, size_t max_line_bytes) : fd_(fd), max_line_bytes_(max_line_bytes) {}

bool LineReader::Fill() {
  if (eof_) return false;
  char chunk[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {  // a non-blocking descriptor: wait for it
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    read_error_ =
        UnavailableError(std::string("reading the MCP input failed: ") + std::strerror(errno));
    break;
  }
  eof_ = true;
  return false;
}

std::optional<Result<std::string>> LineReader::Next() {
  bool skipping = false;  // inside a line that is too long: drop it up to its end
  for (;;) {
    const size_t nl = buffer_.find('\n', scanned_);
    if (nl == std::string::npos) {
      scanned_ = buffer_.size();
      if (buffer_.size() > max_line_bytes_) {
        skipping = true;
        buffer_.clear();
        scanned_ = 0;
      }
      if (Fill()) continue;
      // The end: a last line without a newline still counts.
      if (!read_error_.ok()) {
        Status error = read_error_;
        read_error_ = Status();
        buffer_.clear();
        return Result<std::string>(error);
      }
      if (skipping) {
        return Result<std::string>(ResourceExhaustedError("a message is longer than the limit"));
      }
      if (buffer_.find_first_not_of(" \t\r") == std::string::npos) return std::nullopt;
      std::string line = std::move(buffer_);
      buffer_.clear();
      scanned_ = 0;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return Result<std::string>(std::move(line));
    }
    std::string line = buffer_.substr(0, nl);
    buffer_.erase(0, nl + 1);
    scanned_ = 0;
    if (skipping || line.size() > max_line_bytes_) {
      return Result<std::string>(ResourceExhaustedError(
          "a message is longer than the limit of " + std::to_string(max_line_bytes_) + " bytes"));
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank line
    return Result<std::string>(std::move(line));
  }
}

bool LineWriter::Write(const Json& message) {
  std::string line = EncodeLine(message);
  line += '\n';
  std::lock_guard lock(mu_);
  if (closed_) return false;
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    closed_ = true;  // EPIPE and the like: nobody reads any more
    return false;
  }
  return true;
}

void LineWriter::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
}

bool LineWriter::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

}  // namespace llmux::mcp
