// For the worker tests only: a real worker in the test's process, stories260K in a
// LocalInferenceService behind a WorkerServer on a free loopback port.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "serving/local_inference_service.h"
#include "tests/support/test_paths.h"
#include "worker/worker_server.h"

namespace llmux::testing {

struct TestWorker {
  // A message limit below a request's size makes every session fail at the transport.
  explicit TestWorker(int max_receive_message_bytes = 16 << 20,
                      std::chrono::microseconds stream_window = worker::WorkerServerOptions().stream_window) {
    serving::ModelHostOptions options;
    options.n_threads = 1;
    service = std::make_unique<serving::LocalInferenceService>(
        std::vector<serving::ModelSpec>{{"stories", SharedPath("models/stories260K.gguf")}}, options);
    EXPECT_TRUE(service->WaitLoaded().ok());
    worker::WorkerServerOptions server_options;
    server_options.port = 0;
    server_options.max_receive_message_bytes = max_receive_message_bytes;
    server_options.stream_window = stream_window;
    server = std::make_unique<worker::WorkerServer>(*service, server_options,
                                                    [this] { drain_calls.fetch_add(1); });
    EXPECT_TRUE(server->Start().ok());
    address = "127.0.0.1:" + std::to_string(server->port());
  }
  // The block hashes its prefix cache holds now.
  std::unordered_set<uint64_t> Cached() const {
    std::unordered_set<uint64_t> out;
    for (const serving::ModelLoad& m : service->ModelLoads({}, 1 << 20)) {
      out.insert(m.prefix.added.begin(), m.prefix.added.end());
    }
    return out;
  }
  int block_size() const { return service->ModelLoads({}, 0).at(0).block_size; }

  std::unique_ptr<serving::LocalInferenceService> service;
  std::unique_ptr<worker::WorkerServer> server;
  std::string address;
  std::atomic<int> drain_calls{0};
};

}  // namespace llmux::testing
