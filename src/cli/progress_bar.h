// A one-line progress bar on stderr for long conversions (`model import`, `quantize`) and
// downloads (`model pull`): tensors (when counted) and bytes done of the total, redrawn at most
// ten times a second. When stderr is not a
// terminal it draws nothing; the command prints its summary line either way.
#pragma once

#include <chrono>
#include <string>

#include "engine/convert/progress.h"

namespace llmux::cli {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();  // ends the line if one was drawn

  void Update(const convert::ConvertProgress& p);
  // The callback to hand to the converter (the bar must outlive it).
  convert::ProgressFn Callback() {
    return [this](const convert::ConvertProgress& p) { Update(p); };
  }

  // The text of one line (no terminal codes), for tests.
  static std::string Line(const std::string& label, const convert::ConvertProgress& p, int width);

 private:
  std::string label_;
  bool tty_ = false;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace llmux::cli
