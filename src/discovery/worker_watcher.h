// WorkerWatcher (gateway side): the set of workers registered under a prefix in etcd, kept
// current by a watch, reported whole to a callback after every change.
//
// It lists the prefix, then watches from the list's revision + 1. When etcd is unreachable it
// keeps the last view (gateways go on routing to the workers they know during an etcd outage)
// and retries every retry_interval; once etcd answers again it lists again and reports the
// reconciled view, in which workers whose lease expired meanwhile are gone. A compacted watch is
// handled the same way: list again, watch again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "discovery/etcd_client.h"
#include "discovery/worker_record.h"

namespace llmux::discovery {

struct WorkerWatcherOptions {
  EtcdClientOptions etcd;
  std::string prefix = "/llmux/workers/";
  std::chrono::milliseconds retry_interval{500};
};

// Called with every worker currently registered, in key order (so by id), after the first
// list and after every change of the set or of a record. Calls come one at a time from the
// watcher's threads, never after Stop returns; the callback must not call Stop or Current (it
// runs under the watcher's lock; use DiffWorkerViews for what changed). A value that
// does not decode as a valid WorkerRecord (or whose id differs from its key) is left out, with
// a warning in the log.
using WorkersChangedCallback = std::function<void(const std::vector<WorkerRecord>& all)>;

// What changed between two views, by worker id (for a gateway that keeps one connection per
// worker: AddWorker for added, RemoveWorker for removed, both for a changed address).
struct WorkerViewDiff {
  std::vector<WorkerRecord> added;    // ids only in `after`
  std::vector<WorkerRecord> removed;  // ids only in `before` (as they were)
  std::vector<WorkerRecord> changed;  // ids in both whose record differs (as they are now)
};
WorkerViewDiff DiffWorkerViews(const std::vector<WorkerRecord>& before,
                               const std::vector<WorkerRecord>& after);

class WorkerWatcher {
 public:
  static Result<std::unique_ptr<WorkerWatcher>> Create(WorkerWatcherOptions options,
                                                       WorkersChangedCallback on_change);
  ~WorkerWatcher();  // Stop()
  WorkerWatcher(const WorkerWatcher&) = delete;
  WorkerWatcher& operator=(const WorkerWatcher&) = delete;

  // Starts the watching thread and returns at once; the first view comes through the callback
  // as soon as etcd answers.
  Status Start();
  void Stop();

  // The last view (empty before the first list).
  std::vector<WorkerRecord> Current() const;
  // Whether the view is being kept current now (listed and watching); false during an outage.
  bool connected() const;

 private:
  WorkerWatcher(WorkerWatcherOptions options, std::unique_ptr<EtcdClient> client,
                WorkersChangedCallback on_change);
  void Run();
  // Lists the prefix and replaces the view; returns the revision to watch from.
  Result<int64_t> Relist();
  void OnWatchUpdate(const EtcdWatchUpdate& update);
  // Reports the view if it changed (or was never reported); the lock is held.
  void ReportLocked();
  bool Decode(const EtcdKeyValue& kv, WorkerRecord* record) const;

  const WorkerWatcherOptions options_;
  const std::unique_ptr<EtcdClient> client_;
  const WorkersChangedCallback on_change_;

  mutable std::mutex mu_;  // guards what follows; held while the callback runs
  std::condition_variable cv_;
  std::map<std::string, WorkerRecord> view_;  // key -> record
  std::vector<WorkerRecord> reported_;
  bool ever_reported_ = false;
  bool connected_ = false;
  bool watch_ended_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace llmux::discovery
