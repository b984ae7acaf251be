// registry_bench (issue 14): a registry simulation. W fake workers register in etcd under leases
// (WorkerRegistration, as `llmux worker` does) and G gateways watch them (WorkerWatcher, as
// `llmux gateway` does), each worker and each gateway with an etcd client and connection of its
// own. After the initial registration, every round drains some workers (Stop: delete the key,
// revoke the lease), crashes others (keep-alives stop; etcd deletes the key when the lease
// expires) and brings them all back (a new registration), and times each change until every
// gateway's view shows it. All times are steady_clock readings in this one process.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "discovery/etcd_client.h"
#include "discovery/worker_record.h"
#include "discovery/worker_registration.h"
#include "discovery/worker_watcher.h"
#include "etcd_process.h"
#include "latency_table.h"
#include "view_tracker.h"

namespace llmux::bench {
namespace {

using namespace std::chrono_literals;
using discovery::EtcdClient;
using discovery::WorkerRecord;
using discovery::WorkerRegistration;
using discovery::WorkerWatcher;

struct Options {
  int workers = 100;
  int gateways = 4;
  int rounds = 10;
  int ttl_s = 10;
  int drain = 5;  // per round
  int crash = 5;  // per round
  int poll_ms = 10;
  int seed = 1;
  std::string etcd;  // host:port; empty: start one
  std::string etcd_binary = "/usr/bin/etcd";
};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

class Simulation {
 public:
  Simulation(const Options& o, std::string endpoint)
      : o_(o),
        endpoint_(std::move(endpoint)),
        // A prefix of this run's own, so that an external etcd's other keys (or an earlier run's
        // leftovers) are never in the view.
        prefix_("/llmux-bench/" + std::to_string(::getpid()) + "-" +
                std::to_string(Clock::now().time_since_epoch().count()) + "/workers/"),
        ids_(MakeIds(o.workers)),
        tracker_(o.gateways, ids_),
        registrations_(o.workers),
        rng_(static_cast<unsigned>(o.seed)) {}

  ~Simulation() {
    for (auto& r : registrations_) {
      if (r) r->Stop().ok();  // drain what is left, so an external etcd is left clean
    }
    for (auto& w : watchers_) w->Stop();
  }

  Status Run() {
    LLMUX_RETURN_IF_ERROR(StartGateways());
    std::vector<int> all(o_.workers);
    std::iota(all.begin(), all.end(), 0);
    LLMUX_RETURN_IF_ERROR(Register(all, "register"));
    for (int round = 0; round < o_.rounds; ++round) {
      std::shuffle(all.begin(), all.end(), rng_);
      const std::vector<int> drained(all.begin(), all.begin() + o_.drain);
      const std::vector<int> crashed(all.begin() + o_.drain, all.begin() + o_.drain + o_.crash);
      LLMUX_RETURN_IF_ERROR(Drain(drained));
      LLMUX_RETURN_IF_ERROR(Crash(crashed));
      std::vector<int> back = drained;
      back.insert(back.end(), crashed.begin(), crashed.end());
      LLMUX_RETURN_IF_ERROR(Register(back, "return"));
      std::fprintf(stderr, "round %d/%d done\n", round + 1, o_.rounds);
    }
    return Status::Ok();
  }

  const LatencyTable& table() const { return table_; }
  // Per change, until the last gateway showed it (crash: from the deletion).
  const std::vector<double>& every_gateway() const { return every_gateway_; }
  int missed() const { return missed_; }
  const std::string& prefix() const { return prefix_; }

 private:
  static std::vector<std::string> MakeIds(int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      char id[16];
      std::snprintf(id, sizeof(id), "w%03d", i);
      ids.push_back(id);
    }
    return ids;
  }

  // A fake worker: no engine behind the address, only what a worker publishes.
  WorkerRecord Record(int i) const {
    return {.id = ids_[i],
            .address = "127.0.0.1:" + std::to_string(20000 + i),
            .models = {"bench-model-a", "bench-model-b"},
            .capacity = 8,
            .version = "bench",
            .standby = false};
  }

  discovery::EtcdClientOptions EtcdOptions() const {
    return {.endpoints = {endpoint_}, .call_timeout = 2000ms};
  }

  Status StartGateways() {
    for (int g = 0; g < o_.gateways; ++g) {
      LLMUX_ASSIGN_OR_RETURN(
          auto watcher,
          WorkerWatcher::Create({.etcd = EtcdOptions(), .prefix = prefix_}, tracker_.Callback(g)));
      LLMUX_RETURN_IF_ERROR(watcher->Start());
      watchers_.push_back(std::move(watcher));
    }
    const auto deadline = Clock::now() + 10s;
    while (!tracker_.AllReported()) {
      if (Clock::now() > deadline) return UnavailableError("the gateways' watchers never listed");
      std::this_thread::sleep_for(10ms);
    }
    return Status::Ok();
  }

