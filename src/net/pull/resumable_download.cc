#include "net/pull/resumable_download.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "net/http/http_client.h"
#include "net/pull/sha256_stream.h"

namespace llmux::pull {

namespace {

namespace fs = std::filesystem;

bool ParseU64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// "Location" of a redirect, made absolute against the URL that answered it.
Result<std::string> RedirectTarget(const std::string& from, std::string_view location) {
  if (location.empty()) return InvalidArgumentError("a redirect without a Location");
  std::string next;
  if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) {
    next = std::string(location);
  } else if (location[0] == '/' && (location.size() < 2 || location[1] != '/')) {
    LLMUX_ASSIGN_OR_RETURN(http::Url base, http::ParseUrl(from));
    const bool v6 = base.host.find(':') != std::string::npos;
    next = std::string(base.tls ? "https://" : "http://") +
           (v6 ? "[" + base.host + "]" : base.host) + ":" + base.port + std::string(location);
  } else {
    return InvalidArgumentError("unsupported redirect Location (only absolute URLs and paths)");
  }
  LLMUX_ASSIGN_OR_RETURN(http::Url to, http::ParseUrl(next));
  if (from.rfind("https://", 0) == 0 && !to.tls) {
    return InvalidArgumentError("refusing a redirect from https to http");
  }
  return next;
}

// The local side of one download: the partial file, and the hash of exactly its bytes.
class PartialFile {
 public:
  explicit PartialFile(std::string path) : path_(std::move(path)) {}
  ~PartialFile() { Close(); }

  // Opens for appending, hashing what is already there.
  Status Open() {
    std::error_code ec;
    size_ = fs::exists(path_, ec) ? fs::file_size(path_, ec) : 0;
    if (ec) return IoError("cannot read " + path_ + ": " + ec.message());
    if (size_ > 0) LLMUX_RETURN_IF_ERROR(HashFilePrefix(path_, size_, hash_));
    file_ = std::fopen(path_.c_str(), "ab");
    if (file_ == nullptr) return IoError("cannot write " + path_);
    return Status::Ok();
  }
  // Drops every byte: the next ones start the file.
  Status Restart() {
    Close();
    file_ = std::fopen(path_.c_str(), "wb");
    if (file_ == nullptr) return IoError("cannot write " + path_);
    size_ = 0;
    hash_.Reset();
    return Status::Ok();
  }
  bool Append(std::string_view bytes) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) return false;
    hash_.Update(bytes);
    size_ += bytes.size();
    return true;
  }
  Status Finish() {
    if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) {
      return IoError("cannot write " + path_);
    }
    Close();
    return Status::Ok();
  }
  void Remove() {
    Close();
    std::error_code ec;
    fs::remove(path_, ec);
  }
  uint64_t size() const { return size_; }
  std::string digest() const { return hash_.HexDigest(); }

 private:
  void Close() {
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
  }
  std::string path_;
  std::FILE* file_ = nullptr;
  uint64_t size_ = 0;
  Sha256Stream hash_;
};

// What one connection ended with.
enum class Outcome { kDone, kRetry, kFailed };

struct Attempt {
  Outcome outcome = Outcome::kFailed;
  Status status;
};

class Downloader {
 public:
  Downloader(std::string url, std::string partial_path, const DownloadOptions& o,
             const DownloadProgressFn& progress)
      : url_(std::move(url)), file_(std::move(partial_path)), o_(o), progress_(progress) {}

