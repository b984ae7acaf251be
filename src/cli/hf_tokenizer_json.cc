#include "cli/hf_tokenizer_json.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/json_nesting.h"

namespace llmux::cli {

namespace {

using nlohmann::json;

}  // namespace

Result<std::string> ReadTextFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return NotFoundError(
        "cannot read '" + path +
        "': " + (std::filesystem::exists(path, ec) ? "not a regular file" : "no such file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot open '" + path + "': " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return IoError("cannot read '" + path + "'");
  return s.str();
}

namespace {

Result<json> ParseJson(std::string_view text, const std::string& what) {
  if (!JsonNestingWithin(text)) return InvalidArgumentError(what + ": " + JsonTooDeepMessage());
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return InvalidArgumentError(what + " is not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) return InvalidArgumentError(what + " is not a JSON object");
  return j;
}

Status ReadMerges(const json& merges, convert::HfTokenizer& out) {
  if (!merges.is_array())
    return InvalidArgumentError("tokenizer.json: model.merges is not an array");
  out.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    if (m.is_string()) {  // old format: "left right"
      const std::string& s = m.get_ref<const std::string&>();
      size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
        return InvalidArgumentError("tokenizer.json: model.merges[" + std::to_string(i) + "] '" +
                                    s + "' is not two parts separated by one space");
      }
      out.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() &&
               m[1].is_string()) {  // ["left", "right"]
      out.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      return InvalidArgumentError("tokenizer.json: model.merges[" + std::to_string(i) +
                                  "] is neither \"left right\" nor [\"left\", \"right\"]");
    }
  }
  return Status::Ok();
}

// Whether a SentencePiece-style tokenizer.json puts "▁" before the text: a Prepend normalizer
// (Llama 2) or a Metaspace pre-tokenizer that prepends (newer conversions). Gemma's only
// replaces spaces. Bounded: a Sequence's members are looked at, not their own members.
bool PrependsSpace(const json& j) {
  auto matches = [](const json& step) {
    if (!step.is_object()) return false;
    const std::string type = step.value("type", "");
    if (type == "Prepend") return step.value("prepend", "") == "\u2581";
    if (type == "Metaspace") {
      if (step.contains("prepend_scheme") && step["prepend_scheme"].is_string())
        return step["prepend_scheme"].get<std::string>() != "never";
      return step.value("add_prefix_space", true);
    }
    return false;
  };
  for (const char* key : {"normalizer", "pre_tokenizer"}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_object()) continue;
    if (matches(*it)) return true;
    for (const char* list : {"normalizers", "pretokenizers"}) {
      auto steps = it->find(list);
      if (steps == it->end() || !steps->is_array()) continue;
      for (const json& step : *steps) {
        if (matches(step)) return true;
      }
    }
  }
  return false;
}

Status ReadTokenizerJson(const json& j, bool allow_byte_fallback, convert::HfTokenizer& out) {
  auto model = j.find("model");
  if (model == j.end() || !model->is_object())
    return InvalidArgumentError("tokenizer.json has no model object");
  if (auto type = model->find("type"); type != model->end()) {
    if (!type->is_string())
      return InvalidArgumentError("tokenizer.json: model.type is not a string");
    out.model_type = type->get<std::string>();
  }
  if (auto fallback = model->find("byte_fallback");
      fallback != model->end() && fallback->is_boolean() && fallback->get<bool>()) {
    out.byte_fallback = true;
    if (!allow_byte_fallback)
      return InvalidArgumentError(
          "tokenizer.json: model.byte_fallback is set (SentencePiece-style BPE); "
          "only byte-level BPE is supported");
    out.add_space_prefix = PrependsSpace(j);
  }
  auto vocab = model->find("vocab");
  if (vocab == model->end() || !vocab->is_object()) {
    return InvalidArgumentError("tokenizer.json has no model.vocab object");
  }
  out.vocab.reserve(vocab->size());
  for (const auto& [text, id] : vocab->items()) {
    if (!id.is_number_integer()) {
      return InvalidArgumentError("tokenizer.json: model.vocab['" + text +
                                  "'] is not an integer id");
    }
    out.vocab.emplace_back(text, id.get<int64_t>());
  }
  if (auto merges = model->find("merges"); merges != model->end())
    LLMUX_RETURN_IF_ERROR(ReadMerges(*merges, out));

  if (auto added = j.find("added_tokens"); added != j.end() && !added->is_null()) {
    if (!added->is_array())
      return InvalidArgumentError("tokenizer.json: added_tokens is not an array");
    for (size_t i = 0; i < added->size(); ++i) {
      const json& a = (*added)[i];
      const std::string where = "tokenizer.json: added_tokens[" + std::to_string(i) + "]";
      if (!a.is_object()) return InvalidArgumentError(where + " is not an object");
      auto id = a.find("id");
      auto content = a.find("content");
      if (id == a.end() || !id->is_number_integer())
        return InvalidArgumentError(where + " has no integer id");
      if (content == a.end() || !content->is_string())
        return InvalidArgumentError(where + " has no content string");
      auto special = a.find("special");
      if (special != a.end() && !special->is_boolean())
        return InvalidArgumentError(where + ".special is not a bool");
      out.added_tokens.push_back({id->get<int64_t>(), content->get<std::string>(),
                                  special != a.end() && special->get<bool>()});
    }
  }
  return Status::Ok();
}

// A special token entry: a string, {"content": "..."} (AddedToken form), or null / absent.
Result<std::optional<std::string>> ReadTokenName(const json& config, const std::string& key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::optional<std::string>();
  if (it->is_string()) return std::optional<std::string>(it->get<std::string>());
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string())
      return std::optional<std::string>(content->get<std::string>());
  }
  return InvalidArgumentError("tokenizer_config.json: " + key +
                              " is neither a string nor {\"content\": ...}");
}

