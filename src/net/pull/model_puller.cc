#include "net/pull/model_puller.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "net/http/http_client.h"
#include "net/pull/sha256_stream.h"

namespace llmux::pull {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "sha256:<hex>" / "sha256-<hex>" / "<hex>" -> lower-case hex, or "" when it is none of those.
std::string DigestHex(std::string_view s) {
  if (s.rfind("sha256:", 0) == 0 || s.rfind("sha256-", 0) == 0) s.remove_prefix(7);
  return IsSha256Hex(s) ? Lower(std::string(s)) : std::string();
}

std::string HashOf(std::string_view text) {
  Sha256Stream h;
  h.Update(text);
  return h.HexDigest().substr(0, 32);
}

bool ValidName(const std::string& name) {
  if (name.size() > 200) return false;
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                    c == '-' || c == ':' || c == '/' || c == '@';
    if (!ok) return false;
  }
  return true;
}

// True when `path` (canonical) is `dir` or inside it.
bool Under(const fs::path& path, const std::string& dir) {
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(dir, ec);
  if (ec) return false;
  auto [b, p] = std::mismatch(base.begin(), base.end(), path.begin(), path.end());
  return b == base.end() || (std::next(b) == base.end() && b->empty());
}

// Reports download progress at most every 100 ms (and always the last), so a large file makes
// a few thousand lines, not millions.
class Throttle {
 public:
  bool Due(uint64_t completed, uint64_t total) {
    const auto now = Clock::now();
    if (completed != total && now - last_ < std::chrono::milliseconds(100)) return false;
    last_ = now;
    return true;
  }

 private:
  Clock::time_point last_{};
};

// Copies a local file into `partial`, hashing as it goes.
Result<Downloaded> CopyLocal(const std::string& from, const std::string& partial,
                             uint64_t max_bytes, const DownloadProgressFn& progress) {
  std::error_code ec;
  const uint64_t total = fs::file_size(from, ec);
  if (ec) return IoError("cannot read " + from);
  if (total > max_bytes) return ResourceExhaustedError("the file is over the size limit");
  std::FILE* in = std::fopen(from.c_str(), "rb");
  if (in == nullptr) return IoError("cannot read " + from);
  std::FILE* out = std::fopen(partial.c_str(), "wb");
  if (out == nullptr) {
    std::fclose(in);
    return IoError("cannot write " + partial);
  }
  Sha256Stream hash;
  std::vector<char> buf(1 << 20);
  uint64_t done = 0;
  Status st;
  while (st.ok()) {
    const size_t got = std::fread(buf.data(), 1, buf.size(), in);
    if (got == 0) break;
    if (std::fwrite(buf.data(), 1, got, out) != got) st = IoError("cannot write " + partial);
    hash.Update(std::string_view(buf.data(), got));
    done += got;
    if (progress && !progress(DownloadProgress{done, total}))
      st = UnavailableError("the pull was cancelled");
  }
  std::fclose(in);
  if (std::fclose(out) != 0 && st.ok()) st = IoError("cannot write " + partial);
  if (st.ok() && done != total) st = IoError(from + " changed while it was copied");
  if (!st.ok()) {
    fs::remove(partial, ec);
    return st;
  }
  return Downloaded{hash.HexDigest(), done};
}

}  // namespace

std::string DigestInUrl(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  const size_t slash = path.rfind('/');
  return DigestHex(slash == std::string::npos ? path : path.substr(slash + 1));
}

ModelPuller::ModelPuller(PullerOptions options, PullSink* sink)
    : options_(std::move(options)), sink_(sink) {}

