// `llmux model deploy MODEL --version V --path FILE [--workers ID,...] --gateway URL
// --api-key K`: starts a rollout through the gateway's admin API (POST /admin/v1/deploys),
// then follows its progress as the gateway streams it (GET /admin/v1/deploys?id=&stream=true,
// NDJSON) and prints each change until the deploy committed (exit 0) or aborted (exit 1). If
// the stream breaks before the end (a gateway restarting), it polls GET ?id= instead. See
// docs/deployment.md, "Rollouts".
#include "cli/cmd_deploy.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/json_nesting.h"
#include "cli/cli_util.h"
#include "net/http/http_client.h"

namespace llmux::cli {
namespace {

using Json = nlohmann::json;

struct DeployOpts {
  std::string model, version, path, gateway, api_key, ca_file;
  std::vector<std::string> workers;
  int timeout_s = 120;
};

http::ClientRequest GatewayRequest(const DeployOpts& o, const std::string& method,
                                   const std::string& target, const std::string& body) {
  http::ClientRequest r;
  r.method = method;
  std::string base = o.gateway;
  while (!base.empty() && base.back() == '/') base.pop_back();
  r.url = base + target;
  r.body = body;
  r.ca_file = o.ca_file;
  r.max_response_bytes = 1024 * 1024;
  if (!body.empty()) r.headers.Add("Content-Type", "application/json");
  if (!o.api_key.empty()) r.headers.Add("Authorization", "Bearer " + o.api_key);
  return r;
}

Result<Json> Call(const DeployOpts& o, const std::string& method, const std::string& target,
                  const std::string& body) {
  LLMUX_ASSIGN_OR_RETURN(http::ClientResponse response,
                         http::Fetch(GatewayRequest(o, method, target, body)));
  Json j = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (response.status / 100 != 2) {
    std::string message = "HTTP " + std::to_string(response.status);
    if (j.is_object() && j.contains("error") && j["error"].is_object() &&
        j["error"].value("message", Json()).is_string()) {
      message += ": " + j["error"]["message"].get<std::string>();
    }
    return UnavailableError("the gateway refused the deploy: " + message);
  }
  if (!j.is_object()) return UnavailableError("the gateway's answer is not a JSON object");
  return j;
}

// "state  w1=ready w2=preparing" for a progress object.
std::string Line(const Json& p) {
  std::string line = p.value("state", std::string("?"));
  if (p.contains("workers") && p["workers"].is_object()) {
    for (const auto& [id, state] : p["workers"].items()) {
      line += "  " + id + "=" + (state.is_string() ? state.get<std::string>() : "?");
    }
  }
  if (p.contains("reason") && p["reason"].is_string()) line += "\n  reason: " + p["reason"].get<std::string>();
  return line;
}

// Prints each progress line the gateway streams; returns the last progress seen (null when
// none), whether or not the stream reached the end.
Json FollowStream(const DeployOpts& o, const std::string& id, std::string& last) {
  http::ClientRequest r =
      GatewayRequest(o, "GET", "/admin/v1/deploys?id=" + id + "&stream=true", "");
  r.timeout = std::chrono::seconds(o.timeout_s + 60);
  std::string pending;
  Json latest;
  r.on_body = [&](std::string_view piece) {
    pending += piece;
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      const std::string text = pending.substr(0, nl);
      Json p =
          JsonNestingWithin(text) ? Json::parse(text, nullptr, /*allow_exceptions=*/false) : Json();
      pending.erase(0, nl + 1);
      if (!p.is_object()) continue;
      if (p.contains("error")) {
        std::fprintf(stderr, "warning: following the deploy: %s\n", p["error"].dump().c_str());
        continue;
      }
      latest = p;
      const std::string line = Line(p);
      if (line != last) {
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
        last = line;
      }
    }
    return pending.size() < 64 * 1024;
  };
  Result<http::ClientResponse> done = http::Fetch(r);
  if (!done.ok()) {
    std::fprintf(stderr, "warning: the progress stream broke: %s\n",
                 done.status().message().c_str());
  } else if (done->status / 100 != 2) {
    std::fprintf(stderr, "warning: the gateway does not stream the progress (HTTP %d)\n",
                 done->status);
  }
  return latest;
}

int Run(const DeployOpts& o) {
  Json body = {{"model", o.model}, {"version", o.version}, {"path", o.path},
               {"timeout_s", o.timeout_s}};
  if (!o.workers.empty()) body["workers"] = o.workers;
  Result<Json> started = Call(o, "POST", "/admin/v1/deploys", body.dump());
  if (!started.ok()) return ReportError(started.status());
  const std::string id = started->value("id", std::string());
  if (id.empty()) return ReportError(UnavailableError("the gateway's answer has no deploy id"));
  std::printf("deploy %s: %s -> %s\n", id.c_str(), o.model.c_str(),
              started->value("served", std::string()).c_str());
  std::string last = Line(*started);
  std::printf("%s\n", last.c_str());
  std::fflush(stdout);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeout_s + 60);
  const std::string first_state = started->value("state", std::string());
  if (first_state != "committed" && first_state != "aborted") {
    Json streamed = FollowStream(o, id, last);
    if (streamed.is_object()) *started = std::move(streamed);
  }
  for (;;) {
    const std::string state = started->value("state", std::string());
    if (state == "committed") return 0;
    if (state == "aborted") return 1;
    if (std::chrono::steady_clock::now() > give_up) {
      return ReportError(DeadlineExceededError("deploy " + id + " did not end in time"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    Result<Json> now = Call(o, "GET", "/admin/v1/deploys?id=" + id, "");
    if (!now.ok()) {
      std::fprintf(stderr, "warning: %s\n", now.status().message().c_str());
      continue;
    }
    started = std::move(now);
    const std::string line = Line(*started);
    if (line != last) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
      last = line;
    }
  }
}

}  // namespace

Command AddDeployCommand(CLI::App& model) {
  auto* sub = model.add_subcommand(
      "deploy", "roll a model version out to workers through a gateway, all or nothing");
  auto o = std::make_shared<DeployOpts>();
  sub->add_option("model", o->model, "the model name clients use")->required();
  sub->add_option("--version", o->version, "the version's name ([A-Za-z0-9._-])")->required();
  sub->add_option("--path", o->path, "the model file, as the workers see it")->required();
  sub->add_option("--workers", o->workers, "worker ids (default: every registered worker)")
      ->delimiter(',');
  sub->add_option("--gateway", o->gateway, "the gateway's base URL, e.g. http://127.0.0.1:8080")
      ->required();
  sub->add_option("--api-key", o->api_key, "an API key with models:manage");
  sub->add_option("--ca", o->ca_file, "https: trust this CA file");
  sub->add_option("--timeout", o->timeout_s, "seconds the workers get to prepare")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  return {sub, [o] { return Run(*o); }};
}

}  // namespace llmux::cli
