#include "mcp/session.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <vector>

namespace llmux::mcp {

namespace {

constexpr std::array<const char*, 8> kLevelNames = {"debug", "info",     "notice", "warning",
                                                    "error", "critical", "alert",  "emergency"};

std::string RandomSessionId() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  for (size_t i = 0; i < kLevelNames.size(); ++i) {
    if (name == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

const char* LogLevelName(LogLevel level) { return kLevelNames[static_cast<size_t>(level)]; }

std::string IdKey(const Json& id) {
  if (id.is_string()) return "s:" + id.get<std::string>();
  return "n:" + id.dump();
}

Session::Session(std::string id, std::string owner, std::string share)
    : id_(std::move(id)),
      owner_(std::move(owner)),
      share_(share.empty() ? owner_ : std::move(share)),
      last_used_(std::chrono::steady_clock::now()) {}

void Session::SetNegotiated(std::string protocol_version, Json client_capabilities,
                            Json client_info) {
  std::lock_guard lock(mu_);
  protocol_version_ = std::move(protocol_version);
  client_capabilities_ = std::move(client_capabilities);
  client_info_ = std::move(client_info);
}

std::string Session::protocol_version() const {
  std::lock_guard lock(mu_);
  return protocol_version_;
}

Json Session::client_capabilities() const {
  std::lock_guard lock(mu_);
  return client_capabilities_;
}

bool Session::ClientSupports(std::string_view capability) const {
  std::lock_guard lock(mu_);
  return client_capabilities_.is_object() && client_capabilities_.contains(capability);
}

void Session::SetLogLevel(LogLevel level) {
  std::lock_guard lock(mu_);
  log_level_ = level;
}

LogLevel Session::log_level() const {
  std::lock_guard lock(mu_);
  return log_level_;
}

void Session::Subscribe(const std::string& uri) {
  std::lock_guard lock(mu_);
  subscriptions_.insert(uri);
}

void Session::Unsubscribe(const std::string& uri) {
  std::lock_guard lock(mu_);
  subscriptions_.erase(uri);
}

bool Session::Subscribed(const std::string& uri) const {
  std::lock_guard lock(mu_);
  return subscriptions_.count(uri) > 0;
}

bool Session::RegisterInFlight(const Json& id, std::function<void()> cancel) {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  return in_flight_.emplace(IdKey(id), std::move(cancel)).second;
}

void Session::UnregisterInFlight(const Json& id) {
  std::lock_guard lock(mu_);
  in_flight_.erase(IdKey(id));
}

bool Session::CancelInFlight(const Json& id) {
  std::function<void()> cancel;
  {
    std::lock_guard lock(mu_);
    auto it = in_flight_.find(IdKey(id));
    if (it == in_flight_.end()) return false;
    cancel = std::move(it->second);
    in_flight_.erase(it);
  }
  if (cancel) cancel();
  return true;
}

void Session::Close() {
  std::map<std::string, std::function<void()>> in_flight;
  std::map<std::string, ReplyCallback> awaiting;
  std::shared_ptr<Outbound> stream;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    in_flight.swap(in_flight_);
    awaiting.swap(awaiting_);
    stream = std::move(stream_);
  }
  for (auto& [id, cancel] : in_flight) {
    if (cancel) cancel();
  }
  for (auto& [id, reply] : awaiting) reply(UnavailableError("the MCP session ended"));
  if (stream) stream->Finish(nullptr);
}

bool Session::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

Json Session::BeginClientRequest(ReplyCallback on_reply) {
  std::lock_guard lock(mu_);
  // Ids of server requests are strings so they never collide with anything the client uses.
  Json id = "llmux-" + std::to_string(++next_request_id_);
  awaiting_.emplace(IdKey(id), std::move(on_reply));
  return id;
}

bool Session::ResolveClientRequest(const Json& id, Result<Json> reply) {
  ReplyCallback callback;
  {
    std::lock_guard lock(mu_);
    auto it = awaiting_.find(IdKey(id));
    if (it == awaiting_.end()) return false;
    callback = std::move(it->second);
    awaiting_.erase(it);
  }
  callback(std::move(reply));
  return true;
}

std::shared_ptr<Outbound> Session::AttachStream(std::shared_ptr<Outbound> stream) {
  std::lock_guard lock(mu_);
  std::swap(stream_, stream);
  return stream;
}

void Session::DetachStream(const Outbound* stream) {
  std::lock_guard lock(mu_);
  if (stream_.get() == stream) stream_.reset();
}

void Session::EndStream() {
  std::shared_ptr<Outbound> stream;
  {
    std::lock_guard lock(mu_);
    stream = std::move(stream_);
  }
  if (stream) stream->Finish(nullptr);
}

bool Session::Notify(Json message) {
  std::shared_ptr<Outbound> stream;
  {
    std::lock_guard lock(mu_);
    stream = stream_;
  }
  if (!stream) return false;
  stream->Send(std::move(message));
  return true;
}

Json Session::Conversation(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = conversations_.find(name);
  return it == conversations_.end() ? Json::array() : it->second;
}

void Session::SetConversation(const std::string& name, Json messages) {
  std::lock_guard lock(mu_);
  conversations_[name] = std::move(messages);
}

std::chrono::steady_clock::time_point Session::last_used() const {
  std::lock_guard lock(mu_);
  return last_used_;
}

void Session::Touch() {
  std::lock_guard lock(mu_);
  last_used_ = std::chrono::steady_clock::now();
}

bool Session::busy() const {
  std::lock_guard lock(mu_);
  return !in_flight_.empty() || stream_ != nullptr;
}

Result<std::shared_ptr<Session>> SessionRegistry::Create(std::string owner, std::string share) {
  if (share.empty()) share = owner;
  std::shared_ptr<Session> evicted;
  std::shared_ptr<Session> session;
  {
    std::lock_guard lock(mu_);
    ExpireIdleLocked();
    auto made_room = EvictForLocked(share);
    if (!made_room.ok()) return made_room.status();
    evicted = std::move(made_room).value();
    session = std::make_shared<Session>(RandomSessionId(), std::move(owner), share);
    sessions_.emplace(session->id(), session);
    by_share_[share].insert(session->id());
  }
  if (evicted) {
    spdlog::info("mcp: ended the idle session {}... of {} to make room for a new one",
                 evicted->id().substr(0, 8), evicted->share());
    evicted->Close();
  }
  return session;
}

Result<std::shared_ptr<Session>> SessionRegistry::EvictForLocked(const std::string& share) {
  auto mine = by_share_.find(share);
  const size_t held = mine == by_share_.end() ? 0 : mine->second.size();
  if (options_.max_sessions_per_caller > 0 && held >= options_.max_sessions_per_caller) {
    std::shared_ptr<Session> oldest = OldestIdleLocked(share);
    if (!oldest) {
      return ResourceExhaustedError("all " + std::to_string(held) +
                                    " MCP sessions of this caller (its share) are busy; end one "
                                    "with DELETE first");
    }
    return EraseLocked(oldest->id());
  }
  if (sessions_.size() < options_.max_sessions) return std::shared_ptr<Session>();
  // Full: the largest holders give up their least recently used idle session first.
  std::vector<std::pair<size_t, const std::string*>> holders;
  for (const auto& [name, ids] : by_share_) holders.emplace_back(ids.size(), &name);
  std::sort(holders.begin(), holders.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [count, name] : holders) {
    if (std::shared_ptr<Session> oldest = OldestIdleLocked(*name)) return EraseLocked(oldest->id());
  }
  return ResourceExhaustedError("too many open MCP sessions, all busy; end one with DELETE first");
}

std::shared_ptr<Session> SessionRegistry::OldestIdleLocked(const std::string& share) const {
  auto ids = by_share_.find(share);
  if (ids == by_share_.end()) return nullptr;
  std::shared_ptr<Session> oldest;
  for (const std::string& id : ids->second) {
    const std::shared_ptr<Session>& s = sessions_.at(id);
    if (s->busy()) continue;
    if (!oldest || s->last_used() < oldest->last_used()) oldest = s;
  }
  return oldest;
}

std::shared_ptr<Session> SessionRegistry::EraseLocked(const std::string& id) {
  auto it = sessions_.find(id);
  std::shared_ptr<Session> session = std::move(it->second);
  sessions_.erase(it);
  auto ids = by_share_.find(session->share());
  ids->second.erase(id);
  if (ids->second.empty()) by_share_.erase(ids);
  return session;
}

std::shared_ptr<Session> SessionRegistry::Find(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return nullptr;
  it->second->Touch();
  return it->second;
}

bool SessionRegistry::Remove(const std::string& id) {
  std::shared_ptr<Session> session;
  {
    std::lock_guard lock(mu_);
    if (sessions_.count(id) == 0) return false;
    session = EraseLocked(id);
  }
  session->Close();
  return true;
}

std::vector<std::shared_ptr<Session>> SessionRegistry::All() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Session>> all;
  for (const auto& [id, s] : sessions_) all.push_back(s);
  return all;
}

size_t SessionRegistry::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

size_t SessionRegistry::SizeOf(const std::string& share) const {
  std::lock_guard lock(mu_);
  auto it = by_share_.find(share);
  return it == by_share_.end() ? 0 : it->second.size();
}

void SessionRegistry::EndStreams() {
  streams_ended_ = true;
  for (const auto& session : All()) session->EndStream();
}

void SessionRegistry::ExpireIdleLocked() {
  // A walk over every session: at most once a second, or when the registry is full.
  const auto now = std::chrono::steady_clock::now();
  if (sessions_.size() < options_.max_sessions && now - last_expiry_ < std::chrono::seconds(1)) {
    return;
  }
  last_expiry_ = now;
  const auto cutoff = now - options_.idle_timeout;
  std::vector<std::string> expired;
  for (const auto& [id, session] : sessions_) {
    if (session->last_used() < cutoff) expired.push_back(id);
  }
  for (const std::string& id : expired) EraseLocked(id)->Close();
}

}  // namespace llmux::mcp
