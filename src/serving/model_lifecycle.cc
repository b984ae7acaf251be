#include "serving/model_lifecycle.h"

#include <algorithm>

namespace llmux::serving {

namespace {

bool Serving(ModelState s) { return s == ModelState::kLoaded || s == ModelState::kIdle; }

}  // namespace

const char* ModelStateName(ModelState state) {
  switch (state) {
    case ModelState::kLoading:
      return "loading";
    case ModelState::kLoaded:
      return "loaded";
    case ModelState::kIdle:
      return "idle";
    case ModelState::kUnloading:
      return "unloading";
    case ModelState::kFailed:
      return "failed";
  }
  return "failed";
}

void ModelLifecycle::Touch(Entry& e, double now) {
  e.touched = ++clock_;
  e.status.last_used = now;
}

std::optional<double> ModelLifecycle::ExpiryOf(const Entry& e) const {
  const ModelStatus& s = e.status;
  if (s.state != ModelState::kIdle || s.pinned || !s.keep_alive_s || *s.keep_alive_s < 0) {
    return std::nullopt;
  }
  return s.last_used + *s.keep_alive_s;
}

Result<std::vector<std::string>> ModelLifecycle::BeginLoad(const std::string& name,
                                                           const std::string& path, bool pinned,
                                                           double now) {
  auto it = entries_.find(name);
  if (it != entries_.end() && it->second.status.state != ModelState::kFailed) {
    if (it->second.status.state == ModelState::kLoading) {
      return AlreadyExistsError("a model is already being loaded under the name '" + name + "'");
    }
    return AlreadyExistsError("a model is already served under the name '" + name + "'");
  }
  std::vector<std::string> evict;
  if (options_.max_loaded_models > 0) {
    int taken = 0;
    std::vector<Entry*> candidates;  // idle, not pinned
    for (auto& [n, e] : entries_) {
      if (e.status.state == ModelState::kLoading || Serving(e.status.state)) ++taken;
      if (e.status.state == ModelState::kIdle && !e.status.pinned) candidates.push_back(&e);
    }
    const int over = taken + 1 - options_.max_loaded_models;
    if (over > static_cast<int>(candidates.size())) {
      return ResourceExhaustedError(
          "cannot load '" + name + "': " + std::to_string(options_.max_loaded_models) +
          " models are loaded or loading (--max-loaded-models) and none can be unloaded for it "
          "(those with requests in flight and those given on the command line stay)");
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const Entry* a, const Entry* b) { return a->touched < b->touched; });
    for (int i = 0; i < over; ++i) {
      candidates[i]->status.state = ModelState::kUnloading;
      evict.push_back(candidates[i]->status.name);
    }
  }
  Entry e;
  e.status.name = name;
  e.status.path = path;
  e.status.pinned = pinned;
  e.status.state = ModelState::kLoading;
  Touch(e, now);
  entries_[name] = std::move(e);
  return evict;
}

void ModelLifecycle::Loaded(const std::string& name, std::optional<double> keep_alive_s,
                            int64_t weights_bytes, int64_t kv_bytes, double now) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  ModelStatus& s = it->second.status;
  s.state = ModelState::kIdle;
  s.reason.clear();
  if (!s.pinned) s.keep_alive_s = keep_alive_s ? *keep_alive_s : options_.default_keep_alive_s;
  if (s.keep_alive_s && *s.keep_alive_s < 0) s.keep_alive_s.reset();
  s.loaded_at = now;
  s.weights_bytes = weights_bytes;
  s.kv_bytes = kv_bytes;
  Touch(it->second, now);
}

void ModelLifecycle::Replaced(const std::string& name, const std::string& path,
                              int64_t weights_bytes, int64_t kv_bytes, double now) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  ModelStatus& s = it->second.status;
  s.path = path;
  s.loaded_at = now;
  s.weights_bytes = weights_bytes;
  s.kv_bytes = kv_bytes;
}

void ModelLifecycle::LoadFailed(const std::string& name, const std::string& reason, double now) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  it->second.status.state = ModelState::kFailed;
  it->second.status.reason = reason;
  Touch(it->second, now);
  // Keep the newest failures only.
  std::vector<std::pair<uint64_t, std::string>> failed;
  for (const auto& [n, e] : entries_) {
    if (e.status.state == ModelState::kFailed) failed.emplace_back(e.touched, n);
  }
  std::sort(failed.begin(), failed.end());
  for (size_t i = 0; i + kMaxFailed < failed.size(); ++i) entries_.erase(failed[i].second);
}

bool ModelLifecycle::RequestStarted(const std::string& name, std::optional<double> keep_alive_s,
                                    double now) {
  auto it = entries_.find(name);
  if (it == entries_.end() || !Serving(it->second.status.state)) return false;
  ModelStatus& s = it->second.status;
  ++s.in_flight;
  s.state = ModelState::kLoaded;
  if (keep_alive_s && !s.pinned) {
    s.keep_alive_s = *keep_alive_s < 0 ? std::nullopt : keep_alive_s;
  }
  Touch(it->second, now);
  return true;
}

void ModelLifecycle::RequestFinished(const std::string& name, double now) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  ModelStatus& s = it->second.status;
  if (s.in_flight > 0) --s.in_flight;
  if (s.in_flight == 0 && s.state == ModelState::kLoaded) s.state = ModelState::kIdle;
  Touch(it->second, now);
}

Status ModelLifecycle::SetKeepAlive(const std::string& name, double keep_alive_s, double now) {
  auto it = entries_.find(name);
  if (it == entries_.end() || !Serving(it->second.status.state)) {
    return NotFoundError("the model '" + name + "' is not loaded").WithField("model");
  }
  ModelStatus& s = it->second.status;
  if (s.pinned) return Status::Ok();
  if (keep_alive_s < 0) {
    s.keep_alive_s.reset();
  } else {
    s.keep_alive_s = keep_alive_s;
  }
  s.last_used = now;  // the countdown starts now (the eviction order is left alone)
  return Status::Ok();
}

std::vector<std::string> ModelLifecycle::TakeExpired(double now) {
  std::vector<std::string> out;
  for (auto& [name, e] : entries_) {
    std::optional<double> at = ExpiryOf(e);
    if (at && *at <= now) {
      e.status.state = ModelState::kUnloading;
      out.push_back(name);
    }
  }
  return out;
}

std::optional<double> ModelLifecycle::NextExpiry() const {
  std::optional<double> next;
  for (const auto& [name, e] : entries_) {
    std::optional<double> at = ExpiryOf(e);
    if (at && (!next || *at < *next)) next = at;
  }
  return next;
}

Status ModelLifecycle::BeginUnload(const std::string& name) {
  auto it = entries_.find(name);
  if (it == entries_.end() || !Serving(it->second.status.state)) {
    return NotFoundError("the model '" + name + "' does not exist").WithField("name");
  }
  it->second.status.state = ModelState::kUnloading;
  return Status::Ok();
}

void ModelLifecycle::Unloaded(const std::string& name) {
  auto it = entries_.find(name);
  if (it != entries_.end() && it->second.status.state == ModelState::kUnloading) {
    entries_.erase(it);
  }
}

bool ModelLifecycle::IsLoaded(const std::string& name) const {
  auto it = entries_.find(name);
  return it != entries_.end() && Serving(it->second.status.state);
}

std::vector<ModelStatus> ModelLifecycle::List() const {
  std::vector<ModelStatus> out;
  for (const auto& [name, e] : entries_) {
    out.push_back(e.status);
    out.back().expires_at = ExpiryOf(e);
  }
  return out;
}

}  // namespace llmux::serving
