// The worker's Session call seen from a gateway's side of the wire (a raw gRPC client), over
// a service that emits deltas on a script: every delta's text and token id arrive once, in
// order, under its generation's id (the expected values are the script's own); how many
// messages carry them depends on the gaps between them (the coalescing window,
// WorkerServerOptions::stream_window) and on how many generations share the session.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <tuple>
#include <string>
#include <thread>
#include <vector>

#include "llmux/worker/v1/worker.grpc.pb.h"
#include "serving/remote/worker_wire.h"
#include "worker/test_worker.h"
#include "worker/worker_server.h"

namespace llmux {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace v1 = llmux::worker::v1;

// Emits one delta per step of `gaps` (sleeping that long before each; token id = its index),
// then sleeps `tail` and finishes. The first `before_return` deltas are emitted inside
// Complete, before the worker has taken the request (its sink holds them until then).
class ScriptedService : public serving::InferenceService {
 public:
  ScriptedService(std::vector<std::chrono::microseconds> gaps, std::chrono::milliseconds tail,
                  size_t before_return = 0)
      : gaps_(std::move(gaps)), tail_(tail), before_return_(before_return) {}
  ~ScriptedService() override {
    std::lock_guard lock(mu_);
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
    std::lock_guard lock(mu_);
    auto handle = std::make_shared<Handle>();
    for (size_t i = 0; i < before_return_; ++i) Emit(*sink, i);
    threads_.emplace_back([this, sink, handle] {
      for (size_t i = before_return_; i < gaps_.size(); ++i) {
        if (gaps_[i].count() > 0) std::this_thread::sleep_for(gaps_[i]);
        if (handle->cancelled) {
          serving::Finish f;
          f.reason = serving::FinishReason::kCancelled;
          sink->OnFinish(f);
          return;
        }
        Emit(*sink, i);
      }
      std::this_thread::sleep_for(tail_);
      serving::Finish f;
      f.reason = serving::FinishReason::kLength;
      sink->OnFinish(f);
    });
    return std::shared_ptr<serving::RequestHandle>(handle);
  }
  std::atomic<int> cancels{0};

 private:
  struct Handle : serving::RequestHandle {
    void Cancel() override { cancelled = true; }
    std::atomic<bool> cancelled{false};
  };
  static void Emit(serving::Sink& sink, size_t i) {
    serving::Delta d;
    d.content = "<" + std::to_string(i) + ">";
    d.tokens = {static_cast<int32_t>(i)};
    sink.OnDelta(d);
  }

  std::vector<std::chrono::microseconds> gaps_;
  std::chrono::milliseconds tail_;
  size_t before_return_;
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

struct Received {
  int messages = 0;  // SessionEvents messages
  // Per generation id:
  std::map<uint64_t, std::vector<v1::Delta>> deltas;
  std::map<uint64_t, std::vector<Clock::time_point>> delta_times;
  std::map<uint64_t, Clock::time_point> finish_time;
  std::map<uint64_t, v1::Finish> finish;
  std::map<uint64_t, v1::Error> refused;
  std::map<uint64_t, std::string> content;
  std::map<uint64_t, std::vector<int32_t>> tokens;
  std::string end_message;  // the call's status message
};

// A worker over `service` with the window, and a session to it.
struct Session {
  Session(serving::InferenceService& service, std::chrono::microseconds window) {
    worker::WorkerServerOptions options;
    options.port = 0;
    options.stream_window = window;
    server = std::make_unique<worker::WorkerServer>(service, options);
    EXPECT_TRUE(server->Start().ok());
    stub = v1::Worker::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()),
                                                   grpc::InsecureChannelCredentials()));
    stream = stub->Session(&context);
  }
  void Generate(uint64_t id) {
    v1::SessionRequest r;
    r.set_id(id);
    r.mutable_generate()->mutable_completion()->set_model("m");
    ASSERT_TRUE(stream->Write(r));
  }
  void Cancel(uint64_t id) {
    v1::SessionRequest r;
    r.set_id(id);
    r.mutable_cancel();
    ASSERT_TRUE(stream->Write(r));
  }
  // Half-closes and reads every event until the worker ends the call (after the last finish).
  Received ReadAll(grpc::StatusCode expected_end = grpc::StatusCode::OK) {
    stream->WritesDone();
    Received got;
    std::map<uint64_t, bool> accepted;
    v1::SessionEvents events;
    while (stream->Read(&events)) {
      ++got.messages;
      for (const v1::SessionEvent& se : events.events()) {
        const uint64_t id = se.id();
        const v1::GenerateEvent& event = se.event();
        EXPECT_EQ(got.finish.count(id), 0u) << "an event after the finish of " << id;
        if (event.has_accepted()) {
          EXPECT_TRUE(got.deltas[id].empty());
          accepted[id] = true;
        } else if (event.has_refused()) {
          EXPECT_FALSE(accepted[id]);
          got.refused[id] = event.refused();
        } else if (event.has_delta()) {
          EXPECT_TRUE(accepted[id]) << "a delta before `accepted`";
          got.delta_times[id].push_back(Clock::now());
          got.content[id] += event.delta().content();
          got.tokens[id].insert(got.tokens[id].end(), event.delta().tokens().begin(), event.delta().tokens().end());
          got.deltas[id].push_back(event.delta());
        } else if (event.has_finish()) {
          EXPECT_TRUE(accepted[id]);
          got.finish_time[id] = Clock::now();
          got.finish[id] = event.finish();
        }
      }
    }
    grpc::Status end = stream->Finish();
    EXPECT_EQ(end.error_code(), expected_end) << end.error_message();
    got.end_message = end.error_message();
    return got;
  }

  std::unique_ptr<worker::WorkerServer> server;
  std::unique_ptr<v1::Worker::Stub> stub;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionEvents>> stream;
};

