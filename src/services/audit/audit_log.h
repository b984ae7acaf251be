// The audit log: who did what to which thing, from where, and how it ended. The services write
// their events through AuditLog (each event once, by the service that made the change); the
// admin and gRPC edges read pages of it. src/store/ implements it on SQLite and PostgreSQL.
//
// Errors: kInvalidArgument (a page limit outside 1..1000), kUnavailable (the log cannot be
// reached or is busy), kInternal / kDataLoss (other failures). Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace llmux::audit {

struct Event {
  int64_t id = 0;       // assigned by the log, increasing
  int64_t time_ms = 0;  // unix milliseconds; 0 at append = now
  std::string actor;    // "user:3", "key:7", "anonymous"
  std::string action;   // "keys.create", "prompts.put"
  std::string target;   // "user:5", "prompt:greet"
  std::string source;   // client address, "cli"
  std::string outcome;  // "ok", "failed", "denied", ...
  std::string detail;
};

// Pages run newest first: events with id < before_id (0 = from the newest), at most `limit`.
struct Page {
  int64_t before_id = 0;
  int limit = 50;
};

struct EventList {
  std::vector<Event> items;
  bool has_more = false;
  int64_t next_cursor = 0;  // when has_more: the next Page's before_id; else 0
};

// Who asks for a change, and from where: what a service records of its caller.
struct Actor {
  std::string subject;  // stable id: "user:3", "key:7", "anonymous"
  std::string display;  // safe to show: a user name, a key's public prefix
  std::string source;   // client address, "cli"
};

class AuditLog {
 public:
  virtual ~AuditLog() = default;

  // Returns the new event's id.
  virtual Result<int64_t> Append(const Event& event) = 0;
  virtual Result<EventList> List(Page page) = 0;
};

// Appends `event`; a failure is logged, not returned: a busy audit log must not fail the change
// (or the refusal) it records.
void AppendOrWarn(AuditLog& log, const Event& event);

}  // namespace llmux::audit
