#include "discovery/worker_record.h"

#include <charconv>
#include <nlohmann/json.hpp>

namespace llmux::discovery {
namespace {

using nlohmann::json;

constexpr size_t kMaxIdBytes = 128;
constexpr size_t kMaxAddressBytes = 512;

bool Printable(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x21 || c == 0x7f) return false;  // no spaces or control characters
  }
  return true;
}

// "host:port" or "[v6]:port", port 1-65535.
bool IsHostPort(std::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view port = address.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc() && end == port.data() + port.size() && value >= 1 && value <= 65535;
}

Result<std::string> StringField(const json& object, const char* name, bool required) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) {
    if (required) return InvalidArgumentError(std::string("worker record: missing '") + name + "'");
    return std::string();
  }
  if (!it->is_string()) {
    return InvalidArgumentError(std::string("worker record: '") + name + "' is not a string");
  }
  return it->get<std::string>();
}

}  // namespace

Status ValidateWorkerRecord(const WorkerRecord& record) {
  if (record.id.empty() || record.id.size() > kMaxIdBytes || !Printable(record.id) ||
      record.id.find('/') != std::string::npos) {
    return InvalidArgumentError("worker record: id must be 1-128 printable characters without '/'");
  }
  if (record.address.size() > kMaxAddressBytes || !Printable(record.address) ||
      !IsHostPort(record.address)) {
    return InvalidArgumentError("worker record: address '" + record.address + "' is not host:port");
  }
  if (record.capacity < 0) return InvalidArgumentError("worker record: capacity is negative");
  for (const std::string& model : record.models) {
    if (model.empty()) return InvalidArgumentError("worker record: an empty model name");
  }
  return Status::Ok();
}

std::string EncodeWorkerRecord(const WorkerRecord& record) {
  json j = {{"id", record.id},           {"address", record.address},
            {"models", record.models},   {"capacity", record.capacity},
            {"version", record.version}, {"standby", record.standby}};
  // Replace, not throw, on invalid UTF-8: encoding must not fail across the boundary.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<WorkerRecord> DecodeWorkerRecord(std::string_view text) {
  if (text.size() > kMaxWorkerRecordBytes) {
    return InvalidArgumentError("worker record: " + std::to_string(text.size()) +
                                " bytes, over the limit of " +
                                std::to_string(kMaxWorkerRecordBytes));
  }
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError("worker record: not JSON");
  if (!j.is_object()) return InvalidArgumentError("worker record: not a JSON object");
  WorkerRecord record;
  try {
    LLMUX_ASSIGN_OR_RETURN(record.id, StringField(j, "id", true));
    LLMUX_ASSIGN_OR_RETURN(record.address, StringField(j, "address", true));
    LLMUX_ASSIGN_OR_RETURN(record.version, StringField(j, "version", false));
    if (auto it = j.find("models"); it != j.end() && !it->is_null()) {
      if (!it->is_array()) return InvalidArgumentError("worker record: 'models' is not an array");
      for (const json& model : *it) {
        if (!model.is_string()) {
          return InvalidArgumentError("worker record: a model name is not a string");
        }
        record.models.push_back(model.get<std::string>());
      }
    }
    if (auto it = j.find("capacity"); it != j.end() && !it->is_null()) {
      if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > INT32_MAX) {
        return InvalidArgumentError("worker record: 'capacity' is not an integer in [0, 2^31)");
      }
      record.capacity = static_cast<int>(it->get<int64_t>());
    }
    if (auto it = j.find("standby"); it != j.end() && !it->is_null()) {
      if (!it->is_boolean())
        return InvalidArgumentError("worker record: 'standby' is not a boolean");
      record.standby = it->get<bool>();
    }
  } catch (const json::exception& e) {  // not expected after the type checks; never let one out
    return InvalidArgumentError(std::string("worker record: ") + e.what());
  }
  LLMUX_RETURN_IF_ERROR(ValidateWorkerRecord(record));
  return record;
}

}  // namespace llmux::discovery