// One generation on a fresh session.
Received Generate(std::vector<std::chrono::microseconds> gaps, std::chrono::microseconds window,
                  std::chrono::milliseconds tail = 0ms, size_t before_return = 0) {
  ScriptedService service(std::move(gaps), tail, before_return);
  Session session(service, window);
  session.Generate(7);
  Received got = session.ReadAll();
  EXPECT_EQ(got.finish.count(7), 1u);
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

TEST(StreamWindowTest, DeltasFasterThanTheWindowTravelInFewDeltas) {
  // Deltas the engine makes before the worker has taken the request go merged (the test below),
  // and a burst the scheduler interrupts for more than a window goes in more pieces: on a busy
  // machine either may happen, so try again until the burst ran as one, after the accept.
  Received got;
  for (int attempt = 0; attempt < 5; ++attempt) {
    got = Generate(std::vector<std::chrono::microseconds>(200, 0us), 1000us);
    EXPECT_EQ(got.content[7], Expected(200));
    EXPECT_EQ(got.tokens[7], Ids(200));
    if (got.deltas[7].size() <= 20u && got.deltas[7].front().content() == "<0>") break;
  }
  EXPECT_LE(got.deltas[7].size(), 20u) << "200 deltas in a burst went as " << got.deltas[7].size();
  EXPECT_EQ(got.deltas[7].front().content(), "<0>") << "the first delta waits for nothing";
}

TEST(StreamWindowTest, WithoutAWindowEachDeltaGoesAlone) {
  Received got = Generate(std::vector<std::chrono::microseconds>(200, 0us), 0us);
  EXPECT_EQ(got.content[7], Expected(200));
  EXPECT_EQ(got.tokens[7], Ids(200));
  EXPECT_EQ(got.deltas[7].size(), 200u);
}

// Deltas the engine produced before the worker took the request wait for `accepted`, and then
// go as one with a window (as they would have after it), one by one without.
TEST(StreamWindowTest, DeltasHeldUntilAcceptedGoMergedWithAWindow) {
  std::vector<std::chrono::microseconds> gaps(60, 0us);
  gaps[50] = 50ms;  // the rest comes after the held ones went
  Received merged = Generate(gaps, 1000us, 0ms, /*before_return=*/50);
  EXPECT_EQ(merged.content[7], Expected(60));
  ASSERT_GE(merged.deltas[7].size(), 2u);
  EXPECT_EQ(merged.deltas[7][0].content(), Expected(50)) << "the 50 held deltas went as one";
  Received alone = Generate(gaps, 0us, 0ms, /*before_return=*/50);
  EXPECT_EQ(alone.content[7], Expected(60));
  EXPECT_EQ(alone.deltas[7].size(), 60u);
}

// A delta every 5 ms (a real model's pace) is sent as it comes: the window never merges them.
TEST(StreamWindowTest, DeltasSlowerThanTheWindowGoOneByOne) {
  Received got = Generate(std::vector<std::chrono::microseconds>(10, 5000us), 1000us);
  EXPECT_EQ(got.content[7], Expected(10));
  ASSERT_EQ(got.deltas[7].size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got.deltas[7][i].content(), Expected(i + 1).substr(Expected(i).size()));
}

// The last deltas of a burst wait for no further output: the flush timer sends them at the
// window's end, long before the finish comes 500 ms later.
TEST(StreamWindowTest, HeldDeltasGoOutAtTheWindowsEndWithoutMoreOutput) {
  // The first delta goes at once and the next two are held, unless the machine is so busy that
  // all three came before the worker had taken the request (then they go merged and nothing is
  // held): try again until the case under test happens.
  Received got;
  for (int attempt = 0; attempt < 5; ++attempt) {
    got = Generate({0us, 0us, 0us}, 1000us, 500ms);
    EXPECT_EQ(got.content[7], Expected(3));
    if (got.deltas[7].size() >= 2u) break;
  }
  ASSERT_GE(got.deltas[7].size(), 2u);
  EXPECT_GT(got.finish_time[7] - got.delta_times[7].back(), 300ms) << "the held deltas waited for the finish";
}

// 32 greedy completions on one session to a real engine (stories260K, no window), which steps
// them together: one step's tokens for many generations share a message, and each
// generation's text is the one it gets alone on the session.
TEST(WorkerSessionTest, TheGenerationsOfOneSessionShareMessages) {
  testing::TestWorker worker(16 << 20, 0us);
  auto stub = v1::Worker::NewStub(grpc::CreateChannel(worker.address, grpc::InsecureChannelCredentials()));
  serving::CompletionRequest request;
  request.model = "stories";
  request.prompt = "Once upon a time";
  request.options.sampling.temperature = 0.0f;
  request.options.max_tokens = 32;
  request.options.ignore_eos = true;
  auto run = [&](int n) {
    grpc::ClientContext context;
    auto stream = stub->Session(&context);
    for (int id = 1; id <= n; ++id) {
      v1::SessionRequest r;
      r.set_id(id);
      *r.mutable_generate()->mutable_completion() = serving::wire::ToProto(request);
      EXPECT_TRUE(stream->Write(r));
    }
    stream->WritesDone();
    std::map<uint64_t, std::string> texts;
    int messages = 0, events = 0, finishes = 0;
    size_t most_ids = 0;
    v1::SessionEvents batch;
    while (stream->Read(&batch)) {
      ++messages;
      std::set<uint64_t> ids;
      for (const v1::SessionEvent& e : batch.events()) {
        ++events;
        ids.insert(e.id());
        if (e.event().has_delta()) texts[e.id()] += e.event().delta().content();
        if (e.event().has_finish()) ++finishes;
      }
      most_ids = std::max(most_ids, ids.size());
    }
    EXPECT_TRUE(stream->Finish().ok());
    EXPECT_EQ(finishes, n);
    return std::make_tuple(texts, messages, events, most_ids);
  };
  auto [solo, solo_messages, solo_events, solo_ids] = run(1);
  ASSERT_FALSE(solo[1].empty());
  auto [texts, messages, events, most_ids] = run(32);
  for (int id = 1; id <= 32; ++id) EXPECT_EQ(texts[id], solo[1]) << id;
  // Each write takes what queued while the previous one was out: how much that is depends on
  // the machine's speed and load (an idle Release build gives about 5 events a message, an
  // ASan build under load about 2), so the bounds only say that batching across generations
  // happened at all.
  EXPECT_GE(most_ids, 4u) << "no message carried the events of several generations";
  EXPECT_LT(messages, events) << messages << " messages for " << events << " events";
}

TEST(WorkerSessionTest, ACancelStopsThatGenerationOnly) {
  ScriptedService service(std::vector<std::chrono::microseconds>(50, 5000us), 0ms);
  Session session(service, 0us);
  session.Generate(1);
  session.Generate(2);
  std::this_thread::sleep_for(30ms);
  session.Cancel(1);
  Received got = session.ReadAll();
  EXPECT_EQ(got.finish[1].reason(), v1::FINISH_CANCELLED);
  EXPECT_LT(got.tokens[1].size(), 50u);
  EXPECT_EQ(got.finish[2].reason(), v1::FINISH_LENGTH);
  EXPECT_EQ(got.content[2], Expected(50));
}

// A request under an id that is running breaks the protocol: the call ends with
// INVALID_ARGUMENT saying so, and the running generation stops.
TEST(WorkerSessionTest, AnIdInUseEndsTheSession) {
  ScriptedService service(std::vector<std::chrono::microseconds>(100, 5000us), 0ms);
  Session session(service, 0us);
  session.Generate(4);
  std::this_thread::sleep_for(20ms);
  session.Generate(4);
  const auto start = Clock::now();
  Received got = session.ReadAll(grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(got.end_message.find("in use"), std::string::npos) << got.end_message;
  EXPECT_LT(got.tokens[4].size(), 100u);
  EXPECT_LT(Clock::now() - start, 400ms) << "the running generation went on (100 deltas 5 ms apart)";
}

// The gateway going away (its call cancelled) stops every generation on the session.
TEST(WorkerSessionTest, ABrokenSessionCancelsItsGenerations) {
  ScriptedService service(std::vector<std::chrono::microseconds>(400, 5000us), 0ms);
  auto session = std::make_unique<Session>(service, 0us);
  session->Generate(1);
  session->Generate(2);
  v1::SessionEvents events;
  ASSERT_TRUE(session->stream->Read(&events));  // under way
  const auto start = Clock::now();
  session->context.TryCancel();
  session.reset();  // the server too: it waits for the generations to end
  EXPECT_LT(Clock::now() - start, 1s) << "the generations ran on (400 deltas 5 ms apart: 2 s)";
}

}  // namespace
}  // namespace llmux
