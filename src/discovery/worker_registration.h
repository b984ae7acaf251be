// WorkerRegistration (worker side): keeps <prefix><id> -> WorkerRecord JSON in etcd under a
// lease for as long as the worker lives. A background thread refreshes the lease every TTL/3;
// while etcd is unreachable it keeps trying, and once etcd answers again it re-grants the lease
// if it expired meanwhile and re-puts the record (reconciliation). Stop() deregisters at once
// (drain); destroying the object without Stop() only stops refreshing, so the key disappears
// when the lease expires, as after a crash.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.h"
#include "discovery/etcd_client.h"
#include "discovery/worker_record.h"

namespace llmux::discovery {

struct WorkerRegistrationOptions {
  EtcdClientOptions etcd;
  std::string prefix = "/llmux/workers/";
  int ttl_s = 10;  // etcd raises TTLs under its minimum (about 2 s by default)
};

class WorkerRegistration {
 public:
  static Result<std::unique_ptr<WorkerRegistration>> Create(WorkerRegistrationOptions options);
  ~WorkerRegistration();
  WorkerRegistration(const WorkerRegistration&) = delete;
  WorkerRegistration& operator=(const WorkerRegistration&) = delete;

  // Validates the record, registers it once and starts the refresh thread. Returns that first
  // attempt's status: on kUnavailable the thread keeps trying until etcd answers (or Stop), so
  // a worker may start before etcd does. kInvalidArgument (bad record) and a second Start start
  // nothing.
  Status Start(const WorkerRecord& record);
  // Replaces the published record (same id): written now if etcd answers, else on reconnection.
  Status Update(const WorkerRecord& record);
  // Deletes the key and revokes the lease, after stopping the refresh thread. Idempotent.
  Status Stop();

  // Whether the record is in etcd as far as this worker knows (last round trip succeeded).
  bool registered() const;
  const std::string& key() const { return key_; }

 private:
  WorkerRegistration(WorkerRegistrationOptions options, std::unique_ptr<EtcdClient> client);
  void Run();
  // Grants a lease if there is none and puts the record; the lock is held by the caller.
  Status RegisterLocked();
  // Wakes the refresh thread's sleeps; returns false once stopping.
  bool SleepFor(std::chrono::milliseconds duration);

  const WorkerRegistrationOptions options_;
  const std::unique_ptr<EtcdClient> client_;
  std::string key_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  WorkerRecord record_;
  int64_t lease_id_ = 0;  // 0: none granted (or it expired)
  bool dirty_ = true;     // the record must be (re)put
  bool registered_ = false;
  bool started_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace llmux::discovery
