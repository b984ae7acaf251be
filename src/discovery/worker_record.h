// WorkerRecord: what a worker publishes about itself in etcd (the value of <prefix><id>), as
// JSON. Decoding validates: the value comes from the network and may be anything.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace llmux::discovery {

struct WorkerRecord {
  std::string id;       // unique per worker; the last segment of its key (no '/')
  std::string address;  // host:port of its worker gRPC service
  std::vector<std::string> models;
  int capacity = 0;      // concurrent sequences it accepts
  std::string version;   // llmux version of the worker
  bool standby = false;  // registered but not to be routed to (warming up, draining)

  bool operator==(const WorkerRecord&) const = default;
};

// Records larger than this are refused in both directions.
inline constexpr size_t kMaxWorkerRecordBytes = 64 * 1024;

// Checks the fields a registration needs: id (1-128 printable characters, no '/'), address
// (host:port), capacity >= 0.
Status ValidateWorkerRecord(const WorkerRecord& record);

std::string EncodeWorkerRecord(const WorkerRecord& record);
// kInvalidArgument for anything but a valid record's JSON of at most kMaxWorkerRecordBytes.
// Unknown fields are ignored, so that newer workers can add some.
Result<WorkerRecord> DecodeWorkerRecord(std::string_view json);

}  // namespace llmux::discovery