Result<std::optional<bool>> ReadBool(const json& config, const std::string& key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean())
    return InvalidArgumentError("tokenizer_config.json: " + key + " is not a bool");
  return std::optional<bool>(it->get<bool>());
}

Status ReadChatTemplates(const json& config, convert::HfTokenizer& out) {
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return Status::Ok();
  if (it->is_string()) {
    out.chat_templates.emplace_back("default", it->get<std::string>());
    return Status::Ok();
  }
  if (it->is_array()) {  // [{"name": "default", "template": "..."}, {"name": "tool_use", ...}]
    for (const json& t : *it) {
      if (!t.is_object() || !t.contains("name") || !t.contains("template") ||
          !t["name"].is_string() || !t["template"].is_string()) {
        return InvalidArgumentError(
            "tokenizer_config.json: chat_template entries need string name and template");
      }
      out.chat_templates.emplace_back(t["name"].get<std::string>(),
                                      t["template"].get<std::string>());
    }
    return Status::Ok();
  }
  return InvalidArgumentError(
      "tokenizer_config.json: chat_template is neither a string nor a list");
}

Status ReadTokenizerConfig(const json& c, convert::HfTokenizer& out) {
  LLMUX_ASSIGN_OR_RETURN(out.bos_token, ReadTokenName(c, "bos_token"));
  LLMUX_ASSIGN_OR_RETURN(out.eos_token, ReadTokenName(c, "eos_token"));
  LLMUX_ASSIGN_OR_RETURN(out.unk_token, ReadTokenName(c, "unk_token"));
  LLMUX_ASSIGN_OR_RETURN(out.pad_token, ReadTokenName(c, "pad_token"));
  LLMUX_ASSIGN_OR_RETURN(out.add_bos_token, ReadBool(c, "add_bos_token"));
  LLMUX_ASSIGN_OR_RETURN(out.add_eos_token, ReadBool(c, "add_eos_token"));
  if (auto cls = c.find("tokenizer_class"); cls != c.end() && cls->is_string()) {
    out.tokenizer_class = cls->get<std::string>();
  }
  return ReadChatTemplates(c, out);
}

// The TemplateProcessing post-processor of tokenizer.json (on its own or inside a Sequence), or
// nullptr: it says which special tokens Hugging Face adds around a single text.
const json* TemplateProcessor(const json& tokenizer_json) {
  auto pp = tokenizer_json.find("post_processor");
  if (pp == tokenizer_json.end() || !pp->is_object()) return nullptr;
  if (pp->value("type", "") == "TemplateProcessing") return &*pp;
  if (pp->value("type", "") != "Sequence") return nullptr;
  auto processors = pp->find("processors");
  if (processors == pp->end() || !processors->is_array()) return nullptr;
  for (const json& p : *processors) {
    if (p.is_object() && p.value("type", "") == "TemplateProcessing") return &p;
  }
  return nullptr;
}

// Whether the template for a single text starts (first) or ends (!first) with `token`.
bool TemplateHasSpecialToken(const json& processor, const std::string& token, bool first) {
  auto single = processor.find("single");
  if (single == processor.end() || !single->is_array() || single->empty()) return false;
  const json& piece = first ? single->front() : single->back();
  if (!piece.is_object() || !piece.contains("SpecialToken")) return false;
  const json& special = piece["SpecialToken"];
  return special.is_object() && special.value("id", "") == token;
}

// tokenizer_config.json may leave add_bos_token / add_eos_token out (Llama 3.1): then the
// post-processor decides, as in transformers and llama.cpp's converter.
void AddSpecialTokensFromPostProcessor(const json& tokenizer_json, convert::HfTokenizer& out) {
  const json* processor = TemplateProcessor(tokenizer_json);
  if (processor == nullptr) return;
  if (!out.add_bos_token && out.bos_token &&
      TemplateHasSpecialToken(*processor, *out.bos_token, /*first=*/true)) {
    out.add_bos_token = true;
  }
  if (!out.add_eos_token && out.eos_token &&
      TemplateHasSpecialToken(*processor, *out.eos_token, /*first=*/false)) {
    out.add_eos_token = true;
  }
}

}  // namespace

Result<convert::HfTokenizer> ParseHfTokenizer(std::string_view tokenizer_json,
                                              std::string_view tokenizer_config,
                                              bool allow_byte_fallback) {
  LLMUX_ASSIGN_OR_RETURN(json tj, ParseJson(tokenizer_json, "tokenizer.json"));
  LLMUX_ASSIGN_OR_RETURN(json cj, ParseJson(tokenizer_config, "tokenizer_config.json"));
  convert::HfTokenizer out;
  try {  // the readers check types first; this only guards against a missed case
    LLMUX_RETURN_IF_ERROR(ReadTokenizerJson(tj, allow_byte_fallback, out));
    LLMUX_RETURN_IF_ERROR(ReadTokenizerConfig(cj, out));
    AddSpecialTokensFromPostProcessor(tj, out);
  } catch (const json::exception& e) {
    return InvalidArgumentError(std::string("unexpected tokenizer JSON content (") + e.what() +
                                ")");
  }
  return out;
}

Result<convert::HfTokenizer> ReadHfTokenizer(const std::string& tokenizer_json_path,
                                             const std::string& tokenizer_config_path,
                                             bool allow_byte_fallback) {
  LLMUX_ASSIGN_OR_RETURN(std::string tj, ReadTextFile(tokenizer_json_path));
  LLMUX_ASSIGN_OR_RETURN(std::string cj, ReadTextFile(tokenizer_config_path));
  return ParseHfTokenizer(tj, cj, allow_byte_fallback);
}

}  // namespace llmux::cli
