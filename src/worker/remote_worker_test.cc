// The gateway's RemoteInferenceService against real workers in this process: each a
// LocalInferenceService on stories260K behind a WorkerServer on a loopback port. What a request
// gives through a worker must be what the local service gives directly (which the serving tests
// check against llama.cpp's outputs).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <future>
#include <memory>
#include <thread>

#include "serving/local_inference_service.h"
#include "serving/remote/remote_inference_service.h"
#include "tests/support/test_paths.h"
#include "net/http/test_pki.h"
#include "worker/test_worker.h"
#include "worker/worker_server.h"

namespace llmux {
namespace {

using namespace serving;

class CollectSink : public Sink {
 public:
  void OnDelta(const Delta& d) override {
    std::lock_guard lock(mu);
    content += d.content;
    logprobs.insert(logprobs.end(), d.logprobs.begin(), d.logprobs.end());
    ++deltas;
    if (deltas == 1) first.set_value();
  }
  void OnFinish(const Finish& f) override {
    ++finishes;
    done.set_value(f);
  }
  std::mutex mu;
  std::string content;
  std::vector<TokenLogprob> logprobs;
  int deltas = 0;
  std::atomic<int> finishes{0};
  std::promise<void> first;
  std::promise<Finish> done;
};

CompletionRequest Greedy(int max_tokens, bool logprobs = false) {
  CompletionRequest r;
  r.model = "stories";
  r.prompt = "Once upon a time";
  r.options.sampling.temperature = 0.0f;
  r.options.max_tokens = max_tokens;
  r.options.logprobs = logprobs;
  r.options.top_logprobs = logprobs ? 2 : 0;
  return r;
}

using testing::TestWorker;

class RemoteWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RemoteInferenceOptions options;
    options.workers = {a_.address, b_.address};
    options.refresh_interval = std::chrono::milliseconds(100);
    remote_ = std::make_unique<RemoteInferenceService>(options);
    ASSERT_TRUE(remote_->Start().ok());
    for (int i = 0; i < 200 && !remote_->Ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(remote_->Ready());
  }
  static Finish Run(InferenceService& service, CompletionRequest r, CollectSink** out = nullptr) {
    auto sink = std::make_shared<CollectSink>();
    auto handle = service.Complete(std::move(r), sink);
    EXPECT_TRUE(handle.ok()) << handle.status().ToString();
    auto done = sink->done.get_future();
    EXPECT_EQ(done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    static thread_local std::shared_ptr<CollectSink> keep;
    keep = sink;
    if (out) *out = sink.get();
    return done.get();
  }
  TestWorker a_, b_;
  std::unique_ptr<RemoteInferenceService> remote_;
};

TEST_F(RemoteWorkerTest, AGenerationThroughAWorkerEqualsTheLocalOne) {
  CollectSink* local = nullptr;
  CollectSink* remote = nullptr;
  Finish lf = Run(*a_.service, Greedy(40, true), &local);
  const std::string local_text = local->content;
  const auto local_logprobs = local->logprobs;
  Finish rf = Run(*remote_, Greedy(40, true), &remote);
  EXPECT_EQ(remote->content, local_text);
  EXPECT_FALSE(local_text.empty());
  ASSERT_EQ(remote->logprobs.size(), local_logprobs.size());
  for (size_t i = 0; i < local_logprobs.size(); ++i) {
    EXPECT_EQ(remote->logprobs[i].token, local_logprobs[i].token);
    EXPECT_FLOAT_EQ(remote->logprobs[i].logprob, local_logprobs[i].logprob);
    ASSERT_EQ(remote->logprobs[i].top.size(), 2u);
  }
  EXPECT_EQ(rf.reason, lf.reason);
  EXPECT_EQ(rf.usage.prompt_tokens, lf.usage.prompt_tokens);
  EXPECT_EQ(rf.usage.completion_tokens, 40);
  EXPECT_EQ(remote->finishes.load(), 1);
}

TEST_F(RemoteWorkerTest, RefusalsComeBackAsTheLocalServiceGivesThem) {
  CompletionRequest hot = Greedy(4);
  hot.options.sampling.temperature = -1.0f;
  Result<std::shared_ptr<RequestHandle>> local = a_.service->Complete(hot, std::make_shared<CollectSink>());
  Result<std::shared_ptr<RequestHandle>> remote = remote_->Complete(hot, std::make_shared<CollectSink>());
  ASSERT_FALSE(local.ok());
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.status().code(), local.status().code());
  EXPECT_EQ(remote.status().message(), local.status().message());
  EXPECT_EQ(remote.status().field(), local.status().field());