  // Every gateway must show the worker in `present` before a change to it is timed.
  Status CheckSettled(int i, bool present) {
    for (int g = 0; g < o_.gateways; ++g) {
      if (tracker_.Present(g, i) != present) {
        return InternalError("gateway " + std::to_string(g) + " does not show " + ids_[i] +
                             (present ? " registered" : " gone") + " before the change");
      }
    }
    return Status::Ok();
  }

  // Waits for worker i to be `present` in every gateway's view, and adds each gateway's time
  // from `from` to rows "<kind> → each gateway" and (the last one) "<kind> → every gateway".
  void Collect(int i, bool present, Clock::time_point from, Clock::time_point deadline,
               const std::string& each, const std::string& every, bool goal = true) {
    auto at = tracker_.WaitAll(i, present, deadline);
    if (!at) {
      ++missed_;
      spdlog::error("{}: not every gateway saw {} {} in time", every, ids_[i],
                    present ? "registered" : "gone");
      return;
    }
    double last = 0;
    for (Clock::time_point t : *at) {
      table_.Row(each).push_back(Ms(t - from));
      last = std::max(last, Ms(t - from));
    }
    table_.Row(every).push_back(last);
    if (goal) every_gateway_.push_back(last);
  }

  Status Register(const std::vector<int>& workers, const std::string& kind) {
    std::map<int, Clock::time_point> called;
    for (int i : workers) {
      LLMUX_RETURN_IF_ERROR(CheckSettled(i, false));
      LLMUX_ASSIGN_OR_RETURN(registrations_[i],
                             WorkerRegistration::Create(
                                 {.etcd = EtcdOptions(), .prefix = prefix_, .ttl_s = o_.ttl_s}));
      const auto t0 = Clock::now();
      LLMUX_RETURN_IF_ERROR(registrations_[i]->Start(Record(i)).WithContext(kind + " " + ids_[i]));
      table_.Row(kind + ": the Start() call").push_back(Ms(Clock::now() - t0));
      called[i] = t0;
    }
    const auto deadline = Clock::now() + 10s;
    for (int i : workers) {
      Collect(i, true, called[i], deadline, kind + " → each gateway, from the Start() call",
              kind + " → every gateway, from the Start() call");
    }
    return Status::Ok();
  }

  Status Drain(const std::vector<int>& workers) {
    std::map<int, Clock::time_point> called;
    for (int i : workers) {
      LLMUX_RETURN_IF_ERROR(CheckSettled(i, true));
      const auto t0 = Clock::now();
      LLMUX_RETURN_IF_ERROR(registrations_[i]->Stop().WithContext("drain " + ids_[i]));
      table_.Row("drain: the Stop() call").push_back(Ms(Clock::now() - t0));
      registrations_[i].reset();
      called[i] = t0;
    }
    const auto deadline = Clock::now() + 10s;
    for (int i : workers) {
      Collect(i, false, called[i], deadline, "drain → each gateway, from the Stop() call",
              "drain → every gateway, from the Stop() call");
    }
    return Status::Ok();
  }

