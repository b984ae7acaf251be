#include "discovery/worker_registration.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace llmux::discovery {

WorkerRegistration::WorkerRegistration(WorkerRegistrationOptions options,
                                       std::unique_ptr<EtcdClient> client)
    : options_(std::move(options)), client_(std::move(client)) {}

Result<std::unique_ptr<WorkerRegistration>> WorkerRegistration::Create(
    WorkerRegistrationOptions options) {
  if (options.ttl_s <= 0)
    return InvalidArgumentError("worker registration: ttl_s must be positive");
  if (options.prefix.empty()) return InvalidArgumentError("worker registration: empty prefix");
  LLMUX_ASSIGN_OR_RETURN(auto client, EtcdClient::Create(options.etcd));
  return std::unique_ptr<WorkerRegistration>(
      new WorkerRegistration(std::move(options), std::move(client)));
}

WorkerRegistration::~WorkerRegistration() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

Status WorkerRegistration::RegisterLocked() {
  if (lease_id_ == 0) {
    LLMUX_ASSIGN_OR_RETURN(lease_id_, client_->GrantLease(options_.ttl_s));
    dirty_ = true;
  }
  if (dirty_) {
    auto put = client_->Put(key_, EncodeWorkerRecord(record_), lease_id_);
    if (!put.ok()) {
      // etcd refuses a put under a lease it no longer has: grant a new one next time.
      if (put.status().code() == StatusCode::kNotFound) lease_id_ = 0;
      return put.status();
    }
    dirty_ = false;
  }
  registered_ = true;
  return Status::Ok();
}

Status WorkerRegistration::Start(const WorkerRecord& record) {
  LLMUX_RETURN_IF_ERROR(ValidateWorkerRecord(record));
  std::string encoded = EncodeWorkerRecord(record);
  if (encoded.size() > kMaxWorkerRecordBytes) {
    return InvalidArgumentError("worker registration: the record is over 64 KiB");
  }
  std::lock_guard lock(mu_);
  if (started_) return InvalidArgumentError("worker registration: already started");
  started_ = true;
  record_ = record;
  key_ = options_.prefix + record.id;
  Status first = RegisterLocked();
  if (!first.ok()) spdlog::warn("worker registration of {}: {} (retrying)", key_, first.ToString());
  thread_ = std::thread([this] { Run(); });
  return first;
}

Status WorkerRegistration::Update(const WorkerRecord& record) {
  LLMUX_RETURN_IF_ERROR(ValidateWorkerRecord(record));
  if (EncodeWorkerRecord(record).size() > kMaxWorkerRecordBytes) {
    return InvalidArgumentError("worker registration: the record is over 64 KiB");
  }
  std::lock_guard lock(mu_);
  if (!started_ || stopping_) return InvalidArgumentError("worker registration: not running");
  if (record.id != record_.id) {
    return InvalidArgumentError("worker registration: Update cannot change the id");
  }
  record_ = record;
  dirty_ = true;
  return RegisterLocked();
}

Status WorkerRegistration::Stop() {
  int64_t lease = 0;
  {
    std::lock_guard lock(mu_);
    if (!started_ || stopping_) return Status::Ok();
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mu_);
    lease = lease_id_;
    lease_id_ = 0;
    registered_ = false;
  }
  // Delete first: watchers see the removal even if the revoke fails; revoking deletes it too.
  Status deleted = client_->Delete(key_).status();
  Status revoked = lease != 0 ? client_->RevokeLease(lease) : Status::Ok();
  if (revoked.code() == StatusCode::kNotFound) revoked = Status::Ok();
  if (!deleted.ok()) return deleted.WithContext("deregistering " + key_);
  return revoked.WithContext("deregistering " + key_);
}

bool WorkerRegistration::registered() const {
  std::lock_guard lock(mu_);
  return registered_;
}

bool WorkerRegistration::SleepFor(std::chrono::milliseconds duration) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, duration, [&] { return stopping_; });
}

void WorkerRegistration::Run() {
  const auto refresh = std::chrono::milliseconds(options_.ttl_s * 1000 / 3);
  // After a failure, retry sooner than a refresh, but not in a tight loop.
  const auto retry = std::min(refresh, std::chrono::milliseconds(500));
  auto wait = refresh;
  {
    std::lock_guard lock(mu_);
    if (!registered_) wait = retry;
  }
  while (SleepFor(wait)) {
    std::unique_lock lock(mu_);
    if (stopping_) return;
    Status status = Status::Ok();
    if (lease_id_ != 0) {
      // The keep-alive goes out with the lock released, so that Update and Stop never wait
      // for a slow etcd longer than one call.
      const int64_t lease = lease_id_;
      lock.unlock();
      auto ttl = client_->KeepAliveOnce(lease);
      lock.lock();
      if (stopping_) return;
      if (!ttl.ok()) {
        status = ttl.status();
        if (status.code() == StatusCode::kNotFound && lease_id_ == lease) {
          spdlog::warn("worker registration {}: lease expired, registering again", key_);
          lease_id_ = 0;
        }
      }
    }
    if (lease_id_ == 0 || (status.ok() && dirty_)) status = RegisterLocked();
    if (!status.ok()) {
      if (registered_) spdlog::warn("worker registration {}: {}", key_, status.ToString());
      registered_ = false;
      // The key may be gone (etcd restored, lease expired): put it again once etcd answers.
      dirty_ = true;
      wait = retry;
    } else {
      registered_ = true;
      wait = refresh;
    }
  }
}

}  // namespace llmux::discovery
