#include "cli/hf_checkpoint_reader.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "base/json_nesting.h"
#include "cli/hf_tokenizer_json.h"
#include "cli/safetensors_header.h"

namespace llmux::cli {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr int kMaxFlattenDepth = 4;

Result<json> ParseObject(std::string_view text, const std::string& what) {
  if (!JsonNestingWithin(text)) return InvalidArgumentError(what + ": " + JsonTooDeepMessage());
  try {
    json j = json::parse(text);
    if (!j.is_object()) return InvalidArgumentError(what + " is not a JSON object");
    return j;
  } catch (const json::exception& e) {
    return InvalidArgumentError(what + " is not valid JSON (" + e.what() + ")");
  }
}

void Flatten(const json& v, const std::string& key, int depth, convert::HfConfig& out) {
  using K = convert::HfScalar::Kind;
  convert::HfScalar s;
  if (v.is_object() || v.is_array()) {
    if (depth >= kMaxFlattenDepth) return;
    if (v.is_object()) {
      for (const auto& [k, item] : v.items())
        Flatten(item, key.empty() ? k : key + "." + k, depth + 1, out);
    } else {
      for (size_t i = 0; i < v.size(); ++i)
        Flatten(v[i], key + "." + std::to_string(i), depth + 1, out);
    }
    return;
  }
  if (v.is_boolean()) {
    s.kind = K::kBool;
    s.b = v.get<bool>();
  } else if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(INT64_MAX)) {
      s.kind = K::kInt;
      s.i = static_cast<int64_t>(u);
    } else {
      s.kind = K::kFloat;
      s.f = static_cast<double>(u);
    }
  } else if (v.is_number_integer()) {
    s.kind = K::kInt;
    s.i = v.get<int64_t>();
  } else if (v.is_number_float()) {
    s.kind = K::kFloat;
    s.f = v.get<double>();
  } else if (v.is_string()) {
    s.kind = K::kString;
    s.s = v.get<std::string>();
  } else {
    return;  // null
  }
  out.values[key] = std::move(s);
}

// A shard named by the index: a plain file name in the checkpoint's directory.
Status CheckShardName(const std::string& name, const std::string& index) {
  if (name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
      name == "." || name == "..") {
    return InvalidArgumentError(index + ": weight_map names '" + name +
                                "', which is not a file name in the checkpoint's directory");
  }
  return Status::Ok();
}

Result<std::vector<std::string>> ShardFiles(const fs::path& dir,
                                            std::map<std::string, std::string>& weight_map) {
  const fs::path index = dir / "model.safetensors.index.json";
  std::error_code ec;
  if (fs::exists(index, ec)) {
    LLMUX_ASSIGN_OR_RETURN(std::string text, ReadTextFile(index.string()));
    LLMUX_ASSIGN_OR_RETURN(json j, ParseObject(text, index.string()));
    auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object())
      return InvalidArgumentError(index.string() + " has no weight_map object");
    std::set<std::string> files;
    for (const auto& [name, file] : wm->items()) {
      if (!file.is_string())
        return InvalidArgumentError(index.string() + ": weight_map['" + name +
                                    "'] is not a string");
      const std::string f = file.get<std::string>();
      LLMUX_RETURN_IF_ERROR(CheckShardName(f, index.string()));
      weight_map[name] = f;
      files.insert(f);
    }
    std::vector<std::string> out;
    for (const auto& f : files) out.push_back((dir / f).string());
    return out;
  }
  if (fs::exists(dir / "model.safetensors", ec))
    return std::vector<std::string>{(dir / "model.safetensors").string()};
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".safetensors") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Result<convert::HfConfig> ParseHfConfig(std::string_view config_json) {
  LLMUX_ASSIGN_OR_RETURN(json j, ParseObject(config_json, "config.json"));
  convert::HfConfig c;
  Flatten(j, "", 0, c);
  // A multimodal wrapper keeps the language model's settings in text_config.
  std::vector<std::pair<std::string, convert::HfScalar>> lifted;
  for (const auto& [k, v] : c.values) {
    if (k.rfind("text_config.", 0) == 0) lifted.emplace_back(k.substr(12), v);
  }
  for (auto& [k, v] : lifted) c.values[k] = std::move(v);
  return c;
}

Result<convert::HfCheckpoint> ReadHfCheckpoint(const std::string& dir_arg) {
  const fs::path dir(dir_arg);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFoundError("'" + dir_arg + "' is not a directory");
  convert::HfCheckpoint ck;
  ck.dir = dir_arg;
  const fs::path config = dir / "config.json";
  if (!fs::exists(config, ec)) return NotFoundError("no config.json in '" + dir_arg + "'");
  LLMUX_ASSIGN_OR_RETURN(std::string config_text, ReadTextFile(config.string()));
  LLMUX_ASSIGN_OR_RETURN(ck.config, ParseHfConfig(config_text));

  std::map<std::string, std::string> weight_map;
  LLMUX_ASSIGN_OR_RETURN(std::vector<std::string> files, ShardFiles(dir, weight_map));
  if (files.empty()) return NotFoundError("no .safetensors files in '" + dir_arg + "'");
  for (const auto& f : files) {
    LLMUX_ASSIGN_OR_RETURN(std::vector<convert::HfTensor> tensors, ReadSafetensorsFile(f));
    for (auto& t : tensors) ck.tensors.push_back(std::move(t));
  }
  std::unordered_map<std::string_view, const std::string*> file_of;
  for (const auto& t : ck.tensors) file_of.emplace(t.name, &t.file);
  for (const auto& [name, file] : weight_map) {
    auto it = file_of.find(name);
    if (it == file_of.end() || *it->second != (dir / file).string()) {
      return NotFoundError("tensor '" + name + "' is listed in model.safetensors.index.json for '" +
                           file + "' but is not in that file");
    }
  }

  const fs::path tj = dir / "tokenizer.json";
  if (fs::exists(tj, ec)) {
    const fs::path tc = dir / "tokenizer_config.json";
    std::string config_text = "{}";
    if (fs::exists(tc, ec)) {
      LLMUX_ASSIGN_OR_RETURN(config_text, ReadTextFile(tc.string()));
    }
    LLMUX_ASSIGN_OR_RETURN(std::string tok_text, ReadTextFile(tj.string()));
    LLMUX_ASSIGN_OR_RETURN(ck.tokenizer,
                           ParseHfTokenizer(tok_text, config_text, /*allow_byte_fallback=*/true));
  }
  return ck;
}

}  // namespace llmux::cli
