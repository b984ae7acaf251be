// The server-side state of one MCP session (spec 2025-11-25: created by initialize and named
// by the MCP-Session-Id header; stdio has exactly one): what was negotiated, the log level,
// resource subscriptions, requests in flight (for notifications/cancelled), requests the
// server sent to the client and awaits, the stream for server-initiated messages, and the
// chat tool's conversations. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "mcp/json_rpc.h"
#include "mcp/outbound.h"

namespace llmux::mcp {

// RFC 5424 severities, as logging/setLevel and notifications/message name them.
enum class LogLevel { kDebug, kInfo, kNotice, kWarning, kError, kCritical, kAlert, kEmergency };
std::optional<LogLevel> ParseLogLevel(std::string_view name);
const char* LogLevelName(LogLevel level);

// A JSON-RPC id as a map key ("s:abc" or "n:7", so "7" and 7 differ).
std::string IdKey(const Json& id);

class Session {
 public:
  using ReplyCallback = std::function<void(Result<Json>)>;

  Session(std::string id, std::string owner, std::string share = "");

  const std::string& id() const { return id_; }
  // The subject of the caller that created the session; only it may use the session.
  const std::string& owner() const { return owner_; }
  // Whose share of the registry the session counts against (a user's keys share one); the
  // owner when empty at creation.
  const std::string& share() const { return share_; }

  // What initialize negotiated.
  void SetNegotiated(std::string protocol_version, Json client_capabilities, Json client_info);
  std::string protocol_version() const;
  Json client_capabilities() const;
  // Whether the client declared `capability` (e.g. "sampling", "elicitation", "roots").
  bool ClientSupports(std::string_view capability) const;

  void SetLogLevel(LogLevel level);
  LogLevel log_level() const;

  void Subscribe(const std::string& uri);
  void Unsubscribe(const std::string& uri);
  bool Subscribed(const std::string& uri) const;

  // Requests in flight: `cancel` runs on notifications/cancelled naming the id.
  // Register refuses an id that is already in flight.
  bool RegisterInFlight(const Json& id, std::function<void()> cancel);
  void UnregisterInFlight(const Json& id);
  // Runs the cancel callback of `id`, if in flight. Returns whether one ran.
  bool CancelInFlight(const Json& id);
  // Cancels everything in flight and fails every awaited reply (the session ends).
  void Close();
  bool closed() const;

  // A request to the client: returns its id and remembers `on_reply`.
  Json BeginClientRequest(ReplyCallback on_reply);
  // A response from the client. Returns false when no request with that id is awaited.
  bool ResolveClientRequest(const Json& id, Result<Json> reply);

  // The stream for messages not tied to a request (GET /mcp): at most one at a time.
  // Attaching replaces (and returns) the previous one.
  std::shared_ptr<Outbound> AttachStream(std::shared_ptr<Outbound> stream);
  void DetachStream(const Outbound* stream);
  // Ends the attached stream, if any.
  void EndStream();
  // Sends on the attached stream; returns false (message dropped) when none is attached.
  bool Notify(Json message);

  // Conversations of the chat tool, by the caller's session_id argument: the messages so far.
  Json Conversation(const std::string& name) const;
  void SetConversation(const std::string& name, Json messages);

  std::chrono::steady_clock::time_point last_used() const;
  void Touch();
  // A request is in flight or a stream is attached: the session is not idle, so it is not
  // evicted to make room for another.
  bool busy() const;

 private:
  const std::string id_;
  const std::string owner_;
  const std::string share_;
  mutable std::mutex mu_;
  std::string protocol_version_;
  Json client_capabilities_ = Json::object();
  Json client_info_ = Json::object();
  LogLevel log_level_ = LogLevel::kInfo;
  std::set<std::string> subscriptions_;
  std::map<std::string, std::function<void()>> in_flight_;
  std::map<std::string, ReplyCallback> awaiting_;
  int64_t next_request_id_ = 0;
  std::shared_ptr<Outbound> stream_;
  std::map<std::string, Json> conversations_;
  bool closed_ = false;
  std::chrono::steady_clock::time_point last_used_;
};

// All sessions of one server, by id. Ids are 32 random bytes in hex.
//
// Each caller (a session's share) may hold at most max_sessions_per_caller sessions, so one
// caller cannot fill the registry: over its share, its own least recently used idle session
// is ended to make room. When the registry as a whole is full, the least recently used idle
// session of the caller holding the most goes. An evicted session answers 404 from then on,
// which tells an MCP client to initialize again.
class SessionRegistry {
 public:
  struct Options {
    size_t max_sessions = 10000;
    size_t max_sessions_per_caller = 100;
    std::chrono::seconds idle_timeout{3600};
  };
  SessionRegistry() : SessionRegistry(Options{}) {}
  explicit SessionRegistry(Options options) : options_(options) {}

  // `owner`: the caller's subject; `share`: whose share it counts against (empty: the owner).
  // kResourceExhausted when no session can be evicted to make room: every session of the
  // caller (over its share) or of the largest holder (registry full) is busy.
  Result<std::shared_ptr<Session>> Create(std::string owner, std::string share = "");
  std::shared_ptr<Session> Find(const std::string& id);
  // Closes and forgets the session; false when there is none.
  bool Remove(const std::string& id);
  // Every session, for server-wide notifications (e.g. a model was loaded).
  std::vector<std::shared_ptr<Session>> All() const;
  size_t size() const;
  // Sessions counted against `share`.
  size_t SizeOf(const std::string& share) const;
  // Ends every session's GET stream and refuses new ones (server shutdown: they would
  // otherwise hold the grace period open); requests in flight go on.
  void EndStreams();
  bool streams_ended() const { return streams_ended_.load(); }

 private:
  void ExpireIdleLocked();
  // Forgets `id` (which must be there) and returns it, still open.
  std::shared_ptr<Session> EraseLocked(const std::string& id);
  // The least recently used idle session of `share`; null when all are busy.
  std::shared_ptr<Session> OldestIdleLocked(const std::string& share) const;
  // Makes room for one more session of `share`; the evicted session is closed by the caller
  // (outside the lock).
  Result<std::shared_ptr<Session>> EvictForLocked(const std::string& share);

  Options options_;
  std::atomic<bool> streams_ended_{false};
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;
  // The ids of each share's sessions.
  std::map<std::string, std::set<std::string>> by_share_;
  std::chrono::steady_clock::time_point last_expiry_{};
};

}  // namespace llmux::mcp
