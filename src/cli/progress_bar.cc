#include "cli/progress_bar.h"

#include <unistd.h>

#include <cstdio>

namespace llmux::cli {

namespace {

std::string Size(uint64_t bytes) {
  char buf[32];
  const double mib = static_cast<double>(bytes) / (1024.0 * 1024.0);
  if (mib >= 1024.0) {
    std::snprintf(buf, sizeof(buf), "%.1f GiB", mib / 1024.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", mib);
  }
  return buf;
}

}  // namespace

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), tty_(::isatty(STDERR_FILENO) == 1) {}

ProgressBar::~ProgressBar() {
  if (drawn_) std::fputc('\n', stderr);
}

std::string ProgressBar::Line(const std::string& label, const convert::ConvertProgress& p,
                              int width) {
  const double frac =
      p.bytes_total > 0 ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total)
      : p.tensors_total > 0
          ? static_cast<double>(p.tensors_done) / static_cast<double>(p.tensors_total)
          : 1.0;
  const int filled = static_cast<int>(frac * width + 0.5);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(static_cast<size_t>(width), '.');
  char buf[160];
  if (p.tensors_total == 0) {  // bytes only (a download)
    std::snprintf(buf, sizeof(buf), "%s [%s] %3d%% %s/%s", label.c_str(), bar.c_str(),
                  static_cast<int>(frac * 100 + 0.5), Size(p.bytes_done).c_str(),
                  Size(p.bytes_total).c_str());
    return buf;
  }
  std::snprintf(buf, sizeof(buf), "%s [%s] %3d%% %lld/%lld tensors, %s/%s", label.c_str(),
                bar.c_str(), static_cast<int>(frac * 100 + 0.5),
                static_cast<long long>(p.tensors_done), static_cast<long long>(p.tensors_total),
                Size(p.bytes_done).c_str(), Size(p.bytes_total).c_str());
  return buf;
}

void ProgressBar::Update(const convert::ConvertProgress& p) {
  if (!tty_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool last =
      p.tensors_total > 0 ? p.tensors_done == p.tensors_total : p.bytes_done == p.bytes_total;
  if (!last && drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  std::fprintf(stderr, "\r%s\033[K", Line(label_, p, 30).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace llmux::cli
