#include "app/worker.h"

#include <cstdio>
#include <future>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "net/http/loopback_host.h"
#include "rollout/deploy_agent.h"
#include "net/http/signal_watcher.h"
#include "serving/local_inference_service.h"

namespace llmux::app {

namespace {

discovery::WorkerRecord RecordOf(const WorkerRoleOptions& o, const std::string& address,
                                 const serving::LocalInferenceService& service) {
  discovery::WorkerRecord record;
  record.address = address;
  record.id = o.id.empty() ? address : o.id;
  for (const serving::ModelInfo& m : service.ListModels()) record.models.push_back(m.id);
  record.capacity = o.model_host.engine.scheduler.max_running;
  record.version = LLMUX_VERSION_STRING;
  record.standby = o.standby;
  return record;
}

}  // namespace

Status RunWorker(const WorkerRoleOptions& o) {
  // The worker API trusts its callers (gateways authenticate clients): off loopback, only mutual
  // TLS keeps everyone else out.
  if (!http::IsLoopbackHost(o.server.host) && o.server.tls_client_ca_file.empty()) {
    spdlog::warn("worker: listening on {} without --client-ca: anyone who reaches the port can "
                 "generate; keep it on a private network or require gateway certificates",
                 o.server.host);
  }
  serving::LocalInferenceService service(o.models, o.model_host);
  std::unique_ptr<worker::WorkerServer> server;

  std::promise<Status> result;
  std::once_flag once;
  std::unique_ptr<discovery::WorkerRegistration> registration;
  std::unique_ptr<discovery::EtcdClient> deploy_etcd;
  std::unique_ptr<rollout::DeployAgent> deploy_agent;  // rollouts: prepares the plans naming it
  std::mutex registration_mu;
  // Drain (SIGTERM, or a gateway's admin call): leave etcd first, so that gateways stop sending
  // new work, then let the running requests finish within the grace period.
  auto shutdown = [&](Status why) {
    std::call_once(once, [&] {
      spdlog::info("worker: draining (grace {} s)", o.grace.count());
      server->SetServing(false);
      std::thread([&, why] {
        {
          std::lock_guard lock(registration_mu);
          if (deploy_agent) deploy_agent->Stop();
          if (registration) {
            if (Status s = registration->Stop(); !s.ok()) spdlog::warn("worker: {}", s.ToString());
          }
        }
        service.Drain(static_cast<int>(std::chrono::milliseconds(o.grace).count()));
        server->Shutdown(o.grace);
        result.set_value(why);
      }).detach();
    });
  };
  server = std::make_unique<worker::WorkerServer>(service, o.server, [&] { shutdown(Status::Ok()); });
  LLMUX_RETURN_IF_ERROR(server->Start().WithContext("worker gRPC listener"));
  const std::string address =
      o.advertise.empty() ? o.server.host + ":" + std::to_string(server->port()) : o.advertise;
  // One write for the whole line: tools (and the tests) read the port from it.
  std::fputs(("llmux: worker gRPC on " + o.server.host + ":" + std::to_string(server->port()) +
              (server->tls() ? " (mutual TLS)" : "") + "; loading " +
              std::to_string(o.models.size()) + " model(s)\n")
                 .c_str(),
             stderr);

  http::SignalWatcher signals([&](int) { shutdown(Status::Ok()); });

  std::thread ready_watch([&] {
    if (Status loaded = service.WaitLoaded(); !loaded.ok()) {
      shutdown(loaded);
      return;
    }
    server->SetServing(true);  // before gateways learn of it from etcd
    if (!o.registration.etcd.endpoints.empty()) {
      auto created = discovery::WorkerRegistration::Create(o.registration);
      if (!created.ok()) {
        shutdown(created.status().WithContext("--etcd"));
        return;
      }
      const discovery::WorkerRecord record = RecordOf(o, address, service);
      Status started = (*created)->Start(record);
      if (started.code() == StatusCode::kInvalidArgument) {
        shutdown(started.WithContext("the worker's registration"));
        return;
      }
      if (!started.ok()) spdlog::warn("worker: etcd not reachable yet, registering when it is: {}", started.ToString());
      auto etcd = discovery::EtcdClient::Create(o.registration.etcd);
      std::lock_guard lock(registration_mu);
      registration = std::move(created).value();
      if (etcd.ok()) {
        deploy_etcd = std::move(etcd).value();
        deploy_agent = std::make_unique<rollout::DeployAgent>(
            *deploy_etcd, service, rollout::DeployAgentOptions{o.rollout_prefix, record.id});
        deploy_agent->Start();
      }
    }
    std::fputs(("llmux: worker ready: " + address + "\n").c_str(), stderr);
  });
  Status status = result.get_future().get();
  ready_watch.join();
  return status;
}

}  // namespace llmux::app
