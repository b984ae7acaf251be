// The worker's coalescing window (WorkerServerOptions::stream_window), seen from a gateway's
// side of the wire: the raw Generate stream of a worker whose service emits deltas on a script.
// Expected values are the script's own: every delta's text and token id arrive once, in order;
// how many messages carry them depends on the gaps between them.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "llmux/worker/v1/worker.grpc.pb.h"
#include "worker/worker_server.h"

namespace llmux {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace v1 = llmux::worker::v1;

// Emits one delta per step of `gaps` (sleeping that long before each; token id = its index),
// then sleeps `tail` and finishes.
class ScriptedService : public serving::InferenceService {
 public:
  ScriptedService(std::vector<std::chrono::microseconds> gaps, std::chrono::milliseconds tail)
      : gaps_(std::move(gaps)), tail_(tail) {}
  ~ScriptedService() override {
    for (std::thread& t : threads_) t.join();
  }
  std::vector<serving::ModelInfo> ListModels() const override { return {}; }
  bool Ready() const override { return true; }
  Result<std::shared_ptr<serving::RequestHandle>> Chat(serving::ChatRequest,
                                                       std::shared_ptr<serving::Sink>) override {
    return UnimplementedError("chat");
  }
  Result<std::shared_ptr<serving::RequestHandle>> Complete(serving::CompletionRequest,
                                                           std::shared_ptr<serving::Sink> sink) override {
    threads_.emplace_back([this, sink] {
      for (size_t i = 0; i < gaps_.size(); ++i) {
        if (gaps_[i].count() > 0) std::this_thread::sleep_for(gaps_[i]);
        serving::Delta d;
        d.content = "<" + std::to_string(i) + ">";
        d.tokens = {static_cast<int32_t>(i)};
        sink->OnDelta(d);
      }
      std::this_thread::sleep_for(tail_);
      serving::Finish f;
      f.reason = serving::FinishReason::kLength;
      sink->OnFinish(f);
    });
    return std::shared_ptr<serving::RequestHandle>(std::make_shared<NoCancel>());
  }

 private:
  struct NoCancel : serving::RequestHandle {
    void Cancel() override {}
  };
  std::vector<std::chrono::microseconds> gaps_;
  std::chrono::milliseconds tail_;
  std::vector<std::thread> threads_;
};

struct Received {
  std::vector<v1::Delta> deltas;
  std::vector<Clock::time_point> delta_times;
  Clock::time_point finish_time;
  std::string content;
  std::vector<int32_t> tokens;
};

Received Generate(std::vector<std::chrono::microseconds> gaps, std::chrono::microseconds window,
                  std::chrono::milliseconds tail = 0ms) {
  ScriptedService service(std::move(gaps), tail);
  worker::WorkerServerOptions options;
  options.port = 0;
  options.stream_window = window;
  worker::WorkerServer server(service, options);
  EXPECT_TRUE(server.Start().ok());
  auto stub = v1::Worker::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::GenerateRequest request;
  request.mutable_completion()->set_model("m");
  auto reader = stub->Generate(&context, request);
  Received got;
  v1::GenerateEvent event;
  bool accepted = false, finished = false;
  while (reader->Read(&event)) {
    EXPECT_FALSE(finished) << "an event after the finish";
    if (event.has_accepted()) {
      EXPECT_TRUE(got.deltas.empty());
      accepted = true;
    } else if (event.has_delta()) {
      got.delta_times.push_back(Clock::now());
      got.content += event.delta().content();
      got.tokens.insert(got.tokens.end(), event.delta().tokens().begin(), event.delta().tokens().end());
      got.deltas.push_back(event.delta());
    } else if (event.has_finish()) {
      got.finish_time = Clock::now();
      finished = true;
    }
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_TRUE(accepted);
  EXPECT_TRUE(finished);
  return got;
}

std::string Expected(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += "<" + std::to_string(i) + ">";
  return s;
}

std::vector<int32_t> Ids(int n) {
  std::vector<int32_t> ids(n);
  for (int i = 0; i < n; ++i) ids[i] = i;
  return ids;
}

TEST(StreamWindowTest, DeltasFasterThanTheWindowTravelInFewMessages) {
  Received got = Generate(std::vector<std::chrono::microseconds>(200, 0us), 1000us);
  EXPECT_EQ(got.content, Expected(200));
  EXPECT_EQ(got.tokens, Ids(200));
  EXPECT_LE(got.deltas.size(), 20u) << "200 deltas in a burst took " << got.deltas.size() << " messages";
  EXPECT_EQ(got.deltas.front().content(), "<0>") << "the first delta waits for nothing";
}

TEST(StreamWindowTest, WithoutAWindowEachDeltaIsAMessage) {
  Received got = Generate(std::vector<std::chrono::microseconds>(200, 0us), 0us);
  EXPECT_EQ(got.content, Expected(200));
  EXPECT_EQ(got.tokens, Ids(200));
  EXPECT_EQ(got.deltas.size(), 200u);
}

// A delta every 5 ms (a real model's pace) is sent as it comes: the window never merges them.
TEST(StreamWindowTest, DeltasSlowerThanTheWindowGoOneByOne) {
  Received got = Generate(std::vector<std::chrono::microseconds>(10, 5000us), 1000us);
  EXPECT_EQ(got.content, Expected(10));
  ASSERT_EQ(got.deltas.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got.deltas[i].content(), Expected(i + 1).substr(Expected(i).size()));
}

// The last deltas of a burst wait for no further output: the flush timer sends them at the
// window's end, long before the finish comes 500 ms later.
TEST(StreamWindowTest, HeldDeltasGoOutAtTheWindowsEndWithoutMoreOutput) {
  Received got = Generate({0us, 0us, 0us}, 1000us, 500ms);
  EXPECT_EQ(got.content, Expected(3));
  ASSERT_GE(got.deltas.size(), 2u);
  EXPECT_GT(got.finish_time - got.delta_times.back(), 300ms)
      << "the held deltas waited for the finish";
}

}  // namespace
}  // namespace llmux
