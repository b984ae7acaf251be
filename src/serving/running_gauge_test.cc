// llmux_requests_running and llmux_requests_waiting against the engine's own sets, over the real
// stories260K model with a small --max-running. The sinks read /metrics from inside the engine's
// callbacks, that is in the middle of a step, where a count kept outside the engine used to be
// ahead of it: a cancelled request was reaped after the step that admitted its successor, and
// the gauge read max_running + 1 (the reported 17 with --max-running 16).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "serving/local_inference_service.h"
#include "tests/support/test_paths.h"

namespace llmux::serving {
namespace {

const std::string kStories = llmux::testing::SharedPath("models/stories260K.gguf");
constexpr int kMaxRunning = 2;

// A gauge or counter of model "stories" in the exposition text; -1 when absent.
double Series(const std::string& text, const std::string& name) {
  const std::regex line("^" + name + R"(\{model="stories"\} (\S+)$)", std::regex::multiline);
  std::smatch m;
  return std::regex_search(text, m, line) ? std::stod(m[1]) : -1;
}

// What the gauges read during a request's life, sampled on every delta and at its finish.
struct Readings {
  double max_running = 0;
  double min_waiting = 0;
  double max_total = 0;  // running + waiting
};

class GaugeSink : public Sink {
 public:
  explicit GaugeSink(ServingMetrics& metrics) : metrics_(metrics) {}
  void OnDelta(const Delta&) override {
    Sample();
    if (!first_) {
      first_ = true;
      first.set_value();
    }
  }
  void OnFinish(const Finish& f) override {
    Sample();
    if (!first_) first.set_value();  // nothing came before the finish
    done.set_value(f);
  }
  Readings readings;
  std::promise<void> first;
  std::promise<Finish> done;

 private:
  void Sample() {
    const std::string text = metrics_.Serialize();
    const double running = Series(text, "llmux_requests_running");
    const double waiting = Series(text, "llmux_requests_waiting");
    readings.max_running = std::max(readings.max_running, running);
    readings.min_waiting = std::min(readings.min_waiting, waiting);
    readings.max_total = std::max(readings.max_total, running + waiting);
  }
  ServingMetrics& metrics_;
  bool first_ = false;
};

class RunningGaugeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ModelHostOptions options;
    options.n_threads = 1;
    options.engine.scheduler.max_running = kMaxRunning;
    options.engine.kv_cache_bytes = 1;  // one full context (512 positions): long requests preempt
    service_ = std::make_unique<LocalInferenceService>(
        std::vector<ModelSpec>{ModelSpec{"stories", kStories}}, options);
    ASSERT_TRUE(service_->WaitLoaded().ok());
  }

  struct Call {
    std::shared_ptr<GaugeSink> sink;
    std::shared_ptr<RequestHandle> handle;
  };
  Call Start(int max_tokens) {
    CompletionRequest r;
    r.model = "stories";
    r.prompt = "Once upon a time";
    r.options.sampling.temperature = 0.0f;
    r.options.max_tokens = max_tokens;
    r.options.ignore_eos = true;
    auto sink = std::make_shared<GaugeSink>(service_->metrics());
    auto handle = service_->Complete(std::move(r), sink);
    EXPECT_TRUE(handle.ok()) << handle.status().ToString();
    return Call{sink, handle.ok() ? *handle : nullptr};
  }
  double Now(const std::string& name) { return Series(service_->metrics().Serialize(), name); }

  std::unique_ptr<LocalInferenceService> service_;
};

TEST_F(RunningGaugeTest, ACancelledRequestsSuccessorIsNotCountedTwice) {
  // Two long requests fill the running set; two more wait.
  std::vector<Call> running = {Start(400), Start(400)};
  for (Call& c : running) c.sink->first.get_future().get();
  std::vector<Call> waiting = {Start(8), Start(8)};
  // The next step finishes the cancelled one and admits the first waiting one in its place.
  running[0].handle->Cancel();
  for (Call& c : waiting) EXPECT_EQ(c.sink->done.get_future().get().reason, FinishReason::kLength);
  running[1].handle->Cancel();
  running[0].sink->done.get_future().get();
  running[1].sink->done.get_future().get();

  for (Call* c : {&running[0], &running[1], &waiting[0], &waiting[1]}) {
    EXPECT_LE(c->sink->readings.max_running, kMaxRunning);
    EXPECT_GE(c->sink->readings.min_waiting, 0);
    EXPECT_LE(c->sink->readings.max_total, 4);
  }
  EXPECT_EQ(Now("llmux_requests_running"), 0);
  EXPECT_EQ(Now("llmux_requests_waiting"), 0);
}

