// Internal: the byte stream under one accepted HTTP connection, plain TCP or TLS over TCP,
// chosen at run time so that the connection code exists once. It meets Asio's
// AsyncReadStream and AsyncWriteStream requirements, so Beast and asio::async_write use it
// like a socket. Included only by connection.cc (the TLS headers are heavy).
//
// A TLS stream allows one read and one write in flight at once, like a socket (the
// connection's disconnect watcher reads while a handler writes); both must run on the
// connection's strand. Cancelling or closing socket() ends pending TLS operations too.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <cstddef>
#include <optional>
#include <utility>

namespace llmux::http {

class ServerStream {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;

  // `tls` null: plain TCP. Otherwise it must outlive the stream.
  ServerStream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context* tls)
      : socket_(std::move(socket)) {
    if (tls != nullptr) tls_.emplace(socket_, *tls);
  }
  ServerStream(const ServerStream&) = delete;  // tls_ refers to socket_
  ServerStream& operator=(const ServerStream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  bool is_tls() const { return tls_.has_value(); }
  // Only when is_tls(): the handshake and the close_notify exchange.
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>& tls() { return *tls_; }

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        ReadSome{this}, token, buffers);
  }
  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        WriteSome{this}, token, buffers);
  }

 private:
  // Initiations as small structs rather than lambdas (see the GCC 12 notes in http_server.h).
  struct ReadSome {
    ServerStream* self;
    template <typename Handler, typename Buffers>
    void operator()(Handler&& handler, const Buffers& buffers) const {
      if (self->tls_) {
        self->tls_->async_read_some(buffers, std::forward<Handler>(handler));
      } else {
        self->socket_.async_read_some(buffers, std::forward<Handler>(handler));
      }
    }
  };
  struct WriteSome {
    ServerStream* self;
    template <typename Handler, typename Buffers>
    void operator()(Handler&& handler, const Buffers& buffers) const {
      if (self->tls_) {
        self->tls_->async_write_some(buffers, std::forward<Handler>(handler));
      } else {
        self->socket_.async_write_some(buffers, std::forward<Handler>(handler));
      }
    }
  };

  boost::asio::ip::tcp::socket socket_;
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
};

}  // namespace llmux::http
