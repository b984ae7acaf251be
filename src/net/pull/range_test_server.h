// A small HTTP/1.1 file server for the pull tests (raw sockets, one thread, one request per
// connection): serves `body` at any path, with byte ranges unless told to ignore them, and can
// drop the connection halfway through a body, redirect, or stream without end.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace llmux::pull {

class RangeTestServer {
 public:
  struct Behaviour {
    bool ranges = true;  // honour Range (206); false: always 200 with the whole body
    int drops = 0;       // the first `drops` bodies are cut after `drop_after` bytes (at most half)
    uint64_t drop_after = 0;
    bool redirect_loop = false;  // every request gets a 302 to another path of this server
    bool endless = false;        // a chunked body that never ends
    int stalls =
        0;  // the first `stalls` bodies stop halfway for a second, then the connection closes
  };

  RangeTestServer(std::string body, Behaviour behaviour);
  ~RangeTestServer();

  std::string Url(const std::string& path = "/model.gguf") const;
  // The Range header of every request so far ("" when none), in order.
  std::vector<std::string> ranges_seen();

 private:
  void Serve();
  void Handle(int fd);

  std::string body_;
  Behaviour b_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> ranges_;
  int drops_done_ = 0;
  int stalls_done_ = 0;
  int hops_ = 0;
  std::thread thread_;
};

}  // namespace llmux::pull
