// Prometheus metrics of the serving core, per model (names documented in docs/metrics.md).
// Thread-safe: the engine thread records, the /metrics handler serializes.
#pragma once

#include <memory>
#include <string>

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace llmux::serving {

class ServingMetrics {
 public:
  ServingMetrics();
  ~ServingMetrics();

  void RequestQueued(const std::string& model);
  void RequestStarted(const std::string& model);  // left the queue
  void FirstToken(const std::string& model, double seconds_since_arrival);
  void InterToken(const std::string& model, double seconds);
  void RequestFinished(const std::string& model, const std::string& finish_reason,
                       bool started, double seconds_since_arrival, int prompt_tokens,
                       int completion_tokens);

  // The Prometheus text exposition format (version 0.0.4).
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>* ttft_;
  prometheus::Family<prometheus::Histogram>* itl_;
  prometheus::Family<prometheus::Histogram>* e2e_;
  prometheus::Family<prometheus::Counter>* prompt_tokens_;
  prometheus::Family<prometheus::Counter>* generation_tokens_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Gauge>* running_;
  prometheus::Family<prometheus::Gauge>* waiting_;
};

}  // namespace llmux::serving