TEST_F(RunningGaugeTest, NeverAboveMaxRunningUnderCancellationsAndPreemption) {
  // Twelve requests at once. Every third is long: two long ones together need more than the
  // cache's 512 positions, so one is preempted (they are never cancelled). Half of the short
  // ones, chosen at random, are cancelled while they run, a random moment after their first
  // token, with others waiting for their slot.
  std::mt19937 rng(7);
  std::vector<Call> calls;
  std::vector<int> short_ones;
  for (int i = 0; i < 12; ++i) {
    calls.push_back(Start(i % 3 == 0 ? 400 : 40 + 20 * (i % 4)));
    if (i % 3 != 0) short_ones.push_back(i);
  }
  std::shuffle(short_ones.begin(), short_ones.end(), rng);
  short_ones.resize(short_ones.size() / 2);
  std::sort(short_ones.begin(), short_ones.end());  // admission order
  for (int i : short_ones) {
    calls[i].sink->first.get_future().get();
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 10));
    calls[i].handle->Cancel();
  }
  for (Call& c : calls) {
    c.sink->done.get_future().get();
    EXPECT_LE(c.sink->readings.max_running, kMaxRunning);
    EXPECT_GE(c.sink->readings.min_waiting, 0);
    EXPECT_LE(c.sink->readings.max_total, 12);
  }
  EXPECT_EQ(Now("llmux_requests_running"), 0);
  EXPECT_EQ(Now("llmux_requests_waiting"), 0);
  EXPECT_GT(Now("llmux_preemptions_total"), 0) << "the scenario must preempt";
}

TEST_F(RunningGaugeTest, TheGaugesShowAtZeroBeforeAnyRequest) {
  EXPECT_EQ(Now("llmux_requests_running"), 0);
  EXPECT_EQ(Now("llmux_requests_waiting"), 0);
}

// During a hot update the old copy finishes its requests while the new one serves: the model's
// gauges are the new copy's alone (they used to flip between both copies' values).
class DrainingSink : public Sink {
 public:
  explicit DrainingSink(ServingMetrics& metrics) : metrics_(metrics) {}
  void OnDelta(const Delta&) override {
    if (!first_) {
      first_ = true;
      first.set_value();
      // The old copy waits here while the new one loads, so that most of its tokens come after
      // the switch however long the load takes (the engine's step holds no lock the update
      // needs). Bounded, so a broken update fails the test rather than hanging it.
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (!replaced.load() && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    if (replaced.load()) {
      readings.push_back(Series(metrics_.Serialize(), "llmux_requests_running"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a slow client
  }
  void OnFinish(const Finish& f) override { done.set_value(f); }
  std::atomic<bool> replaced{false};
  std::vector<double> readings;
  std::promise<void> first;
  std::promise<Finish> done;

 private:
  ServingMetrics& metrics_;
  bool first_ = false;
};

TEST(HotUpdateGauges, TheDrainingCopyPublishesNone) {
  ModelHostOptions options;
  options.n_threads = 1;
  LocalInferenceService service({ModelSpec{"stories", kStories}}, options);
  ASSERT_TRUE(service.WaitLoaded().ok());
  CompletionRequest r;
  r.model = "stories";
  r.prompt = "Once upon a time";
  r.options.max_tokens = 400;
  r.options.ignore_eos = true;
  auto sink = std::make_shared<DrainingSink>(service.metrics());
  ASSERT_TRUE(service.Complete(std::move(r), sink).ok());
  sink->first.get_future().get();
  ASSERT_TRUE(service.ReplaceModel(ModelSpec{"stories", kStories}).ok());
  sink->replaced = true;
  const Finish f = sink->done.get_future().get();
  EXPECT_EQ(f.reason, FinishReason::kLength);  // the old copy finished it
  ASSERT_GT(sink->readings.size(), 100u);
  for (double running : sink->readings) EXPECT_EQ(running, 0) << "the draining copy's request";
  // The process's memory is published beside them.
  const std::string text = service.metrics().Serialize();
  const std::regex rss(R"re(^llmux_process_resident_bytes\{kind="all"\} (\S+)$)re",
                       std::regex::multiline);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, rss)) << text;
  EXPECT_GT(std::stod(m[1]), 1e6);
}

}  // namespace
}  // namespace llmux::serving
