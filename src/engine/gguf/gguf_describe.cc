#include "engine/gguf/gguf_describe.h"

#include <cstdio>

namespace llmux::gguf {

namespace {

constexpr size_t kShortArray = 8;
constexpr size_t kShortString = 120;

std::string QuoteString(std::string_view s, size_t max_bytes) {
  std::string out = "\"";
  size_t n = (max_bytes == 0 || s.size() <= max_bytes) ? s.size() : max_bytes;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through
        }
    }
  }
  out += "\"";
  if (n < s.size()) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

std::string FormatNumber(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

std::string FormatScalar(const Value& v) {
  switch (v.type()) {
    case ValueType::kFloat32:
    case ValueType::kFloat64: return FormatNumber(*v.AsFloat());
    case ValueType::kBool: return *v.AsBool() ? "true" : "false";
    case ValueType::kUint64: return std::to_string(*v.AsUint());
    default:
      if (auto i = v.AsInt()) return std::to_string(*i);
      return "?";
  }
}

std::string FormatArray(const ValueArray& a, size_t max_elements, size_t max_string_bytes) {
  size_t n = a.size();
  size_t shown = (max_elements == 0 || n <= max_elements) ? n : max_elements;
  std::string out = "[";
  for (size_t i = 0; i < shown; ++i) {
    if (i > 0) out += ", ";
    out += FormatValue(a.At(i), max_elements, max_string_bytes);
  }
  if (shown < n) out += ", ... (" + std::to_string(n) + " total)";
  return out + "]";
}

std::string Shape(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(ne[i]);
  }
  return s + "]";
}

}  // namespace

std::string FormatValue(const Value& value, size_t max_elements, size_t max_string_bytes) {
  if (value.is_string()) return QuoteString(*value.AsString(), max_string_bytes);
  if (value.is_array()) return FormatArray(*value.AsArray(), max_elements, max_string_bytes);
  return FormatScalar(value);
}

std::string DescribeType(const Value& value) {
  const ValueArray* a = value.AsArray();
  if (a == nullptr) return ValueTypeName(value.type());
  return std::string("arr[") + ValueTypeName(a->element_type()) + "," + std::to_string(a->size()) +
         "]";
}

std::string DescribeGguf(const GgufFile& file, bool full_arrays) {
  const size_t max_elements = full_arrays ? 0 : kShortArray;
  const size_t max_string = full_arrays ? 0 : kShortString;
  std::string out;
  out += "GGUF version " + std::to_string(file.version()) + ", alignment " +
         std::to_string(file.alignment()) + ", data offset " + std::to_string(file.data_offset()) +
         ", file size " + std::to_string(file.file_size()) + "\n";
  out += "metadata: " + std::to_string(file.metadata().size()) + " keys\n";
  for (const auto& e : file.metadata()) {
    out += "  " + e.key + " : " + DescribeType(e.value) + " = " +
           FormatValue(e.value, max_elements, max_string) + "\n";
  }
  uint64_t total = 0;
  for (const auto& t : file.tensors()) total += t.nbytes;
  out += "tensors: " + std::to_string(file.tensors().size()) + " (" + std::to_string(total) +
         " bytes)\n";
  for (const auto& t : file.tensors()) {
    out += "  " + t.name + " : " + std::string(Traits(t.type).name) + " " + Shape(t.ne) +
           " offset " + std::to_string(t.offset) + " bytes " + std::to_string(t.nbytes) + "\n";
  }
  return out;
}

}  // namespace llmux::gguf
