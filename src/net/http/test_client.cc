#include "net/http/test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace llmux::http::testing {

using Clock = std::chrono::steady_clock;

TestClient::TestClient(uint16_t port, const char* from) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  if (from != nullptr) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (::inet_pton(AF_INET, from, &local.sin_addr) != 1 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

TestClient::~TestClient() { Close(); }

void TestClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool TestClient::Send(std::string_view data) {
  while (!data.empty()) {
    if (fd_ < 0) return false;
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool TestClient::ReadMore(Clock::time_point deadline) {
  if (fd_ < 0 || eof_) return false;
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char tmp[16384];
    const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
}

std::optional<std::string> TestClient::ReadLine(Clock::time_point deadline) {
  for (;;) {
    const size_t pos = buf_.find("\r\n");
    if (pos != std::string::npos) {
      std::string line = buf_.substr(0, pos);
      buf_.erase(0, pos + 2);
      return line;
    }
    if (!ReadMore(deadline)) return std::nullopt;
  }
}

bool TestClient::ReadExactly(size_t n, std::string& out, Clock::time_point deadline) {
  while (buf_.size() < n) {
    if (!ReadMore(deadline)) return false;
  }
  out.append(buf_, 0, n);
  buf_.erase(0, n);
  return true;
}

std::optional<TestResponse> TestClient::ReadHead(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  TestResponse response;
  for (;;) {  // skip interim 1xx responses
    auto status_line = ReadLine(deadline);
    if (!status_line) return std::nullopt;
    // "HTTP/1.1 200 OK"
    if (status_line->size() < 12 || status_line->compare(0, 5, "HTTP/") != 0) return std::nullopt;
    response.status = std::atoi(status_line->c_str() + 9);
    response.reason = status_line->size() > 13 ? status_line->substr(13) : "";
    response.headers = Headers();
    for (;;) {
      auto line = ReadLine(deadline);
      if (!line) return std::nullopt;
      if (line->empty()) break;
      const size_t colon = line->find(':');
      if (colon == std::string::npos) return std::nullopt;
      size_t v = colon + 1;
      while (v < line->size() && (*line)[v] == ' ') ++v;
      response.headers.Add(line->substr(0, colon), line->substr(v));
    }
    if (response.status >= 200) return response;
  }
}

std::optional<std::string> TestClient::ReadChunk(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto size_line = ReadLine(deadline);
  if (!size_line) return std::nullopt;
  char* end = nullptr;
  const unsigned long size = std::strtoul(size_line->c_str(), &end, 16);
  if (end == size_line->c_str()) return std::nullopt;
  std::string data;
  if (!ReadExactly(size, data, deadline)) return std::nullopt;
  if (size == 0) {  // trailers until an empty line
    for (;;) {
      auto line = ReadLine(deadline);
      if (!line) return std::nullopt;
      if (line->empty()) return std::string();
    }
  }
  auto crlf = ReadLine(deadline);
  if (!crlf || !crlf->empty()) return std::nullopt;
  return data;
}

std::optional<TestResponse> TestClient::ReadResponse(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto response = ReadHead(timeout);
  if (!response) return std::nullopt;
  if (auto te = response->headers.Get("Transfer-Encoding");
      te && EqualsIgnoreCase(*te, "chunked")) {
    for (;;) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      auto chunk = ReadChunk(left);
      if (!chunk) return std::nullopt;
      if (chunk->empty()) return response;
      response->body += *chunk;
    }
  }
  if (auto length = response->headers.Get("Content-Length")) {
    if (!ReadExactly(std::strtoul(std::string(*length).c_str(), nullptr, 10), response->body,
                     deadline)) {
      return std::nullopt;
    }
    return response;
  }
  while (ReadMore(deadline)) {
  }
  if (!eof_) return std::nullopt;
  response->body = std::move(buf_);
  buf_.clear();
  return response;
}

bool TestClient::WaitClosed(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (ReadMore(deadline)) {
  }
  return eof_;
}

std::string MakeRequest(std::string_view method, std::string_view path, std::string_view body,
                        std::string_view extra) {
  std::string r;
  r.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  if (!body.empty() || method == "POST") {
    r.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  r.append(extra).append("\r\n").append(body);
  return r;
}

}  // namespace llmux::http::testing
