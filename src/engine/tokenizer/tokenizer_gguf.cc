// Tokenizer::FromGguf: the tokenizer.ggml.* keys -> VocabData.
#include "engine/gguf/gguf_reader.h"
#include "engine/tokenizer/tokenizer.h"

namespace llmux {
namespace {

Result<std::vector<std::string>> StringArray(const gguf::GgufFile& file, std::string_view key) {
  const gguf::ValueArray* array = file.FindArray(key);
  if (array == nullptr) return NotFoundError("missing " + std::string(key));
  const auto* strings = array->as<std::string>();
  if (strings == nullptr)
    return InvalidArgumentError(std::string(key) + " is not an array of strings");
  return *strings;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const gguf::GgufFile& file) {
  tokenizer::VocabData data;
  auto model = file.GetString("tokenizer.ggml.model");
  if (!model) return NotFoundError("missing tokenizer.ggml.model");
  data.model = *model;
  data.pre = file.GetString("tokenizer.ggml.pre").value_or("");
  LLMUX_ASSIGN_OR_RETURN(data.tokens, StringArray(file, "tokenizer.ggml.tokens"));

  if (file.Find("tokenizer.ggml.scores") != nullptr) {
    LLMUX_ASSIGN_OR_RETURN(data.scores, file.GetFloatArray("tokenizer.ggml.scores"));
    if (data.scores.size() < data.tokens.size())
      return DataLossError("tokenizer.ggml.scores is shorter than the token list");
  }
  if (file.Find("tokenizer.ggml.token_type") != nullptr) {
    LLMUX_ASSIGN_OR_RETURN(std::vector<int64_t> types,
                           file.GetIntArray("tokenizer.ggml.token_type"));
    if (types.size() < data.tokens.size())
      return DataLossError("tokenizer.ggml.token_type is shorter than the token list");
    data.token_types.reserve(types.size());
    for (int64_t t : types)
      data.token_types.push_back(t >= 0 && t <= 6 ? static_cast<int32_t>(t) : 0);
  }
  if (data.model == "gpt2") {
    LLMUX_ASSIGN_OR_RETURN(data.merges, StringArray(file, "tokenizer.ggml.merges"));
  }

  const std::pair<const char*, std::optional<int64_t>*> ids[] = {
      {"tokenizer.ggml.bos_token_id", &data.bos_id},
      {"tokenizer.ggml.eos_token_id", &data.eos_id},
      {"tokenizer.ggml.eot_token_id", &data.eot_id},
      {"tokenizer.ggml.eom_token_id", &data.eom_id},
      {"tokenizer.ggml.unknown_token_id", &data.unk_id},
      {"tokenizer.ggml.seperator_token_id", &data.sep_id},  // sic: the GGUF key is misspelt
      {"tokenizer.ggml.padding_token_id", &data.pad_id},
      {"tokenizer.ggml.mask_token_id", &data.mask_id},
      {"tokenizer.ggml.fim_pre_token_id", &data.fim_pre_id},
      {"tokenizer.ggml.fim_suf_token_id", &data.fim_suf_id},
      {"tokenizer.ggml.fim_mid_token_id", &data.fim_mid_id},
      {"tokenizer.ggml.fim_pad_token_id", &data.fim_pad_id},
      {"tokenizer.ggml.fim_rep_token_id", &data.fim_rep_id},
      {"tokenizer.ggml.fim_sep_token_id", &data.fim_sep_id},
      // Older names of the FIM keys; llama.cpp reads them after the new ones.
      {"tokenizer.ggml.prefix_token_id", &data.fim_pre_id},
      {"tokenizer.ggml.suffix_token_id", &data.fim_suf_id},
      {"tokenizer.ggml.middle_token_id", &data.fim_mid_id},
  };
  for (const auto& [key, slot] : ids) {
    if (auto v = file.GetInt(key)) *slot = *v;
  }
  data.add_bos = file.GetBool("tokenizer.ggml.add_bos_token");
  data.add_eos = file.GetBool("tokenizer.ggml.add_eos_token");
  data.add_space_prefix = file.GetBool("tokenizer.ggml.add_space_prefix");

  auto result = FromVocab(std::move(data));
  if (!result.ok()) return result.status().WithContext("loading tokenizer");
  return result;
}

}  // namespace llmux
