#include "discovery/worker_watcher.h"

#include <spdlog/spdlog.h>

namespace llmux::discovery {

WorkerViewDiff DiffWorkerViews(const std::vector<WorkerRecord>& before,
                               const std::vector<WorkerRecord>& after) {
  std::map<std::string, const WorkerRecord*> old_by_id;
  for (const WorkerRecord& r : before) old_by_id[r.id] = &r;
  WorkerViewDiff diff;
  for (const WorkerRecord& r : after) {
    auto it = old_by_id.find(r.id);
    if (it == old_by_id.end()) {
      diff.added.push_back(r);
    } else {
      if (!(*it->second == r)) diff.changed.push_back(r);
      old_by_id.erase(it);
    }
  }
  for (const WorkerRecord& r : before) {
    if (old_by_id.count(r.id) != 0) diff.removed.push_back(r);
  }
  return diff;
}

WorkerWatcher::WorkerWatcher(WorkerWatcherOptions options, std::unique_ptr<EtcdClient> client,
                             WorkersChangedCallback on_change)
    : options_(std::move(options)), client_(std::move(client)), on_change_(std::move(on_change)) {}

Result<std::unique_ptr<WorkerWatcher>> WorkerWatcher::Create(WorkerWatcherOptions options,
                                                             WorkersChangedCallback on_change) {
  if (!on_change) return InvalidArgumentError("worker watcher: no callback");
  if (options.prefix.empty()) return InvalidArgumentError("worker watcher: empty prefix");
  if (options.retry_interval <= std::chrono::milliseconds::zero()) {
    return InvalidArgumentError("worker watcher: retry_interval must be positive");
  }
  LLMUX_ASSIGN_OR_RETURN(auto client, EtcdClient::Create(options.etcd));
  return std::unique_ptr<WorkerWatcher>(
      new WorkerWatcher(std::move(options), std::move(client), std::move(on_change)));
}

WorkerWatcher::~WorkerWatcher() { Stop(); }

Status WorkerWatcher::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_)
    return InvalidArgumentError("worker watcher: already started");
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void WorkerWatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

std::vector<WorkerRecord> WorkerWatcher::Current() const {
  std::lock_guard lock(mu_);
  std::vector<WorkerRecord> all;
  for (const auto& [key, record] : view_) all.push_back(record);
  return all;
}

bool WorkerWatcher::connected() const {
  std::lock_guard lock(mu_);
  return connected_;
}

bool WorkerWatcher::Decode(const EtcdKeyValue& kv, WorkerRecord* record) const {
  auto decoded = DecodeWorkerRecord(kv.value);
  if (!decoded.ok()) {
    spdlog::warn("worker watcher: ignoring {}: {}", kv.key, decoded.status().ToString());
    return false;
  }
  if (options_.prefix + decoded->id != kv.key) {
    spdlog::warn("worker watcher: ignoring {}: its record's id is '{}'", kv.key, decoded->id);
    return false;
  }
  *record = std::move(decoded).value();
  return true;
}

void WorkerWatcher::ReportLocked() {
  std::vector<WorkerRecord> all;
  all.reserve(view_.size());
  for (const auto& [key, record] : view_) all.push_back(record);
  if (ever_reported_ && all == reported_) return;
  ever_reported_ = true;
  reported_ = all;
  on_change_(all);
}

Result<int64_t> WorkerWatcher::Relist() {
  LLMUX_ASSIGN_OR_RETURN(EtcdRange range, client_->GetPrefix(options_.prefix));
  std::map<std::string, WorkerRecord> view;
  for (const EtcdKeyValue& kv : range.kvs) {
    WorkerRecord record;
    if (Decode(kv, &record)) view.emplace(kv.key, std::move(record));
  }
  std::lock_guard lock(mu_);
  view_ = std::move(view);
  ReportLocked();
  return range.revision;
}

void WorkerWatcher::OnWatchUpdate(const EtcdWatchUpdate& update) {
  std::lock_guard lock(mu_);
  if (!update.error.ok()) {
    spdlog::warn("worker watcher: {}", update.error.ToString());
    watch_ended_ = true;
    connected_ = false;
    cv_.notify_all();
    return;
  }
  for (const EtcdEvent& event : update.events) {
    if (event.type == EtcdEvent::Type::kDelete) {
      view_.erase(event.kv.key);
      continue;
    }
    WorkerRecord record;
    if (Decode(event.kv, &record)) {
      view_[event.kv.key] = std::move(record);
    } else {
      view_.erase(event.kv.key);  // a garbage value replaces what was there
    }
  }
  ReportLocked();
}

void WorkerWatcher::Run() {
  bool failing = false;  // log an outage once, not every retry
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    std::unique_ptr<EtcdWatch> watch;
    Status status = Status::Ok();
    auto revision = Relist();
    if (revision.ok()) {
      {
        std::lock_guard lock(mu_);
        watch_ended_ = false;  // before the watch exists: its end may be reported at once
      }
      auto started = client_->Watch(options_.prefix, *revision + 1,
                                    [this](const EtcdWatchUpdate& u) { OnWatchUpdate(u); });
      if (started.ok()) {
        watch = std::move(started).value();
      } else {
        status = started.status();
      }
    } else {
      status = revision.status();
    }

    std::unique_lock lock(mu_);
    if (watch) {
      if (failing) spdlog::info("worker watcher: etcd answers again; view reconciled");
      failing = false;
      connected_ = true;
      cv_.wait(lock, [&] { return stopping_ || watch_ended_; });
      connected_ = false;
      lock.unlock();
      watch->Cancel();  // joins the watch thread, which takes mu_ in its callback
      lock.lock();
      if (stopping_) return;
      // A short pause before listing again (after a compaction, or a lost stream whose etcd
      // may still answer), so that a watch that keeps failing never spins.
      cv_.wait_for(lock, options_.retry_interval / 5, [&] { return stopping_; });
    } else {
      if (!failing) {
        spdlog::warn("worker watcher: {}; keeping the last view of {} workers and retrying",
                     status.ToString(), view_.size());
      }
      failing = true;
      cv_.wait_for(lock, options_.retry_interval, [&] { return stopping_; });
    }
  }
}

}  // namespace llmux::discovery
