#include "json_mutator.h"

#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "base/json_nesting.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace llmux::fuzz {
namespace {

using Json = nlohmann::ordered_json;

// Every value of `root` (itself included), parents before children.
std::vector<Json*> Values(Json& root) {
  std::vector<Json*> all{&root};
  for (size_t i = 0; i < all.size(); ++i) {
    Json& v = *all[i];
    if (!v.is_structured()) continue;
    for (auto& child : v) all.push_back(&child);
  }
  return all;
}

// A value of some other type (or of an edge of its own).
Json OtherValue(std::minstd_rand& rng) {
  switch (rng() % 12) {
    case 0:
      return nullptr;
    case 1:
      return true;
    case 2:
      return 0;
    case 3:
      return -1;
    case 4:
      return 1.5;
    case 5:
      return std::numeric_limits<uint64_t>::max();
    case 6:
      return std::numeric_limits<int64_t>::min();
    case 7:
      return 1e300;
    case 8:
      return "";
    case 9:
      return "x";
    case 10:
      return Json::array();
    default:
      return Json::object();
  }
}

// Mutates the document in place; false when it has nothing to mutate.
bool MutateDocument(Json& doc, std::minstd_rand& rng) {
  std::vector<Json*> values = Values(doc);
  Json* target = values[rng() % values.size()];
  switch (rng() % 4) {
    case 0:
    case 1:
      *target = OtherValue(rng);
      return true;
    case 2:
      *target = Json(*values[rng() % values.size()]);  // a copy: the source may be inside it
      return true;
    default: {
      // Drop a member or an element of a container.
      if (!target->is_structured() || target->empty()) return false;
      const size_t k = rng() % target->size();
      if (target->is_object()) {
        target->erase(std::next(target->begin(), static_cast<std::ptrdiff_t>(k)).key());
      } else {
        target->erase(k);
      }
      return true;
    }
  }
}

// The documents of the input: [begin, end) of each line, or of the text before a NUL.
std::vector<std::pair<size_t, size_t>> Segments(std::string_view in) {
  std::vector<std::pair<size_t, size_t>> out;
  const size_t nul = in.find('\0');
  if (nul != std::string_view::npos) return {{0, nul}};
  size_t start = 0;
  while (start <= in.size()) {
    size_t end = in.find('\n', start);
    if (end == std::string_view::npos) end = in.size();
    if (end > start) out.emplace_back(start, end);
    start = end + 1;
  }
  return out;
}

}  // namespace

size_t MutateJsonInput(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  std::minstd_rand rng(seed);
  if (rng() % 2 == 0) return LLVMFuzzerMutate(data, size, max_size);
  const std::string in(reinterpret_cast<const char*>(data), size);
  const auto segments = Segments(in);
  if (segments.empty()) return LLVMFuzzerMutate(data, size, max_size);
  const auto [begin, end] = segments[rng() % segments.size()];
  for (size_t prefix = 0; prefix <= 2 && begin + prefix < end; ++prefix) {
    const std::string_view text(in.data() + begin + prefix, end - begin - prefix);
    if (!JsonNestingWithin(text)) break;
    Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) continue;
    if (!MutateDocument(doc, rng)) break;
    const std::string mutated = doc.dump();
    if (!JsonNestingWithin(mutated)) break;  // copies of containers deepen the document
    const std::string out = in.substr(0, begin + prefix) + mutated + in.substr(end);
    if (out.size() > max_size) break;
    std::memcpy(data, out.data(), out.size());
    return out.size();
  }
  return LLVMFuzzerMutate(data, size, max_size);
}

}  // namespace llmux::fuzz
