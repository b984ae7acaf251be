// CPU time of the calling thread, for tests that bound the cost of single-threaded work: unlike
// the wall clock it does not grow while a loaded machine runs other processes.
#pragma once

#include <time.h>

namespace llmux::testing {

inline double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace llmux::testing
