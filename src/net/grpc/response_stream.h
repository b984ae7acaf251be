// The write side of one server-streaming call: a queue between the engine's sink callbacks
// (any thread, must not block) and the gRPC reactor, which allows one outstanding write.
//
// The state lives in a shared object rather than in the reactor because the engine may
// still hold the sink after the call is done and the reactor deleted. Invariant: whoever
// sets `writing_` or `finish_called_` under the lock makes the matching StartWrite/Finish
// call after unlocking; gRPC calls OnDone (and the reactor is deleted) only after Finish,
// and Finish is only called with no write outstanding, so the reactor is alive whenever
// one of those calls is made.
#pragma once
#include <grpcpp/support/server_callback.h>
#include <grpcpp/support/status.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace llmux::rpc {

template <typename Response>
class ResponseStream {
 public:
  explicit ResponseStream(grpc::ServerWriteReactor<Response>* reactor) : reactor_(reactor) {}

  // Engine side. Messages after Close or a cancel are dropped.
  void Push(Response message) {
    std::unique_lock lock(mu_);
    if (cancelled_ || final_status_) return;
    queue_.push_back(std::move(message));
    Pump(lock);
  }

  // The last word: written after every queued message. The first Close wins.
  void Close(grpc::Status status) {
    std::unique_lock lock(mu_);
    generation_done_ = true;
    if (!final_status_) final_status_ = std::move(status);
    Pump(lock);
  }

  // How to cancel the generation if the call goes away first.
  void SetCancel(std::function<void()> cancel) {
    std::unique_lock lock(mu_);
    cancel_ = std::move(cancel);
    auto to_cancel = TakeCancel();  // the call was cancelled while submitting
    lock.unlock();
    if (to_cancel) to_cancel();
  }

  // Reactor side.
  void OnWriteDone(bool ok) {
    std::unique_lock lock(mu_);
    writing_ = false;
    if (!ok) MarkCancelled();  // the stream broke: the client is gone
    auto to_cancel = TakeCancel();
    Pump(lock);
    if (to_cancel) to_cancel();
  }

  void OnCancel() {
    std::unique_lock lock(mu_);
    MarkCancelled();
    auto to_cancel = TakeCancel();
    Pump(lock);
    if (to_cancel) to_cancel();
  }

  void OnDone() {
    std::unique_lock lock(mu_);
    reactor_ = nullptr;
    // Normally the generation already ended; if not, nobody is listening any more.
    cancelled_ = true;
    auto to_cancel = TakeCancel();
    lock.unlock();
    if (to_cancel) to_cancel();
  }

 private:
  void MarkCancelled() {
    cancelled_ = true;
    queue_.clear();
  }

  // The cancel to call now (once), if the call is cancelled and generation still runs.
  std::function<void()> TakeCancel() {
    if (!cancelled_ || generation_done_ || cancel_sent_ || !cancel_) return nullptr;
    cancel_sent_ = true;
    return cancel_;
  }

  // Starts the next write or the Finish if nothing is outstanding; unlocks `lock`.
  void Pump(std::unique_lock<std::mutex>& lock) {
    if (writing_ || finish_called_ || reactor_ == nullptr) return;
    grpc::ServerWriteReactor<Response>* reactor = reactor_;
    if (cancelled_) {
      finish_called_ = true;
      lock.unlock();
      reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
    } else if (!queue_.empty()) {
      current_ = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
      lock.unlock();
      reactor->StartWrite(&current_);
    } else if (final_status_) {
      finish_called_ = true;
      grpc::Status status = *final_status_;
      lock.unlock();
      reactor->Finish(std::move(status));
    }
  }

  std::mutex mu_;
  grpc::ServerWriteReactor<Response>* reactor_;  // null after OnDone
  std::deque<Response> queue_;
  Response current_;  // the message being written; stable while writing_
  bool writing_ = false;
  bool finish_called_ = false;
  bool cancelled_ = false;
  bool generation_done_ = false;  // the engine sent OnFinish (or never started)
  bool cancel_sent_ = false;
  std::optional<grpc::Status> final_status_;
  std::function<void()> cancel_;
};

// Owns its ResponseStream and deletes itself when gRPC is done with the call.
template <typename Response>
class StreamReactor final : public grpc::ServerWriteReactor<Response> {
 public:
  StreamReactor() : stream_(std::make_shared<ResponseStream<Response>>(this)) {}

  const std::shared_ptr<ResponseStream<Response>>& stream() const { return stream_; }

  void OnWriteDone(bool ok) override { stream_->OnWriteDone(ok); }
  void OnCancel() override { stream_->OnCancel(); }
  void OnDone() override {
    stream_->OnDone();
    delete this;
  }

 private:
  std::shared_ptr<ResponseStream<Response>> stream_;
};

}  // namespace llmux::rpc
