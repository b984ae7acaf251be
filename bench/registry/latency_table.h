// Latency samples by row and their p50/p90/p99/max, printed as a Markdown table.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace llmux::bench {

// Nearest rank: the smallest sample that at least p% of the samples do not exceed.
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// Latency rows in the order they were first named.
class LatencyTable {
 public:
  std::vector<double>& Row(const std::string& name) {
    for (auto& [n, v] : rows_) {
      if (n == name) return v;
    }
    rows_.emplace_back(name, std::vector<double>{});
    return rows_.back().second;
  }
  void Print() const {
    std::printf(
        "| event | samples | p50 ms | p90 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n");
    for (const auto& [name, v] : rows_) {
      std::printf("| %s | %zu | %.1f | %.1f | %.1f | %.1f |\n", name.c_str(), v.size(),
                  Percentile(v, 50), Percentile(v, 90), Percentile(v, 99), Percentile(v, 100));
    }
  }

 private:
  std::vector<std::pair<std::string, std::vector<double>>> rows_;
};

}  // namespace llmux::bench