  CompletionRequest unknown = Greedy(4);
  unknown.model = "nope";
  Result<std::shared_ptr<RequestHandle>> missing = remote_->Complete(unknown, std::make_shared<CollectSink>());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().field(), "model");
}

Result<EmbedResult> Embed(InferenceService& service, EmbedRequest r) {
  std::promise<Result<EmbedResult>> got;
  service.SubmitEmbed(std::move(r),
                      [&got](Result<EmbedResult> result) { got.set_value(std::move(result)); });
  auto future = got.get_future();
  EXPECT_EQ(future.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  return future.get();
}

TEST_F(RemoteWorkerTest, EmbeddingsThroughAWorkerEqualTheLocalOnes) {
  EmbedRequest r;
  r.model = "stories";
  r.inputs = {{"Once upon a time", {}}, {"", {1, 400, 22, 7}}, {"a cat sat", {}}};
  r.dimensions = 48;
  r.caller_share = "user:1";
  Result<EmbedResult> local = Embed(*a_.service, r);
  Result<EmbedResult> remote = Embed(*remote_, r);
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  ASSERT_TRUE(remote.ok()) << remote.status().ToString();
  ASSERT_EQ(remote->embeddings.size(), 3u);
  EXPECT_EQ(remote->prompt_tokens, local->prompt_tokens);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(remote->embeddings[i].size(), 48u);
    // Within float rounding: which inputs share an engine step changes the order of some sums.
    for (size_t k = 0; k < 48; ++k)
      EXPECT_NEAR(remote->embeddings[i][k], local->embeddings[i][k], 1e-5);
  }
}

TEST_F(RemoteWorkerTest, EmbeddingRefusalsComeBackAsTheLocalServiceGivesThem) {
  EmbedRequest too_long;
  too_long.model = "stories";
  too_long.inputs.push_back({"", std::vector<int32_t>(100000, 5)});  // past the context
  EmbedRequest bad_id = too_long;
  bad_id.inputs[0].tokens = {1, -3};
  EmbedRequest wide = too_long;
  wide.inputs[0].tokens = {1, 2};
  wide.dimensions = 1 << 20;
  EmbedRequest none = too_long;
  none.inputs.clear();
  for (const EmbedRequest& r : {too_long, bad_id, wide, none}) {
    Result<EmbedResult> local = Embed(*a_.service, r);
    Result<EmbedResult> remote = Embed(*remote_, r);
    ASSERT_FALSE(local.ok());
    ASSERT_FALSE(remote.ok());
    EXPECT_EQ(remote.status().code(), local.status().code());
    EXPECT_EQ(remote.status().message(), local.status().message());
    EXPECT_EQ(remote.status().field(), local.status().field());
  }
  EmbedRequest unknown = wide;
  unknown.dimensions = 0;
  unknown.model = "nope";
  Result<EmbedResult> missing = Embed(*remote_, unknown);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().field(), "model");
}

TEST_F(RemoteWorkerTest, AnEmbeddingGoesToTheOtherWorkerWhenOneIsGone) {
  a_.server.reset();  // a_ stops answering; the gateway has not noticed yet
  EmbedRequest r;
  r.model = "stories";
  r.inputs = {{"Once upon a time", {}}};
  for (int i = 0; i < 4; ++i) {
    Result<EmbedResult> got = Embed(*remote_, r);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->embeddings.size(), 1u);
  }
}

