// EtcdClient::Watch: one bidirectional Watch stream per watch, read by a thread of its own.
#include <condition_variable>
#include <mutex>
#include <thread>

#include "discovery/etcd_channels.h"
#include "discovery/etcd_client.h"

namespace llmux::discovery {
namespace {

using Clock = std::chrono::steady_clock;

EtcdKeyValue FromProto(const mvccpb::KeyValue& kv) {
  return {kv.key(), kv.value(), kv.create_revision(), kv.mod_revision(), kv.version(), kv.lease()};
}

class WatchImpl final : public EtcdWatch {
 public:
  WatchImpl(EtcdEndpoint& endpoint, etcdserverpb::WatchCreateRequest create,
            EtcdWatchCallback callback)
      : endpoint_(endpoint),
        connection_(endpoint.connection()),
        create_(std::move(create)),
        callback_(std::move(callback)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~WatchImpl() override { Cancel(); }

  // Waits until etcd confirms the watch, it fails, or the deadline passes.
  Status WaitCreated(Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_until(lock, deadline, [&] { return state_ != State::kStarting; })) {
      return UnavailableError("etcd watch at " + endpoint_.address() +
                              ": unavailable (no answer to the watch request in time)");
    }
    return state_ == State::kCreated ? Status::Ok() : start_error_;
  }

  // After a failed start: let the next call connect afresh if the endpoint is unreachable.
  void ReplaceConnectionIfFailing() { endpoint_.ReplaceIfFailing(connection_); }

  void Cancel() override {
    cancelled_ = true;
    context_.TryCancel();
    if (thread_.joinable()) thread_.join();
  }

 private:
  enum class State { kStarting, kCreated, kFailed };

  void SetState(State state, Status error = Status::Ok()) {
    std::lock_guard lock(mu_);
    state_ = state;
    start_error_ = std::move(error);
    cv_.notify_all();
  }

  // Reports the end of the watch: to the waiting Watch() call before creation, else to the
  // callback (unless the owner cancelled it).
  void End(Status error, int64_t revision = 0, int64_t compact_revision = 0) {
    EtcdWatchUpdate update;
    update.error = std::move(error);
    update.revision = revision;
    update.compact_revision = compact_revision;
    if (state_ == State::kStarting) {
      SetState(State::kFailed, update.error);
    } else if (!cancelled_) {
      callback_(update);
    }
  }

  void Run() {
    // Like etcd's own client: a member cut off from the raft leader cancels the watch instead of
    // keeping it open and silent, so the watcher re-lists through another endpoint.
    context_.AddMetadata("hasleader", "true");
    auto stream = connection_->watch->Watch(&context_);
    etcdserverpb::WatchRequest request;
    *request.mutable_create_request() = create_;
    etcdserverpb::WatchResponse response;
    if (stream->Write(request)) {
      while (stream->Read(&response)) {
        if (state_ == State::kStarting && response.created()) {
          if (response.canceled()) {
            End(InternalError("etcd watch refused: " + response.cancel_reason()));
            context_.TryCancel();
            stream->Finish().ok();
            return;
          }
          SetState(State::kCreated);
        }
        if (response.compact_revision() != 0) {
          End(OutOfRangeError("etcd watch: revision " + std::to_string(create_.start_revision()) +
                              " was compacted (oldest kept: " +
                              std::to_string(response.compact_revision()) + ")"),
              response.header().revision(), response.compact_revision());
          context_.TryCancel();
          stream->Finish().ok();
          return;
        }
        if (response.canceled()) {
          End(InternalError("etcd cancelled the watch: " + response.cancel_reason()),
              response.header().revision());
          context_.TryCancel();
          stream->Finish().ok();
          return;
        }
        if (response.events_size() == 0) continue;
        EtcdWatchUpdate update;
        update.revision = response.header().revision();
        for (const auto& e : response.events()) {
          EtcdEvent event;
          event.type =
              e.type() == mvccpb::Event::DELETE ? EtcdEvent::Type::kDelete : EtcdEvent::Type::kPut;
          event.kv = FromProto(e.kv());
          if (e.has_prev_kv()) event.prev_kv = FromProto(e.prev_kv());
          update.events.push_back(std::move(event));
        }
        if (!cancelled_) callback_(update);
      }
    }
    grpc::Status status = stream->Finish();
    Status error = StatusFromGrpc(status, "watch", endpoint_.address());
    if (error.ok())
      error = UnavailableError("etcd watch at " + endpoint_.address() + ": stream ended");
    End(std::move(error));
  }

  EtcdEndpoint& endpoint_;
  const std::shared_ptr<EtcdConnection> connection_;  // kept for the stream's lifetime
  const etcdserverpb::WatchCreateRequest create_;
  const EtcdWatchCallback callback_;
  grpc::ClientContext context_;
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<State> state_{State::kStarting};
  Status start_error_;
  std::thread thread_;  // last: starts after every other member exists
};

}  // namespace

Result<std::unique_ptr<EtcdWatch>> EtcdClient::Watch(const std::string& prefix,
                                                     int64_t start_revision,
                                                     EtcdWatchCallback callback, bool prev_kv) {
  if (!callback) return InvalidArgumentError("etcd watch: no callback");
  etcdserverpb::WatchCreateRequest create;
  create.set_key(prefix.empty() ? std::string(1, '\0') : prefix);
  create.set_range_end(PrefixRangeEnd(prefix));
  create.set_start_revision(start_revision);
  create.set_prev_kv(prev_kv);

  // Like the unary calls: endpoints in turn from the preferred one, sharing call_timeout.
  const size_t n = channels_->endpoints.size();
  const auto deadline = Clock::now() + options_.call_timeout;
  const size_t first = channels_->preferred.load();
  Status last = UnavailableError("etcd watch: no endpoint answered in time");
  for (size_t i = 0; i < n; ++i) {
    const size_t index = (first + i) % n;
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) break;
    auto watch = std::make_unique<WatchImpl>(*channels_->endpoints[index], create, callback);
    last = watch->WaitCreated(Clock::now() + left / static_cast<int64_t>(n - i));
    if (last.ok()) {
      channels_->preferred.store(index);
      return std::unique_ptr<EtcdWatch>(std::move(watch));
    }
    watch->Cancel();
    watch->ReplaceConnectionIfFailing();
    if (last.code() != StatusCode::kUnavailable) return last;
  }
  return last;
}

}  // namespace llmux::discovery
