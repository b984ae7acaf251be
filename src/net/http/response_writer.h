// ResponseWriter: how a handler answers one request, either with one whole reply (Send) or
// as a stream (StartStream, Write..., EndStream; chunked transfer encoding on HTTP/1.1,
// close-delimited on HTTP/1.0), e.g. for Server-Sent Events.
//
// All methods are called from the handler coroutine (the connection's strand). Every
// awaitable returns false once the client is gone or the reply can no longer be written;
// handlers then simply stop. The server notices a peer close at any time after the handler
// starts, even while the handler is not writing (e.g. waiting for a long prefill): that sets
// disconnected() and runs the OnDisconnect callback once, on the connection's io thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "net/http/http_types.h"

namespace llmux::http {

class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;

  // Sends a whole reply with Content-Length. Only once per request, and not after
  // StartStream.
  virtual boost::asio::awaitable<bool> Send(Response response) = 0;
  boost::asio::awaitable<bool> Send(int status, std::string content_type, std::string body,
                                    Headers extra = {}) {
    return Send(Response{status, std::move(content_type), std::move(body), std::move(extra)});
  }

  // Sends the status line and header of a streamed reply ("text/event-stream" for SSE).
  virtual boost::asio::awaitable<bool> StartStream(int status, std::string content_type,
                                                   Headers extra = {}) = 0;
  // Sends one piece of the body (one chunk); empty data is skipped.
  virtual boost::asio::awaitable<bool> Write(std::string_view data) = 0;
  // Ends the stream (the last chunk). A handler that returns with a stream still open gets
  // it ended for it.
  virtual boost::asio::awaitable<bool> EndStream() = 0;

  // True once the client has closed the connection or a write failed.
  virtual bool disconnected() const = 0;
  // Runs `callback` once when the client goes away (immediately, on the caller's thread, if
  // it already has). Set again to replace; an empty function clears it. The callback must
  // not block; it typically cancels work (e.g. the engine request) and returns.
  virtual void OnDisconnect(std::function<void()> callback) = 0;

  // True once Send or StartStream has put a status line on the wire.
  virtual bool started() const = 0;
};

}  // namespace llmux::http