Result<std::unique_ptr<PullJob>> ModelPuller::Start(const PullRequest& in,
                                                    const std::string& caller) {
  PullRequest r = in;
  if (r.url.empty() == r.path.empty()) {
    return InvalidArgumentError("give exactly one of a URL and a local path").WithField("url");
  }
  if (!ValidName(r.name)) {
    return InvalidArgumentError("name: up to 200 letters, digits and . _ - : / @")
        .WithField("name");
  }
  std::string expected;
  if (!r.sha256.empty()) {
    expected = DigestHex(r.sha256);
    if (expected.empty()) {
      return InvalidArgumentError("sha256 must be 64 hex digits").WithField("sha256");
    }
  }
  std::string key;
  if (!r.url.empty()) {
    if (r.url.size() > 4096) return InvalidArgumentError("the URL is too long").WithField("url");
    Result<http::Url> url = http::ParseUrl(r.url);  // the scheme allow-list: http, https
    if (!url.ok())
      return InvalidArgumentError("only http:// and https:// URLs can be pulled").WithField("url");
    const std::string named = DigestInUrl(r.url);
    if (!named.empty() && !expected.empty() && named != expected) {
      return InvalidArgumentError("the URL names another digest than sha256").WithField("sha256");
    }
    if (expected.empty()) expected = named;
    key = r.url;
  } else {
    if (r.path.size() > 4096) return InvalidArgumentError("the path is too long").WithField("path");
    std::error_code ec;
    const fs::path canonical = fs::canonical(r.path, ec);
    if (ec || !fs::is_regular_file(canonical, ec)) {
      return NotFoundError("no such file: " + r.path).WithField("path");
    }
    bool allowed = options_.any_local_path;
    for (const std::string& dir : options_.local_dirs) allowed = allowed || Under(canonical, dir);
    if (!allowed) {
      return PermissionDeniedError("local files can be pulled only from the allowed directories")
          .WithField("path");
    }
    r.path = canonical.string();
    key = "file:" + r.path;
  }
  if (!expected.empty()) key = "sha256:" + expected;
  std::lock_guard lock(mu_);
  if (active_.count(key) != 0) {
    return AlreadyExistsError("this model is being pulled already; wait for that pull to end");
  }
  if (static_cast<int>(active_.size()) >= options_.max_pulls) {
    return ResourceExhaustedError("too many pulls at once; try again later");
  }
  if (by_caller_[caller] >= options_.max_pulls_per_caller) {
    return ResourceExhaustedError("this caller has too many pulls running; try again later");
  }
  ActivePull& shown = active_[key];
  shown.name = r.name;
  shown.source = r.url.empty() ? r.path : r.url.substr(0, r.url.find_first_of("?#"));
  shown.caller = caller;
  ++by_caller_[caller];
  return std::unique_ptr<PullJob>(new PullJob(*this, std::move(r), key, caller, expected));
}

ModelPuller::~ModelPuller() {
  stopping_ = true;
  std::unique_lock lock(mu_);
  idle_.wait(lock, [&] { return active_.empty(); });
}

std::vector<ActivePull> ModelPuller::Active() const {
  std::lock_guard lock(mu_);
  std::vector<ActivePull> out;
  out.reserve(active_.size());
  for (const auto& [key, pull] : active_) out.push_back(pull);
  return out;
}

void ModelPuller::Report(const std::string& key, const PullProgress& progress) {
  std::lock_guard lock(mu_);
  auto it = active_.find(key);
  if (it != active_.end()) it->second.progress = progress;
}

void ModelPuller::Release(const std::string& key, const std::string& caller) {
  std::lock_guard lock(mu_);
  active_.erase(key);
  if (--by_caller_[caller] <= 0) by_caller_.erase(caller);
  idle_.notify_all();
}

PullJob::PullJob(ModelPuller& owner, PullRequest request, std::string key, std::string caller,
                 std::string expected)
    : owner_(owner),
      request_(std::move(request)),
      key_(std::move(key)),
      caller_(std::move(caller)),
      expected_(std::move(expected)) {}

PullJob::~PullJob() { owner_.Release(key_, caller_); }

