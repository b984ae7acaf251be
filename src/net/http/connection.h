// Internal: one accepted TCP connection, serving requests until it closes.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "net/http/server_context.h"

namespace llmux::http {

class Connection {
 public:
  virtual ~Connection() = default;
  // Thread-safe. Closes the connection if it is waiting for a request (keep-alive idle or
  // nothing received yet); a connection busy with a request closes after its reply.
  virtual void CloseIfIdle() = 0;
  // Thread-safe. Marks the client gone (OnDisconnect runs), cancels the handler's pending
  // operation and closes the socket.
  virtual void Abort() = 0;
};

// Starts serving `socket` (whose executor must be a strand) and registers the connection
// in `ctx`, counted for the client `address`, until it closes.
void StartConnection(boost::asio::ip::tcp::socket socket, std::shared_ptr<ServerContext> ctx,
                     std::string address);

// Answers 503 with `why` (too many connections) and closes, without reading a request.
void RejectConnection(boost::asio::ip::tcp::socket socket, std::shared_ptr<ServerContext> ctx,
                      std::string why);

}  // namespace llmux::http
