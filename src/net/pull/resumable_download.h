// A resumable HTTP(S) download into a local ".partial" file, for model pulls.
//
// Bytes already in the partial file are kept: the request asks for the rest with
// `Range: bytes=N-`. A 206 must start exactly at N (its Content-Range is checked); a 200 means
// the server ignored the range, so the file starts over. When the connection drops or stalls
// halfway, the download resumes the same way after a backoff, a bounded number of times.
// Redirects are followed a bounded number of times (never from https to http). The SHA-256 is
// computed as the bytes arrive, over the partial file's old bytes too, so the digest is ready
// when the last byte is written. The body may not exceed `max_bytes`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace llmux::pull {

struct DownloadOptions {
  int max_attempts = 6;   // connections in all: the first and the resumes after a drop
  int max_redirects = 5;  // per connection
  std::chrono::milliseconds backoff{500};         // before a resume; doubled each time, up to 8 s
  std::chrono::milliseconds idle_timeout{30000};  // no byte for this long: the connection failed
  std::chrono::milliseconds total_timeout{std::chrono::hours(12)};  // per connection
  uint64_t max_bytes = uint64_t{256} << 30;                         // the whole file
  std::string ca_file;      // https: trust these certificates instead of the system store
  bool verify_peer = true;  // https: false only for tests
};

struct DownloadProgress {
  uint64_t completed = 0;  // bytes in the partial file
  uint64_t total = 0;      // the file's size once the server said it; 0 while unknown
};
// Returning false stops the download (the partial file is kept for a later resume).
using DownloadProgressFn = std::function<bool(const DownloadProgress&)>;

struct Downloaded {
  std::string sha256;  // lower-case hex of the whole file
  uint64_t size = 0;
};

// Downloads `url` into `partial_path` (created, or resumed when it exists). Errors:
// InvalidArgument (bad URL, a redirect to a bad or downgraded URL, a 4xx answer),
// NotFound (404), Unavailable (the connection failed more than `max_attempts` times, 5xx),
// DeadlineExceeded (stalled), ResourceExhausted (over `max_bytes`; the partial file is then
// removed), DataLoss (a 206 that does not continue the file, every time), IoError (local
// files), and Unavailable "cancelled" when `progress` returned false (not retried).
Result<Downloaded> DownloadResumable(const std::string& url, const std::string& partial_path,
                                     const DownloadOptions& options,
                                     const DownloadProgressFn& progress);

// Parses "bytes START-END/TOTAL" (TOTAL may be "*": returned as 0). Nullopt when malformed.
struct ContentRange {
  uint64_t start = 0, end = 0, total = 0;
};
std::optional<ContentRange> ParseContentRange(std::string_view value);

}  // namespace llmux::pull
