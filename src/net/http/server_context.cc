#include "net/http/server_context.h"

#include <spdlog/spdlog.h>

#include "net/http/connection.h"

namespace llmux::http {

RouteMatch ServerContext::Find(std::string_view method, std::string_view path) const {
  RouteMatch match;
  auto it = routes.find(std::string(path));
  if (it == routes.end()) return match;
  match.path_known = true;
  for (const auto& [m, handler] : it->second) {
    if (m == method) {
      match.handler = &handler;
      return match;
    }
    if (!match.allow.empty()) match.allow += ", ";
    match.allow += m;
  }
  return match;
}

Response ServerContext::MakeError(int status, std::string message) const {
  if (error_formatter) {
    try {
      return error_formatter(status, message);
    } catch (const std::exception& e) {
      spdlog::warn("http: error formatter threw: {}", e.what());
    } catch (...) {
      spdlog::warn("http: error formatter threw");
    }
  }
  return DefaultErrorResponse(status, std::move(message));
}

void ServerContext::Register(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mu_);
  connections_.emplace(connection.get(), connection);
}

void ServerContext::Unregister(const Connection* connection) {
  std::lock_guard lock(mu_);
  connections_.erase(connection);
}

size_t ServerContext::open_connections() const {
  std::lock_guard lock(mu_);
  return connections_.size();
}

std::vector<std::shared_ptr<Connection>> ServerContext::Snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Connection>> out;
  out.reserve(connections_.size());
  for (const auto& [ptr, weak] : connections_) {
    if (auto c = weak.lock()) out.push_back(std::move(c));
  }
  return out;
}

}  // namespace llmux::http
