#include "net/pull/range_test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace llmux::pull {

namespace {

bool SendAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string ReadHead(int fd) {
  std::string head;
  char c;
  while (head.size() < 16384 && head.find("\r\n\r\n") == std::string::npos) {
    if (::recv(fd, &c, 1, 0) != 1) break;
    head += c;
  }
  return head;
}

std::string HeaderValue(const std::string& head, const std::string& name) {
  const size_t at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  const size_t start = at + name.size() + 4;
  return head.substr(start, head.find("\r\n", start) - start);
}

}  // namespace

RangeTestServer::RangeTestServer(std::string body, Behaviour behaviour)
    : body_(std::move(body)), b_(behaviour) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    throw std::runtime_error("test server: cannot listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

RangeTestServer::~RangeTestServer() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

std::string RangeTestServer::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<std::string> RangeTestServer::ranges_seen() {
  std::lock_guard lock(mu_);
  return ranges_;
}

void RangeTestServer::Serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    Handle(fd);
    ::close(fd);
  }
}

void RangeTestServer::Handle(int fd) {
  const std::string head = ReadHead(fd);
  const std::string range = HeaderValue(head, "Range");
  bool drop = false, stall = false;
  int hop = 0;
  {
    std::lock_guard lock(mu_);
    ranges_.push_back(range);
    if (drops_done_ < b_.drops) {
      drop = true;
      ++drops_done_;
    }
    hop = ++hops_;
    if (!drop && stalls_done_ < b_.stalls) {
      stall = true;
      ++stalls_done_;
    }
  }
  if (b_.redirect_loop) {
    SendAll(fd, "HTTP/1.1 302 Found\r\nLocation: /hop" + std::to_string(hop) +
                    "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  if (b_.endless) {
    SendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
    while (!stop_ && SendAll(fd, chunk)) {
    }
    return;
  }
  uint64_t start = 0;
  if (b_.ranges && range.rfind("bytes=", 0) == 0)
    start = std::strtoull(range.c_str() + 6, nullptr, 10);
  std::string reply;
  if (start > 0 && start >= body_.size()) {
    reply = "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */" +
            std::to_string(body_.size()) + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    SendAll(fd, reply);
    return;
  }
  const std::string part = body_.substr(start);
  if (start > 0) {
    reply = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + std::to_string(start) + "-" +
            std::to_string(body_.size() - 1) + "/" + std::to_string(body_.size()) + "\r\n";
  } else {
    reply = "HTTP/1.1 200 OK\r\n";
  }
  reply += "Content-Length: " + std::to_string(part.size()) + "\r\nConnection: close\r\n\r\n";
  if (stall) {
    SendAll(fd, reply + part.substr(0, part.size() / 2));
    std::this_thread::sleep_for(std::chrono::seconds(1));
    return;
  }
  if (drop) {
    // Half of what was promised, then the connection goes away.
    const uint64_t cut = std::min<uint64_t>(b_.drop_after, part.size() / 2);
    SendAll(fd, reply + part.substr(0, cut));
    ::shutdown(fd, SHUT_RDWR);
    return;
  }
  SendAll(fd, reply + part);
}

}  // namespace llmux::pull
