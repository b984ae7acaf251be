#include "net/http/server_context.h"

#include <spdlog/spdlog.h>

#include "net/http/connection.h"

namespace llmux::http {

RouteMatch ServerContext::FindPrefix(std::string_view method, std::string_view path) const {
  RouteMatch match;
  size_t longest = 0;
  for (const auto& [prefix, m, handler] : prefix_routes) {
    if (path.substr(0, prefix.size()) != prefix || prefix.size() < longest) continue;
    if (prefix.size() > longest) match = RouteMatch{};
    longest = prefix.size();
    match.path_known = true;
    if (m == method) {
      match.handler = &handler;
    } else {
      if (!match.allow.empty()) match.allow += ", ";
      match.allow += m;
    }
  }
  return match;
}

RouteMatch ServerContext::Find(std::string_view method, std::string_view path) const {
  RouteMatch match;
  auto it = routes.find(std::string(path));
  if (it == routes.end()) return FindPrefix(method, path);
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

Response ServerContext::MakeError(int status, std::string message, std::string_view path) const {
  const ErrorFormatter* formatter = error_formatter ? &error_formatter : nullptr;
  size_t longest = 0;
  for (const auto& [prefix, f] : prefix_error_formatters) {
    if (f && !path.empty() && path.substr(0, prefix.size()) == prefix && prefix.size() >= longest) {
      longest = prefix.size();
      formatter = &f;
    }
  }
  if (formatter) {
    try {
      return (*formatter)(status, message);
    } catch (const std::exception& e) {
      spdlog::warn("http: error formatter threw: {}", e.what());
    } catch (...) {
      spdlog::warn("http: error formatter threw");
    }
  }
  return DefaultErrorResponse(status, std::move(message));
}

void ServerContext::Register(const std::shared_ptr<Connection>& connection, std::string address) {
  std::lock_guard lock(mu_);
  ++per_address_[address];
  connections_.emplace(connection.get(), Entry{connection, std::move(address)});
}

void ServerContext::Unregister(const Connection* connection) {
  std::lock_guard lock(mu_);
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  auto count = per_address_.find(it->second.address);
  if (count != per_address_.end() && --count->second == 0) per_address_.erase(count);
  connections_.erase(it);
}

size_t ServerContext::connections_from(const std::string& address) const {
  std::lock_guard lock(mu_);
  auto it = per_address_.find(address);
  return it == per_address_.end() ? 0 : it->second;
}

size_t ServerContext::open_connections() const {
  std::lock_guard lock(mu_);
  return connections_.size();
}

std::vector<std::shared_ptr<Connection>> ServerContext::Snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Connection>> out;
  out.reserve(connections_.size());
  for (const auto& [ptr, entry] : connections_) {
    if (auto c = entry.connection.lock()) out.push_back(std::move(c));
  }
  return out;
}

}  // namespace llmux::http
