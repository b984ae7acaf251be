#include "cli/progress_bar.h"

#include <gtest/gtest.h>

namespace llmux::cli {
namespace {

TEST(ProgressBar, LineShowsTensorsAndBytes) {
  convert::ConvertProgress p;
  p.tensors_done = 3;
  p.tensors_total = 12;
  p.bytes_done = 512ull << 20;
  p.bytes_total = 2048ull << 20;
  EXPECT_EQ(ProgressBar::Line("import", p, 8),
            "import [##......]  25% 3/12 tensors, 512.0 MiB/2.0 GiB");
  p.tensors_done = 12;
  p.bytes_done = p.bytes_total;
  EXPECT_EQ(ProgressBar::Line("quantize", p, 4),
            "quantize [####] 100% 12/12 tensors, 2.0 GiB/2.0 GiB");
}

TEST(ProgressBar, LineWithoutTensorsShowsBytesOnly) {
  convert::ConvertProgress p;
  p.bytes_done = 256ull << 20;
  p.bytes_total = 1024ull << 20;
  EXPECT_EQ(ProgressBar::Line("pull", p, 4), "pull [#...]  25% 256.0 MiB/1.0 GiB");
}

}  // namespace
}  // namespace llmux::cli