Result<PulledModel> PullJob::Run(const PullProgressFn& progress) {
  // Every report is also where a shutting-down puller stops the pull.
  const PullProgressFn report = [&](const PullProgress& p) {
    owner_.Report(key_, p);
    return !owner_.stopping_.load() && (!progress || progress(p));
  };
  const std::string digest = expected_.empty() ? "" : "sha256:" + expected_;
  if (!report({"pulling manifest", digest, 0, 0}))
    return UnavailableError("the pull was cancelled");
  return Fetch(report);
}

Result<PulledModel> PullJob::Fetch(const PullProgressFn& progress) {
  const PullerOptions& o = owner_.options();
  const fs::path blobs = fs::path(o.models_dir) / "blobs";
  std::error_code ec;
  fs::create_directories(blobs, ec);
  if (ec) return IoError("cannot create " + blobs.string() + ": " + ec.message());
  const std::string digest = expected_.empty() ? "" : "sha256:" + expected_;
  if (!expected_.empty()) {
    const fs::path done = blobs / ("sha256-" + expected_);
    if (fs::is_regular_file(done, ec)) {  // already here: nothing to fetch
      const uint64_t size = fs::file_size(done, ec);
      if (progress && !progress({"downloading", digest, size, size})) {
        return UnavailableError("the pull was cancelled");
      }
      return Place("", expected_, size, progress);
    }
  }
  const std::string source = request_.url.empty() ? request_.path : request_.url;
  const std::string partial =
      (blobs / (expected_.empty() ? (request_.url.empty() ? "copy-" : "url-") + HashOf(source)
                                  : "sha256-" + expected_))
          .string() +
      ".partial";
  Throttle throttle;
  DownloadProgressFn on_bytes = [&](const DownloadProgress& d) {
    if (!progress || !throttle.Due(d.completed, d.total)) return true;
    return progress({"downloading", digest, d.total, d.completed});
  };
  Result<Downloaded> got = request_.url.empty()
                               ? CopyLocal(request_.path, partial, o.download.max_bytes, on_bytes)
                               : DownloadResumable(request_.url, partial, o.download, on_bytes);
  if (!got.ok()) return got.status();
  if (progress && !progress({"downloading", digest, got->size, got->size})) {
    return UnavailableError("the pull was cancelled");
  }
  if (progress &&
      !progress({"verifying sha256 digest", "sha256:" + got->sha256, got->size, got->size})) {
    return UnavailableError("the pull was cancelled");
  }
  if (!expected_.empty() && got->sha256 != expected_) {
    fs::remove(partial, ec);
    return DataLossError("digest mismatch: expected sha256:" + expected_ +
                         ", got sha256:" + got->sha256);
  }
  return Place(partial, got->sha256, got->size, progress);
}

// Renames the checked file into place (atomically), tells the sink, reports success.
Result<PulledModel> PullJob::Place(const std::string& partial, const std::string& hex,
                                   uint64_t size, const PullProgressFn& progress) {
  const PullerOptions& o = owner_.options();
  PulledModel m;
  m.digest = "sha256:" + hex;
  m.path = (fs::path(o.models_dir) / "blobs" / ("sha256-" + hex)).string();
  m.size = size;
  m.name = request_.name;
  m.caller = caller_;
  m.source = request_.url.empty() ? request_.path
                                  : request_.url.substr(0, request_.url.find_first_of("?#"));
  if (!partial.empty()) {
    std::error_code ec;
    fs::rename(partial, m.path, ec);
    if (ec) return IoError("cannot move the download into place: " + ec.message());
  }
  if (progress && !progress({"writing manifest", m.digest, size, size})) {
    return UnavailableError("the pull was cancelled");
  }
  if (owner_.sink_ != nullptr) LLMUX_RETURN_IF_ERROR(owner_.sink_->OnPulled(m));
  if (progress) progress({"success", m.digest, size, size});
  return m;
}

}  // namespace llmux::pull