  // Crash: the registration is destroyed without Stop, so its keep-alives stop and etcd deletes
  // the key once the lease expires. A probe lists the prefix every poll_ms to place that
  // deletion in time: it happened after the start of the last list that still had the key and
  // before the end of the first that had not. The expiry is timed to the latter, the
  // propagation from the former, so both are upper bounds (by about one poll interval).
  Status Crash(const std::vector<int>& workers) {
    std::map<int, Clock::time_point> crashed;
    for (int i : workers) {
      LLMUX_RETURN_IF_ERROR(CheckSettled(i, true));
      registrations_[i].reset();  // joins the refresh thread: no keep-alive after this
      crashed[i] = Clock::now();
    }
    LLMUX_ASSIGN_OR_RETURN(auto probe, EtcdClient::Create(EtcdOptions()));
    std::map<int, Clock::time_point> last_seen = crashed;  // start of the last list with the key
    std::map<int, Clock::time_point> gone;                 // end of the first list without it
    const auto deadline = Clock::now() + std::chrono::seconds(o_.ttl_s) + 10s;
    while (gone.size() < workers.size() && Clock::now() < deadline) {
      const auto sent = Clock::now();
      auto listed = probe->GetPrefix(prefix_);
      const auto received = Clock::now();
      if (listed.ok()) {
        std::set<std::string> keys;
        for (const auto& kv : listed->kvs) keys.insert(kv.key);
        for (int i : workers) {
          if (gone.count(i) != 0) continue;
          if (keys.count(prefix_ + ids_[i]) != 0) {
            last_seen[i] = sent;
          } else {
            gone[i] = received;
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(o_.poll_ms));
    }
    for (int i : workers) {
      if (gone.count(i) == 0) {
        ++missed_;
        spdlog::error("crash: the key of {} was still in etcd {} s after the crash", ids_[i],
                      o_.ttl_s + 10);
        continue;
      }
      table_.Row("crash: lease expiry, keep-alives stopped → key deleted")
          .push_back(Ms(gone[i] - crashed[i]));
      Collect(i, false, last_seen[i], deadline + 10s, "crash → each gateway, from the deletion",
              "crash → every gateway, from the deletion");
      auto at = tracker_.WaitAll(i, false, Clock::now());
      if (at) {
        Clock::time_point last = *std::max_element(at->begin(), at->end());
        table_.Row("crash → every gateway, from the crash").push_back(Ms(last - crashed[i]));
      }
    }
    return Status::Ok();
  }

  const Options o_;
  const std::string endpoint_;
  const std::string prefix_;
  const std::vector<std::string> ids_;
  ViewTracker tracker_;
  std::vector<std::unique_ptr<WorkerWatcher>> watchers_;
  std::vector<std::unique_ptr<WorkerRegistration>> registrations_;
  std::mt19937 rng_;
  LatencyTable table_;
  std::vector<double> every_gateway_;
  int missed_ = 0;
};

int Main(const Options& o) {
  if (o.workers < 1 || o.gateways < 1 || o.rounds < 0 || o.ttl_s < 1 || o.drain < 0 ||
      o.crash < 0 || o.drain + o.crash > o.workers || o.poll_ms < 1) {
    std::fprintf(stderr,
                 "bad options: need workers, gateways, ttl, poll-ms >= 1 and "
                 "drain + crash <= workers\n");
    return 2;
  }
  std::unique_ptr<EtcdProcess> etcd;
  std::string endpoint = o.etcd;
  if (endpoint.empty()) {
    auto started = EtcdProcess::Start(o.etcd_binary);
    if (!started.ok()) {
      std::fprintf(stderr, "%s\n", started.status().ToString().c_str());
      return 1;
    }
    etcd = std::move(started).value();
    endpoint = etcd->endpoint();
  }

  Simulation simulation(o, endpoint);
  std::printf(
      "registry_bench: %d fake workers, %d gateways (a WorkerWatcher each), %d rounds of "
      "%d drained + %d crashed + all %d returning, lease TTL %d s, etcd at %s (%s)\n",
      o.workers, o.gateways, o.rounds, o.drain, o.crash, o.drain + o.crash, o.ttl_s,
      endpoint.c_str(), etcd ? "started by the benchmark" : "external");
  const auto started = Clock::now();
  Status status = simulation.Run();
  if (!status.ok()) {
    std::fprintf(stderr, "registry_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  std::printf(
      "ran %.1f s. Times: steady_clock in this one process, which also runs every worker "
      "and gateway (etcd is another process on the same machine). \"each gateway\": one "
      "sample per change and gateway, taken when its WorkerWatcher reported the new view; "
      "\"every gateway\": one per change, when the last gateway did. register, drain, "
      "return: from the call that made the change, so the etcd round trips are included; "
      "crash: from the deletion as a %d ms poll of etcd placed it (an upper bound).\n\n",
      Ms(Clock::now() - started) / 1000.0, o.poll_ms);
  simulation.table().Print();
  const double p99 = Percentile(simulation.every_gateway(), 99);
  std::printf(
      "\nevery gateway saw a change (register, drain, crash from the deletion, return) "
      "within %.1f ms at p99 over %zu changes: goal p99 < 1 s %s\n",
      p99, simulation.every_gateway().size(), p99 < 1000.0 ? "met" : "NOT met");
  if (simulation.missed() > 0) {
    std::printf("%d changes were not seen by every gateway in time\n", simulation.missed());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace llmux::bench

int main(int argc, char** argv) {
  llmux::bench::Options o;
  CLI::App app{
      "registry_bench: fake workers registering, failing and returning through etcd; "
      "time until every gateway's watcher sees each change"};
  app.add_option("--workers", o.workers, "fake workers")->capture_default_str();
  app.add_option("--gateways", o.gateways, "gateways (a WorkerWatcher each)")
      ->capture_default_str();
  app.add_option("--rounds", o.rounds, "rounds of failures and returns")->capture_default_str();
  app.add_option("--ttl", o.ttl_s, "lease TTL in seconds")->capture_default_str();
  app.add_option("--drain", o.drain, "workers drained per round")->capture_default_str();
  app.add_option("--crash", o.crash, "workers crashed per round")->capture_default_str();
  app.add_option("--poll-ms", o.poll_ms, "crash: how often the probe lists etcd")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "which workers fail")->capture_default_str();
  app.add_option("--etcd", o.etcd, "host:port of an etcd to use instead of starting one");
  app.add_option("--etcd-binary", o.etcd_binary, "the etcd started when --etcd is not given")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  return llmux::bench::Main(o);
}