TEST_F(RemoteWorkerTest, CancellingEndsTheStreamOnceAsCancelled) {
  CompletionRequest r = Greedy(400);
  r.options.ignore_eos = true;
  auto sink = std::make_shared<CollectSink>();
  auto handle = remote_->Complete(r, sink);
  ASSERT_TRUE(handle.ok());
  ASSERT_EQ(sink->first.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  (*handle)->Cancel();
  auto done = sink->done.get_future();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const Finish f = done.get();
  EXPECT_EQ(f.reason, FinishReason::kCancelled);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(sink->finishes.load(), 1);
  EXPECT_EQ(a_.server->in_flight() + b_.server->in_flight(), 0);  // the worker stopped too
}

TEST_F(RemoteWorkerTest, RequestsSpreadOverBothWorkersAndSurviveOneGoingAway) {
  std::vector<std::shared_ptr<CollectSink>> sinks;
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (int i = 0; i < 16; ++i) {
    auto sink = std::make_shared<CollectSink>();
    auto h = remote_->Complete(Greedy(24), sink);
    ASSERT_TRUE(h.ok());
    handles.push_back(*h);
    sinks.push_back(sink);
  }
  for (auto& s : sinks) ASSERT_EQ(s->done.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  const std::string metrics = remote_->MetricsText();
  for (const std::string& address : {a_.address, b_.address}) {
    const std::string line = "llmux_gateway_worker_requests_total{worker=\"" + address + "\"} ";
    const size_t at = metrics.find(line);
    ASSERT_NE(at, std::string::npos) << metrics;
    EXPECT_GE(std::stod(metrics.substr(at + line.size())), 4) << "worker " << address << " took too few of 16";
  }

  // One worker goes away; the gateway has not noticed yet. Requests still succeed, on the other.
  a_.server->Shutdown(std::chrono::milliseconds(0));
  for (int i = 0; i < 6; ++i) {
    CollectSink* sink = nullptr;
    Finish f = Run(*remote_, Greedy(8), &sink);
    EXPECT_EQ(f.reason, FinishReason::kLength);
    EXPECT_FALSE(sink->content.empty());
  }
}

// A worker killed while it streams: every stream in flight goes on on the other worker from
// the tokens already sent, and the caller gets the text an uninterrupted run gives, greedy and
// seeded alike, with no error and no token twice.
TEST_F(RemoteWorkerTest, StreamsInFlightMoveToAnotherWorkerWhenTheirsDies) {
  auto request = [](int i) {
    CompletionRequest r = Greedy(400);
    r.prompt = i % 2 ? "Once upon a time" : "The little dog";
    r.options.ignore_eos = true;
    if (i % 4 >= 2) {  // seeded sampling (engine_test covers penalties over resumed tokens)
      r.options.sampling.temperature = 0.9f;
      r.options.sampling.seed = 1000u + i;
    }
    return r;
  };
  constexpr int kStreams = 12;
  std::vector<std::string> expected;
  for (int i = 0; i < kStreams; ++i) {
    CollectSink* sink = nullptr;
    Finish f = Run(*b_.service, request(i), &sink);
    ASSERT_EQ(f.usage.completion_tokens, 400);
    expected.push_back(sink->content);
  }

  std::vector<std::shared_ptr<CollectSink>> sinks;
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (int i = 0; i < kStreams; ++i) {
    auto sink = std::make_shared<CollectSink>();
    auto h = remote_->Complete(request(i), sink);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    handles.push_back(*h);
    sinks.push_back(sink);
  }
  for (auto& s : sinks) {
    ASSERT_EQ(s->first.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  }
  const int on_a = a_.server->in_flight();
  a_.server->Shutdown(std::chrono::milliseconds(0));  // as kill -9 looks to the gateway
  ASSERT_GT(on_a, 0) << "no stream was running on the killed worker";

  for (int i = 0; i < kStreams; ++i) {
    auto done = sinks[i]->done.get_future();
    ASSERT_EQ(done.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    const Finish f = done.get();
    EXPECT_EQ(f.reason, FinishReason::kLength) << i << ": " << f.error.ToString();
    EXPECT_EQ(f.usage.completion_tokens, 400) << i;
    EXPECT_EQ(sinks[i]->content, expected[i]) << "stream " << i;
    EXPECT_EQ(sinks[i]->finishes.load(), 1);
  }
  const std::string metrics = remote_->MetricsText();
  const std::string line = "\nllmux_gateway_stream_migrations_total ";
  const size_t at = metrics.find(line);
  ASSERT_NE(at, std::string::npos) << metrics;
  EXPECT_GE(std::stod(metrics.substr(at + line.size())), 1);
}

// An operator drains a worker through the gateway: the worker's drain starts (in `llmux
// worker` it leaves etcd, finishes its work and exits), the gateway sends it nothing new and
// lists it as draining; its running stream still finishes.
TEST_F(RemoteWorkerTest, ADrainedWorkerGetsNoNewRequests) {
  EXPECT_EQ(remote_->DrainWorker("127.0.0.1:1").status().code(), StatusCode::kNotFound);
  CompletionRequest r = Greedy(300);
  r.options.ignore_eos = true;
  auto running = std::make_shared<CollectSink>();
  auto handle = remote_->Complete(r, running);
  ASSERT_TRUE(handle.ok());
  ASSERT_EQ(running->first.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  TestWorker& busy = a_.server->in_flight() > 0 ? a_ : b_;
  TestWorker& other = &busy == &a_ ? b_ : a_;
  Result<int> drained = remote_->DrainWorker(busy.address);
  ASSERT_TRUE(drained.ok()) << drained.status().ToString();
  EXPECT_EQ(busy.drain_calls.load(), 1);
  EXPECT_EQ(other.drain_calls.load(), 0);
  for (const WorkerStatus& s : remote_->Workers()) {
    if (s.address == busy.address) {
      EXPECT_EQ(s.state, "draining");
    }
  }
  const int busy_before = busy.server->in_flight();
  for (int i = 0; i < 6; ++i) {
    CollectSink* sink = nullptr;
    Finish f = Run(*remote_, Greedy(8), &sink);
    EXPECT_EQ(f.reason, FinishReason::kLength);
  }
  const std::string metrics = remote_->MetricsText();
  const std::string line = "llmux_gateway_worker_requests_total{worker=\"" + busy.address + "\"} ";
  const size_t at = metrics.find(line);
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(std::stod(metrics.substr(at + line.size())), 1) << "only the stream before the drain";
  EXPECT_LE(busy.server->in_flight(), busy_before);
  auto done = running->done.get_future();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(done.get().usage.completion_tokens, 300);
}

// A sample of the gateway's Prometheus text: name{[state="state",]worker="address"} (labels in
// the serializer's sorted order); -1 if absent.
double Sample(const std::string& metrics, const std::string& name, const std::string& address,
              const std::string& state = "") {
  const std::string line =
      name + "{" + (state.empty() ? "" : "state=\"" + state + "\",") + "worker=\"" + address + "\"} ";
  const size_t at = metrics.find(line);
  return at == std::string::npos ? -1 : std::stod(metrics.substr(at + line.size()));
}

// Active health checks: a worker that says NOT_SERVING (it loads or drains) gets no requests
// although it answers; once it says SERVING again it gets its share again.
TEST_F(RemoteWorkerTest, AWorkerFailingItsHealthCheckGetsNoRequestsUntilItPasses) {
  a_.server->SetServing(false);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // a few refreshes
  const double before = Sample(remote_->MetricsText(), "llmux_gateway_worker_requests_total", a_.address);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(Run(*remote_, Greedy(4)).reason, FinishReason::kLength);
  EXPECT_EQ(Sample(remote_->MetricsText(), "llmux_gateway_worker_requests_total", a_.address), before);
  a_.server->SetServing(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(Run(*remote_, Greedy(4)).reason, FinishReason::kLength);
  EXPECT_GE(Sample(remote_->MetricsText(), "llmux_gateway_worker_requests_total", a_.address), before + 3);
}

// A finished request lets its sink go at once. The sink holds what the caller holds for the
// request's lifetime (at the HTTP gateway: the caller's call slot and rate-limit lease); a call
// waiting out the retirement of its gRPC objects must not keep it (that locked a caller out
// after 64 quick requests, "64 calls in flight", until the refresh thread came by).
TEST(RemoteWorkerRetireTest, AFinishedRequestReleasesItsSinkBeforeTheRefresh) {
  TestWorker worker;
  RemoteInferenceOptions options;
  options.workers = {worker.address};
  options.refresh_interval = std::chrono::hours(1);  // no retirement during the test
  RemoteInferenceService remote(options);
  ASSERT_TRUE(remote.Start().ok());
  for (int i = 0; i < 500 && !remote.Ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(remote.Ready());
  std::weak_ptr<CollectSink> released;
  {
    auto sink = std::make_shared<CollectSink>();
    released = sink;
    auto handle = remote.Complete(Greedy(4), sink);
    ASSERT_TRUE(handle.ok()) << handle.status().ToString();
    auto done = sink->done.get_future();
    ASSERT_EQ(done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    EXPECT_EQ(done.get().reason, FinishReason::kLength);
  }
  // The call's end (gRPC's OnDone) may come just after the finish event.
  for (int i = 0; i < 500 && !released.expired(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(released.expired()) << "the finished request's sink is still held";
}

// Passive error rates: a worker whose calls fail (its session breaks at the transport on every request,
// here because its message limit is smaller than the request) while it answers polls and
// health checks. Its circuit breaker opens after two failures and keeps it out for the
// cool-down, where polls alone would bring it back (and fail a call) every 50 ms. Clients see
// no error: each failed attempt goes to the healthy worker.
TEST(RemoteWorkerBreakerTest, AFailingWorkerTripsItsBreakerAndClientsSeeNoError) {
  TestWorker bad(/*max_receive_message_bytes=*/256), good;
  RemoteInferenceOptions options;
  options.workers = {bad.address, good.address};
  options.refresh_interval = std::chrono::milliseconds(50);
  options.breaker.consecutive_failures = 2;
  options.breaker.cool_down = std::chrono::milliseconds(5000);
  options.retry_backoff = std::chrono::milliseconds(1);
  RemoteInferenceService remote(options);
  ASSERT_TRUE(remote.Start().ok());
  for (int i = 0; i < 200 && remote.ListModels().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // both polled
  CompletionRequest r = Greedy(4);
  r.prompt = std::string(400, 'a');  // larger than the bad worker takes
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1200);
  int n = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto sink = std::make_shared<CollectSink>();
    auto h = remote.Complete(r, sink);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    auto done = sink->done.get_future();
    ASSERT_EQ(done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_EQ(done.get().reason, FinishReason::kLength);
    ++n;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(n, 20);
  const std::string metrics = remote.MetricsText();
  EXPECT_EQ(Sample(metrics, "llmux_gateway_worker_failures_total", bad.address), 2) << metrics;
  EXPECT_EQ(Sample(metrics, "llmux_gateway_worker_breaker", bad.address, "open"), 1) << metrics;
  EXPECT_EQ(Sample(metrics, "llmux_gateway_worker_breaker", good.address, "closed"), 1);
}

// A worker that refuses (here: draining) while the gateway still lists it. Submit, which waits
// for the first event, tries the next worker; the refused call's end must not start another
// attempt beside it. It did: two attempts then wrote to one client, which got the text twice
// (one attempt's first tokens, then the other's whole answer), or an error when no third worker
// was left for Submit's own attempt.
TEST(RemoteWorkerRefusalTest, ARefusedAttemptIsFollowedByExactlyOneOther) {
  TestWorker refusing, good;
  RemoteInferenceOptions options;
  options.workers = {refusing.address, good.address};
  options.refresh_interval = std::chrono::hours(1);  // the gateway keeps listing it as up
  options.retry_backoff = std::chrono::milliseconds(1);
  RemoteInferenceService remote(options);
  ASSERT_TRUE(remote.Start().ok());
  for (int i = 0; i < 500 && !remote.Ready(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(remote.Ready());
  auto local = std::make_shared<CollectSink>();
  ASSERT_TRUE(good.service->Complete(Greedy(48), local).ok());
  ASSERT_EQ(local->done.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  ASSERT_FALSE(local->content.empty());
  refusing.service->Drain(0);  // from now on it answers every request with UNAVAILABLE

  int n = 0;
  for (; n < 60 &&
         Sample(remote.MetricsText(), "llmux_gateway_worker_requests_total", refusing.address) < 3;
       ++n) {
    auto sink = std::make_shared<CollectSink>();
    auto handle = remote.Complete(Greedy(48), sink);
    ASSERT_TRUE(handle.ok()) << handle.status().ToString();
    auto done = sink->done.get_future();
    ASSERT_EQ(done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    EXPECT_EQ(done.get().reason, FinishReason::kLength);
    // A second attempt would be writing still: give it the time to show.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::lock_guard lock(sink->mu);
    EXPECT_EQ(sink->content, local->content) << "request " << n;
    EXPECT_EQ(sink->finishes.load(), 1);
  }
  const std::string metrics = remote.MetricsText();
  EXPECT_GE(Sample(metrics, "llmux_gateway_worker_requests_total", refusing.address), 3) << metrics;
  EXPECT_EQ(Sample(metrics, "llmux_gateway_worker_requests_total", good.address), n)
      << "each request reached the good worker once";
}

}  // namespace
}  // namespace llmux

namespace llmux {
namespace {

using namespace serving;

// Mutual TLS between gateway and worker: a gateway with a certificate the worker's CA signed
// gets through; one without, or with a certificate of its own making, does not.
TEST(RemoteWorkerTlsTest, OnlyGatewaysWithACertificateOfTheWorkersCaGetThrough) {
  http::testing::TestPki pki;
  ASSERT_TRUE(pki.ok()) << pki.error();
  ModelHostOptions host;
  host.n_threads = 1;
  LocalInferenceService service({{"stories", testing::SharedPath("models/stories260K.gguf")}}, host);
  ASSERT_TRUE(service.WaitLoaded().ok());
  worker::WorkerServerOptions server_options;
  server_options.port = 0;
  server_options.tls_cert_file = pki.server_cert;
  server_options.tls_key_file = pki.server_key;
  server_options.tls_client_ca_file = pki.ca_cert;
  server_options.require_client_cert = true;
  worker::WorkerServer server(service, server_options);
  ASSERT_TRUE(server.Start().ok());
  ASSERT_TRUE(server.tls());

  auto ready_gateway = [&](std::string cert, std::string key) {
    RemoteInferenceOptions o;
    o.workers = {"127.0.0.1:" + std::to_string(server.port())};
    o.refresh_interval = std::chrono::milliseconds(50);
    o.tls_ca_file = pki.ca_cert;
    o.tls_cert_file = std::move(cert);
    o.tls_key_file = std::move(key);
    auto remote = std::make_unique<RemoteInferenceService>(o);
    EXPECT_TRUE(remote->Start().ok());
    for (int i = 0; i < 60 && !remote->Ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    return remote;
  };
  auto trusted = ready_gateway(pki.client_cert, pki.client_key);
  ASSERT_TRUE(trusted->Ready());
  auto sink = std::make_shared<CollectSink>();
  ASSERT_TRUE(trusted->Complete(Greedy(8), sink).ok());
  auto done = sink->done.get_future();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(done.get().usage.completion_tokens, 8);

  EXPECT_FALSE(ready_gateway("", "")->Ready());                         // no certificate
  EXPECT_FALSE(ready_gateway(pki.rogue_cert, pki.rogue_key)->Ready());  // not signed by the CA

  RemoteInferenceOptions half;
  half.tls_cert_file = pki.client_cert;  // a client certificate without TLS is a mistake
  EXPECT_EQ(RemoteInferenceService(half).Start().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmux

namespace llmux {
namespace {

using namespace serving;

// Counts the gateway's polls of a worker; a stalled one answers no poll in time, like a worker
// whose process was stopped with its connections open.
class PolledService : public InferenceService {
 public:
  explicit PolledService(InferenceService& inner) : inner_(inner) {}
  ~PolledService() override { Unstall(); }
  void Stall() {
    std::lock_guard lock(mu_);
    stalled_ = true;
  }
  void Unstall() {
    {
      std::lock_guard lock(mu_);
      stalled_ = false;
    }
    cv_.notify_all();
  }
  std::vector<ModelInfo> ListModels() const override {
    ++polls;
    // Past the gateway's deadline (1 s) and no longer: gRPC's callback threads are shared by
    // every server in this process, and a stalled poll holds one.
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(1500), [this] { return !stalled_; });
    return inner_.ListModels();
  }
  bool Ready() const override { return inner_.Ready(); }
  Result<std::shared_ptr<RequestHandle>> Chat(ChatRequest r, std::shared_ptr<Sink> s) override {
    return inner_.Chat(std::move(r), std::move(s));
  }
  Result<std::shared_ptr<RequestHandle>> Complete(CompletionRequest r, std::shared_ptr<Sink> s) override {
    return inner_.Complete(std::move(r), std::move(s));
  }
  mutable std::atomic<int> polls{0};

 private:
  InferenceService& inner_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stalled_ = false;
};

// A TestWorker's service behind a second worker server that counts and can stall polls.
struct PolledWorker {
  PolledWorker() : polled(*worker.service), server(polled, Options()) {
    EXPECT_TRUE(server.Start().ok());
    server.SetServing(true);
    address = "127.0.0.1:" + std::to_string(server.port());
  }
  ~PolledWorker() { polled.Unstall(); }  // the server's shutdown waits for stalled polls
  static worker::WorkerServerOptions Options() {
    worker::WorkerServerOptions o;
    o.port = 0;
    return o;
  }
  TestWorker worker;
  PolledService polled;
  worker::WorkerServer server;
  std::string address;
};

// Each poll of the silent worker takes its whole deadline (1 s); the live worker is polled
// every refresh_interval (20 ms) all the same. Polled one after the other, the live worker
// would get one poll per silent deadline.
TEST(RemoteWorkerRefreshTest, AWorkerThatDoesNotAnswerDelaysNoOtherWorkersPolls) {
  PolledWorker silent, live;
  RemoteInferenceOptions options;
  options.workers = {silent.address, live.address};
  options.refresh_interval = std::chrono::milliseconds(20);
  RemoteInferenceService remote(options);
  ASSERT_TRUE(remote.Start().ok());
  for (int i = 0; i < 500 && !remote.Ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(remote.Ready());
  silent.polled.Stall();
  const int silent_before = silent.polled.polls.load();
  const int before = live.polled.polls.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // two silent deadlines and more
  const int silent_polls = silent.polled.polls.load() - silent_before;
  EXPECT_GE(silent_polls, 1);
  EXPECT_LE(silent_polls, 3);  // one at a time, each until its 1 s deadline
  EXPECT_GE(live.polled.polls.load() - before, 12)
      << "the live worker was polled only as often as the silent one times out";
  auto sink = std::make_shared<CollectSink>();
  auto handle = remote.Complete(Greedy(4), sink);
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  auto done = sink->done.get_future();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(done.get().reason, FinishReason::kLength);
}

}  // namespace
}  // namespace llmux