  Result<Downloaded> Run() {
    LLMUX_RETURN_IF_ERROR(http::ParseUrl(url_).status());
    LLMUX_RETURN_IF_ERROR(file_.Open());
    if (file_.size() > o_.max_bytes) {
      file_.Remove();
      return ResourceExhaustedError("the partial download is over the size limit");
    }
    auto backoff = o_.backoff;
    Status last = UnavailableError("no attempt made");
    for (int attempt = 0; attempt < std::max(1, o_.max_attempts); ++attempt) {
      if (attempt > 0) {
        std::this_thread::sleep_for(backoff);
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(8));
      }
      Attempt a = Connect();
      if (a.outcome == Outcome::kDone) {
        LLMUX_RETURN_IF_ERROR(file_.Finish());
        return Downloaded{file_.digest(), file_.size()};
      }
      last = a.status;
      if (a.outcome == Outcome::kFailed) break;
    }
    if (last.code() == StatusCode::kResourceExhausted) file_.Remove();
    return last;
  }

 private:
  bool Report() { return !progress_ || progress_(DownloadProgress{file_.size(), total_}); }

  // One connection, following redirects: resumes from the file's size.
  Attempt Connect() {
    std::string url = url_;
    for (int hop = 0;; ++hop) {
      std::optional<std::string> redirect;
      Status head_error;
      bool cancelled = false, write_failed = false, too_big = false;
      const uint64_t offset = file_.size();
      http::ClientRequest req;
      req.url = url;
      req.timeout = o_.total_timeout;
      req.idle_timeout = o_.idle_timeout;
      req.ca_file = o_.ca_file;
      req.verify_peer = o_.verify_peer;
      req.max_response_bytes = o_.max_bytes;
      if (offset > 0) req.headers.Add("Range", "bytes=" + std::to_string(offset) + "-");
      req.on_head = [&](int status, const http::Headers& h) {
        head_error = OnHead(status, h, offset, url, redirect);
        return head_error.ok() && !redirect && status / 100 == 2;
      };
      req.on_body = [&](std::string_view piece) {
        if (file_.size() + piece.size() > o_.max_bytes) {
          too_big = true;
          return false;
        }
        if (!file_.Append(piece)) {
          write_failed = true;
          return false;
        }
        if (!Report()) {
          cancelled = true;
          return false;
        }
        return true;
      };
      Result<http::ClientResponse> r = http::Fetch(req);
      if (write_failed) return {Outcome::kFailed, IoError("cannot write the partial download")};
      if (too_big) {
        return {Outcome::kFailed, ResourceExhaustedError("the file is over the limit of " +
                                                         std::to_string(o_.max_bytes) + " bytes")};
      }
      if (cancelled) return {Outcome::kFailed, UnavailableError("the pull was cancelled")};
      if (!head_error.ok()) {
        const bool retry = head_error.code() == StatusCode::kUnavailable ||
                           head_error.code() == StatusCode::kDataLoss;
        return {retry ? Outcome::kRetry : Outcome::kFailed, head_error};
      }
      if (redirect) {
        if (hop >= o_.max_redirects) {
          return {Outcome::kFailed, InvalidArgumentError("too many redirects (more than " +
                                                         std::to_string(o_.max_redirects) + ")")};
        }
        Result<std::string> next = RedirectTarget(url, *redirect);
        if (!next.ok()) return {Outcome::kFailed, next.status()};
        url = *next;
        continue;
      }
      if (!r.ok()) {
        const StatusCode c = r.status().code();
        const bool retry = c == StatusCode::kUnavailable || c == StatusCode::kDeadlineExceeded;
        return {retry ? Outcome::kRetry : Outcome::kFailed, r.status()};
      }
      if (range_complete_) return {Outcome::kDone, Status::Ok()};
      if (total_ > 0 && file_.size() != total_) {
        return {Outcome::kRetry,
                UnavailableError("the connection ended before the whole file came")};
      }
      if (total_ == 0) total_ = file_.size();
      Report();
      return {Outcome::kDone, Status::Ok()};
    }
  }

  // Checks the status line and headers; sets `redirect` for a 3xx.
  Status OnHead(int status, const http::Headers& h, uint64_t offset, const std::string& url,
                std::optional<std::string>& redirect) {
    range_complete_ = false;
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
      redirect = std::string(h.Get("Location").value_or(""));
      return Status::Ok();
    }
    if (status == 200) {
      // The whole file: the server ignored the range (or none was asked).
      if (offset > 0) LLMUX_RETURN_IF_ERROR(file_.Restart());
      total_ = 0;
      if (auto len = h.Get("Content-Length"); len && !ParseU64(*len, total_)) {
        return InvalidArgumentError("bad Content-Length from " + Host(url));
      }
      return CheckTotal();
    }
    if (status == 206) {
      auto range = h.Get("Content-Range");
      std::optional<ContentRange> cr = range ? ParseContentRange(*range) : std::nullopt;
      if (!cr || cr->start != offset || (cr->total != 0 && cr->end + 1 != cr->total)) {
        // Not the rest of our file: start again from nothing.
        LLMUX_RETURN_IF_ERROR(file_.Restart());
        return DataLossError("a partial answer from " + Host(url) +
                             " that does not continue the file");
      }
      total_ = cr->total != 0 ? cr->total : cr->end + 1;
      return CheckTotal();
    }
    if (status == 416 && offset > 0) {
      // Nothing left to send: done if the file is whole, else start again.
      auto range = h.Get("Content-Range");
      uint64_t whole = 0;
      if (range && range->rfind("bytes */", 0) == 0 && ParseU64(range->substr(8), whole) &&
          whole == offset) {
        total_ = whole;
        range_complete_ = true;
        return Status::Ok();
      }
      LLMUX_RETURN_IF_ERROR(file_.Restart());
      return DataLossError("the partial download is longer than the file at " + Host(url));
    }
    const std::string answer = Host(url) + " answered HTTP " + std::to_string(status);
    if (status == 404) return NotFoundError(answer);
    if (status >= 500 || status == 429 || status == 408) return UnavailableError(answer);
    return InvalidArgumentError(answer);
  }

  Status CheckTotal() const {
    if (total_ > o_.max_bytes) {
      return ResourceExhaustedError("the file is " + std::to_string(total_) +
                                    " bytes, over the limit of " + std::to_string(o_.max_bytes));
    }
    return Status::Ok();
  }

  // Only the host, for messages: a URL's path or query may carry a token.
  static std::string Host(const std::string& url) {
    Result<http::Url> u = http::ParseUrl(url);
    return u.ok() ? u->host : std::string("the server");
  }

  std::string url_;
  PartialFile file_;
  const DownloadOptions& o_;
  const DownloadProgressFn& progress_;
  uint64_t total_ = 0;
  bool range_complete_ = false;
};

}  // namespace

std::optional<ContentRange> ParseContentRange(std::string_view v) {
  if (v.rfind("bytes ", 0) != 0) return std::nullopt;
  v.remove_prefix(6);
  const size_t dash = v.find('-'), slash = v.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) {
    return std::nullopt;
  }
  ContentRange r;
  if (!ParseU64(v.substr(0, dash), r.start) ||
      !ParseU64(v.substr(dash + 1, slash - dash - 1), r.end) || r.end < r.start) {
    return std::nullopt;
  }
  const std::string_view total = v.substr(slash + 1);
  if (total != "*" && (!ParseU64(total, r.total) || r.total <= r.end)) return std::nullopt;
  return r;
}

Result<Downloaded> DownloadResumable(const std::string& url, const std::string& partial_path,
                                     const DownloadOptions& options,
                                     const DownloadProgressFn& progress) {
  return Downloader(url, partial_path, options, progress).Run();
}

}  // namespace llmux::pull
