// The model registry's records: models, their immutable versions (files named by their sha256
// digest), tags that point a name at a version (`qwen3:latest`), each model's default
// parameters, and the history of every change. Plain data and the rules every record follows;
// no storage, no edge's JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace llmux::registry {

// What a request to the model gets when it leaves a value out, and how the model is to be
// served. Unset fields have no default of the registry's.
struct ModelParameters {
  std::optional<int64_t> context_length;     // tokens, 1..16M
  std::optional<std::string> kv_type;        // KV cache element type: f32, f16 or q8_0
  std::optional<int64_t> kv_budget_mb;       // KV cache memory, MiB, 1..16M
  std::optional<double> temperature;         // 0..2
  std::optional<double> top_p;               // (0, 1]
  std::optional<int64_t> top_k;              // 0 (off)..1M
  std::optional<double> min_p;               // 0..1
  std::optional<int64_t> max_tokens;         // 1..1M
  std::optional<int64_t> seed;               // 0..2^32-1
  std::optional<std::string> system_prompt;  // at most 64 KiB; used when a chat has none
  std::optional<std::string> chat_template;  // Jinja, at most 256 KiB (stored, for the loader)
  std::optional<int64_t> max_running;        // concurrent requests, 1..4096
  bool operator==(const ModelParameters&) const = default;
};

struct Version {
  std::string model;
  std::string digest;  // "sha256:" + 64 lowercase hex digits of the file
  std::string path;    // absolute path of the file when it was registered
  int64_t size_bytes = 0;
  std::string format;        // "gguf"
  std::string architecture;  // general.architecture ("" if the file has none)
  int64_t created_at = 0;    // unix seconds
  std::string created_by;    // who registered it (display name)
  bool operator==(const Version&) const = default;
};

struct Tag {
  std::string model;
  std::string name;    // "latest"
  std::string digest;  // the version it points at
  int64_t updated_at = 0;
  std::string updated_by;
};

struct Model {
  std::string name;
  ModelParameters parameters;
  int64_t created_at = 0;
  int64_t updated_at = 0;  // last change of any kind
};

// Change kinds. Parameter changes and tag changes can be rolled back.
inline constexpr std::string_view kVersionRegister = "version.register";
inline constexpr std::string_view kVersionRemove = "version.remove";
inline constexpr std::string_view kTagSet = "tag.set";
inline constexpr std::string_view kTagRemove = "tag.remove";
inline constexpr std::string_view kParametersSet = "parameters.set";
inline constexpr std::string_view kModelRemove = "model.remove";

// One recorded change: who, when, what it was before and after, as JSON text ("null" for
// nothing: a new tag has no before, a removed one no after).
struct Change {
  int64_t id = 0;          // assigned by the store, increasing
  int64_t time_ms = 0;     // unix milliseconds
  std::string actor;       // stable id: "user:3", "key:7", "cli:root"
  std::string actor_name;  // display name
  std::string model;
  std::string kind;    // one of the kinds above
  std::string target;  // tag name (tag.*), digest (version.*), "" otherwise
  std::string before = "null";
  std::string after = "null";
  int64_t rollback_of = 0;  // the change this one undid, 0 if none
};

// Newest first: changes with id < before_id (0 = from the newest), of `model` ("" = all).
struct ChangeQuery {
  std::string model;
  int64_t before_id = 0;
  int limit = 50;  // 1..1000
};

struct ChangeList {
  std::vector<Change> items;
  bool has_more = false;
  int64_t next_cursor = 0;  // when has_more: the next query's before_id
};

// A reference to a model as requests and commands write it: "name" or "name:tag"; a name
// without a tag means "latest", as Ollama has it.
struct ModelRef {
  std::string name;
  std::string tag;
};

inline constexpr std::string_view kDefaultTag = "latest";

// kInvalidArgument (field "name") unless 1-128 characters of [A-Za-z0-9._-/], starting with a
// letter or digit, without "//" or "..".
Status ValidateModelName(std::string_view name);
// kInvalidArgument (field "tag") unless 1-64 characters of [A-Za-z0-9._-], starting with a
// letter, digit or '_'.
Status ValidateTagName(std::string_view tag);
// kInvalidArgument (field "digest") unless "sha256:" and 64 lowercase hex digits.
Status ValidateDigest(std::string_view digest);
// kInvalidArgument (with the field) for values outside the ranges above.
Status ValidateParameters(const ModelParameters& parameters);
// "qwen3" -> {qwen3, latest}; "qwen3:q8" -> {qwen3, q8}; both parts validated.
Result<ModelRef> ParseModelRef(std::string_view ref);

}  // namespace llmux::registry
