// Model pulls: a file from an http(s) URL or a local path into the models directory's blob
// store, named by its content (`<models_dir>/blobs/sha256-<hex>`, as Ollama lays blobs out),
// with progress in the shape of Ollama's /api/pull stream. Used by `llmux model pull`,
// POST /admin/v1/models/pull and Ollama's POST /api/pull.
//
// A pull downloads into `<final>.partial` (or `url-<hash of the URL>.partial` while the digest
// is unknown), resumes it after a dropped connection or a restart of llmux, checks the
// SHA-256 (given by the caller, or by a URL whose last segment is `sha256:<hex>` /
// `sha256-<hex>`), and renames it into place atomically. A wrong digest removes the partial
// file (resuming it could never succeed). One pull per source (URL, path or expected digest)
// at a time: a second one is refused with AlreadyExists (HTTP 409) rather than joined, so
// each progress stream has one reader. Pulls are capped in all and per caller
// (ResourceExhausted, HTTP 429).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "net/pull/resumable_download.h"

namespace llmux::pull {

// One line of progress, as Ollama's /api/pull streams it. Statuses in order: "pulling
// manifest" (checking the source), "downloading" (completed grows to total; total 0 while
// unknown), "verifying sha256 digest", "writing manifest" (the sink registers the file),
// "success".
struct PullProgress {
  std::string status;
  std::string digest;  // "sha256:<hex>" once known (from the caller or the URL, else at the end)
  uint64_t total = 0;
  uint64_t completed = 0;
};
// Returning false cancels the pull (the partial file is kept for a later resume).
using PullProgressFn = std::function<bool(const PullProgress&)>;

// A file that arrived, for whoever registers it as a model version.
struct PulledModel {
  std::string digest;  // "sha256:<hex>"
  std::string path;    // <models_dir>/blobs/sha256-<hex>
  uint64_t size = 0;
  std::string name;    // as the caller asked (may be empty)
  std::string source;  // the URL or path pulled (URLs without their query)
  std::string caller;  // who pulled it, as given to ModelPuller::Start
};

// Called once per finished pull, before "success" is reported; an error fails the pull (the
// blob stays: it is valid, and a retry finds it at once).
class PullSink {
 public:
  virtual ~PullSink() = default;
  virtual Status OnPulled(const PulledModel& model) = 0;
};

struct PullRequest {
  std::string url;     // http:// or https://, or empty
  std::string path;    // a local file, or empty (exactly one of url, path)
  std::string sha256;  // expected digest: 64 hex digits, optionally "sha256:"-prefixed
  std::string name;    // handed to the sink
};

struct PullerOptions {
  std::string models_dir;  // required
  // Local files may be pulled from under these directories only...
  std::vector<std::string> local_dirs;
  bool any_local_path = false;   // ...or from anywhere (the CLI)
  int max_pulls = 4;             // at once, in all
  int max_pulls_per_caller = 2;  // at once, per caller
  DownloadOptions download;
};

// A pull running now (GET /admin/v1/models shows it as "downloading").
struct ActivePull {
  std::string name;       // as the caller asked (may be empty)
  std::string source;     // the URL without its query, or the local path
  std::string caller;     // who pulled it
  PullProgress progress;  // its last report
};

class ModelPuller;

// A pull admitted by ModelPuller::Start: it holds its slots until destroyed.
class PullJob {
 public:
  ~PullJob();
  PullJob(const PullJob&) = delete;
  PullJob& operator=(const PullJob&) = delete;

  // Runs the pull (blocking; call it off any I/O thread). Once.
  Result<PulledModel> Run(const PullProgressFn& progress);

 private:
  friend class ModelPuller;
  PullJob(ModelPuller& owner, PullRequest request, std::string key, std::string caller,
          std::string expected);
  Result<PulledModel> Fetch(const PullProgressFn& progress);
  Result<PulledModel> Place(const std::string& partial, const std::string& hex, uint64_t size,
                            const PullProgressFn& progress);

  ModelPuller& owner_;
  PullRequest request_;
  std::string key_, caller_, expected_;  // expected_: hex digest or empty
};

class ModelPuller {
 public:
  explicit ModelPuller(PullerOptions options, PullSink* sink = nullptr);
  // Cancels the running pulls (at their next progress report) and waits for their jobs to go.
  ~ModelPuller();

  // Checks the request and admits it, or refuses: InvalidArgument (bad URL, scheme, digest or
  // name), PermissionDenied (a local path outside the allowed directories), NotFound (no such
  // local file), AlreadyExists (the same source is being pulled), ResourceExhausted (caps).
  Result<std::unique_ptr<PullJob>> Start(const PullRequest& request, const std::string& caller);

  const PullerOptions& options() const { return options_; }

  // The pulls running now, by source.
  std::vector<ActivePull> Active() const;

 private:
  friend class PullJob;
  void Release(const std::string& key, const std::string& caller);
  void Report(const std::string& key, const PullProgress& progress);

  PullerOptions options_;
  PullSink* sink_;
  mutable std::mutex mu_;
  std::condition_variable idle_;
  std::atomic<bool> stopping_{false};
  std::map<std::string, ActivePull> active_;  // the pulls running, by key
  std::map<std::string, int> by_caller_;  // pulls per caller
};

// The digest a URL names in its last path segment ("sha256:<hex>" or "sha256-<hex>"), or "".
std::string DigestInUrl(const std::string& url);

}  // namespace llmux::pull
