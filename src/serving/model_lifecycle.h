// The lifecycle of the models a process hosts, as a policy over plain records: which models are
// loading, serving, idle or being unloaded, how long each stays loaded without requests
// (keep-alive), and which to evict, least recently used first, when a load would exceed the
// loaded-model limit. It holds no model and no lock: LocalInferenceService calls it under its
// own mutex and does the loading and unloading it decides. Times are unix seconds passed in
// (the caller's clock; tests pass their own).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace llmux::serving {

struct ModelLifecycleOptions {
  // Models loaded at once, those loading included; 0: no limit. A load beyond it evicts the
  // least recently used model without requests (never one given on the command line).
  int max_loaded_models = 0;
  // How long a model loaded at run time (MCP load_model, without its own keep-alive) stays
  // loaded without requests; negative: until unloaded.
  double default_keep_alive_s = -1;
  // How long a request waits for its model's on-demand load before it is answered 503 (the load
  // goes on); its caller may have max_waiting_per_caller such requests waiting per model, and
  // all callers together engine.max_waiting (ModelHostOptions).
  double load_wait_s = 120;
};

enum class ModelState { kLoading, kLoaded, kIdle, kUnloading, kFailed };
// "loading", "loaded" (requests in flight), "idle" (loaded, none in flight), "unloading",
// "failed".
const char* ModelStateName(ModelState state);

struct ModelStatus {
  std::string name;
  std::string path;
  ModelState state = ModelState::kLoading;
  std::string reason;  // why a load failed
  // Given on the command line: kept loaded whatever the keep-alive, never evicted.
  bool pinned = false;
  std::optional<double> keep_alive_s;  // unset: stays loaded
  // When it will be unloaded for idleness (unix seconds); unset: not counting down (pinned,
  // no keep-alive, or requests in flight).
  std::optional<double> expires_at;
  double loaded_at = 0;
  double last_used = 0;  // the last request's start or end, else when it was loaded
  int in_flight = 0;
  int64_t weights_bytes = 0;
  int64_t kv_bytes = 0;  // the KV cache's capacity
};

class ModelLifecycle {
 public:
  explicit ModelLifecycle(ModelLifecycleOptions options) : options_(options) {}

  // Reserves room for loading `name`. Returns the models to evict for it (now "unloading": the
  // caller unloads them and calls Unloaded), AlreadyExists when the name is loaded or loading,
  // ResourceExhausted when the limit is reached and every loaded model is pinned or busy.
  Result<std::vector<std::string>> BeginLoad(const std::string& name, const std::string& path,
                                             bool pinned, double now);
  // The load ended. `keep_alive_s` unset: the default (pinned models: none).
  void Loaded(const std::string& name, std::optional<double> keep_alive_s, int64_t weights_bytes,
              int64_t kv_bytes, double now);
  void LoadFailed(const std::string& name, const std::string& reason, double now);
  // A hot update put another file behind the loaded `name`: its path and memory change, its
  // state, keep-alive and requests in flight do not.
  void Replaced(const std::string& name, const std::string& path, int64_t weights_bytes,
                int64_t kv_bytes, double now);

  // A request starts on a loaded model; `keep_alive_s` (a request's own, Ollama's keep_alive)
  // replaces the model's keep-alive (pinned models keep theirs). False when the model is not
  // loaded (unknown, loading or unloading).
  bool RequestStarted(const std::string& name, std::optional<double> keep_alive_s, double now);
  void RequestFinished(const std::string& name, double now);
  // Sets a loaded model's keep-alive from now (negative: forever); pinned models keep theirs.
  Status SetKeepAlive(const std::string& name, double keep_alive_s, double now);

  // Loaded models whose keep-alive ran out with nothing in flight, now "unloading".
  std::vector<std::string> TakeExpired(double now);
  // When the next keep-alive runs out; unset: none is counting down.
  std::optional<double> NextExpiry() const;
  // Starts unloading `name` (NotFound unless it is loaded).
  Status BeginUnload(const std::string& name);
  void Unloaded(const std::string& name);

  bool IsLoaded(const std::string& name) const;
  // Every model known, by name; failed loads are kept (the last kMaxFailed) until the name
  // loads. Memory is what Loaded recorded.
  std::vector<ModelStatus> List() const;
  const ModelLifecycleOptions& options() const { return options_; }

  static constexpr size_t kMaxFailed = 16;

 private:
  struct Entry {
    ModelStatus status;
    uint64_t touched = 0;  // order of last use: the eviction order
  };
  std::optional<double> ExpiryOf(const Entry& e) const;
  void Touch(Entry& e, double now);

  ModelLifecycleOptions options_;
  std::map<std::string, Entry> entries_;
  uint64_t clock_ = 0;
};

}  // namespace llmux::serving
