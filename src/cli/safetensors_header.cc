#include "cli/safetensors_header.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/json_nesting.h"
#include "engine/convert/hf_dtype.h"

namespace llmux::cli {

namespace {

using nlohmann::json;

constexpr size_t kMaxDims = 8;

std::string In(const std::string& file) { return "'" + file + "': "; }

Result<uint64_t> Unsigned(const json& v, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0)
    return static_cast<uint64_t>(v.get<int64_t>());
  return DataLossError(what + " is not a non-negative integer");
}

uint64_t LittleEndian64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

struct Range {
  uint64_t begin, end;
  const std::string* name;
};

}  // namespace

Result<uint64_t> CheckSafetensorsHeaderLength(uint64_t n, uint64_t file_size,
                                              const std::string& file) {
  if (file_size < 8) {
    return DataLossError(In(file) + "only " + std::to_string(file_size) +
                         " bytes, too short for a safetensors header");
  }
  if (n > kMaxSafetensorsHeader) {
    return DataLossError(In(file) + "header length " + std::to_string(n) +
                         " exceeds the limit of " + std::to_string(kMaxSafetensorsHeader) +
                         " bytes");
  }
  if (n > file_size - 8) {
    return DataLossError(In(file) + "header length " + std::to_string(n) +
                         " runs past the end of the file (" + std::to_string(file_size) +
                         " bytes)");
  }
  if (n < 2)
    return DataLossError(In(file) + "header length " + std::to_string(n) + " is too short");
  return n;
}

Result<std::vector<convert::HfTensor>> ParseSafetensorsHeader(std::string_view header,
                                                              uint64_t file_size,
                                                              const std::string& file) {
  if (!JsonNestingWithin(header))
    return DataLossError(In(file) + "header: " + JsonTooDeepMessage());
  json j;
  try {
    j = json::parse(header);
  } catch (const json::exception& e) {
    return DataLossError(In(file) + "the header is not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) return DataLossError(In(file) + "the header is not a JSON object");
  const uint64_t data_start = 8 + header.size();
  if (data_start > file_size) return DataLossError(In(file) + "the header runs past the file");
  const uint64_t data_size = file_size - data_start;

  std::vector<convert::HfTensor> out;
  out.reserve(j.size());
  for (const auto& [name, entry] : j.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) return DataLossError(In(file) + "__metadata__ is not an object");
      continue;
    }
    const std::string where = In(file) + "tensor '" + name + "'";
    if (name.empty()) return DataLossError(In(file) + "a tensor has an empty name");
    if (!entry.is_object()) return DataLossError(where + " is not an object");
    auto dtype = entry.find("dtype");
    auto shape = entry.find("shape");
    auto offsets = entry.find("data_offsets");
    if (dtype == entry.end() || !dtype->is_string())
      return DataLossError(where + " has no dtype string");
    if (shape == entry.end() || !shape->is_array())
      return DataLossError(where + " has no shape array");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2)
      return DataLossError(where + " has no data_offsets [begin, end]");

    convert::HfTensor t;
    t.name = name;
    t.file = file;
    t.dtype = dtype->get<std::string>();
    auto elem = convert::SafetensorsDTypeSize(t.dtype);
    if (!elem) return InvalidArgumentError(where + " has unknown dtype '" + t.dtype + "'");
    if (shape->size() > kMaxDims) {
      return DataLossError(where + " has " + std::to_string(shape->size()) +
                           " dimensions (at most " + std::to_string(kMaxDims) + ")");
    }
    uint64_t bytes = *elem;
    bool overflow = false;
    for (size_t i = 0; i < shape->size(); ++i) {
      LLMUX_ASSIGN_OR_RETURN(uint64_t d,
                             Unsigned((*shape)[i], where + ": shape[" + std::to_string(i) + "]"));
      if (d > static_cast<uint64_t>(INT64_MAX)) overflow = true;
      if (__builtin_mul_overflow(bytes, d, &bytes)) overflow = true;
      t.shape.push_back(static_cast<int64_t>(std::min<uint64_t>(d, INT64_MAX)));
    }
    LLMUX_ASSIGN_OR_RETURN(uint64_t begin, Unsigned((*offsets)[0], where + ": data_offsets[0]"));
    LLMUX_ASSIGN_OR_RETURN(uint64_t end, Unsigned((*offsets)[1], where + ": data_offsets[1]"));
    const std::string span =
        "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
    if (begin > end) return DataLossError(where + ": " + span + " end before they begin");
    if (end > data_size) {
      return DataLossError(where + ": " + span + " run past the data section (" +
                           std::to_string(data_size) + " bytes)");
    }
    if (overflow || bytes != end - begin) {
      return DataLossError(where + ": shape and dtype " + t.dtype + " need " +
                           (overflow ? std::string("more than 2^64") : std::to_string(bytes)) +
                           " bytes, but " + span + " hold " + std::to_string(end - begin));
    }
    t.offset = data_start + begin;
    t.nbytes = end - begin;
    out.push_back(std::move(t));
  }

  // No two tensors may share bytes.
  std::vector<Range> ranges;
  for (const auto& t : out) {
    if (t.nbytes > 0) ranges.push_back({t.offset, t.offset + t.nbytes, &t.name});
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].begin < ranges[i - 1].end) {
      return DataLossError(In(file) + "tensors '" + *ranges[i - 1].name + "' and '" +
                           *ranges[i].name + "' overlap");
    }
  }
  return out;
}

Result<std::vector<convert::HfTensor>> ParseSafetensorsBytes(std::string_view bytes,
                                                             const std::string& file) {
  if (bytes.size() < 8) return CheckSafetensorsHeaderLength(0, bytes.size(), file).status();
  const uint64_t n = LittleEndian64(reinterpret_cast<const uint8_t*>(bytes.data()));
  LLMUX_RETURN_IF_ERROR(CheckSafetensorsHeaderLength(n, bytes.size(), file).status());
  return ParseSafetensorsHeader(bytes.substr(8, n), bytes.size(), file);
}

Result<std::vector<convert::HfTensor>> ReadSafetensorsFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open '" + path + "': " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return IoError("cannot stat '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return InvalidArgumentError("'" + path + "' is not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  auto read_at = [&](void* buf, size_t n, uint64_t off) -> Status {
    size_t done = 0;
    while (done < n) {
      ssize_t r =
          ::pread(fd, static_cast<char*>(buf) + done, n - done, static_cast<off_t>(off + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0)
        return IoError("cannot read '" + path + "'" +
                       (r < 0 ? std::string(": ") + std::strerror(errno) : ": file shrank"));
      done += static_cast<size_t>(r);
    }
    return Status::Ok();
  };
  if (size < 8) return CheckSafetensorsHeaderLength(0, size, path).status();
  uint8_t prefix[8];
  LLMUX_RETURN_IF_ERROR(read_at(prefix, 8, 0));
  LLMUX_ASSIGN_OR_RETURN(uint64_t n,
                         CheckSafetensorsHeaderLength(LittleEndian64(prefix), size, path));
  std::string header(static_cast<size_t>(n), '\0');
  LLMUX_RETURN_IF_ERROR(read_at(header.data(), header.size(), 8));
  return ParseSafetensorsHeader(header, size, path);
}

}  // namespace llmux::cli
