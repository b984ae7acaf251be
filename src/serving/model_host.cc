#include "serving/model_host.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <thread>

#include "chat/chat_template.h"
#include "engine/tensor/dtype.h"
#include "serving/prompt_builder.h"

namespace llmux::serving {

namespace {

// The weight type that holds the most bytes, as llama.cpp names it ("Q8_0", "Q4_K", ...).
std::string DominantWeightType(const gguf::GgufFile& file) {
  std::map<std::string, uint64_t> bytes;
  for (const gguf::TensorInfo& t : file.tensors()) {
    if (t.ne.size() < 2) continue;  // norms and biases say nothing about quantization
    bytes[std::string(Traits(t.type).name)] += t.nbytes;
  }
  std::string best;
  uint64_t most = 0;
  for (const auto& [name, n] : bytes) {
    if (n > most) {
      most = n;
      best = name;
    }
  }
  std::transform(best.begin(), best.end(), best.begin(), [](unsigned char c) { return std::toupper(c); });
  return best;
}

}  // namespace

std::string DefaultModelName(const gguf::GgufFile& file, const std::string& path) {
  std::string name = file.GetString("general.name").value_or("");
  if (name.empty()) name = std::filesystem::path(path).stem().string();
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-') {
      out += static_cast<char>(std::tolower(c));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "model" : out;
}

ModelHost::~ModelHost() = default;

Result<std::unique_ptr<ModelHost>> ModelHost::Load(const ModelSpec& spec,
                                                   const ModelHostOptions& options) {
  std::unique_ptr<ModelHost> host(new ModelHost());
  LLMUX_ASSIGN_OR_RETURN(std::unique_ptr<gguf::GgufFile> file, gguf::GgufFile::Open(spec.path));
  host->file_ = std::move(file);
  const gguf::GgufFile& f = *host->file_;
  LLMUX_ASSIGN_OR_RETURN(host->tokenizer_, Tokenizer::FromGguf(f));
  const int n_threads = options.n_threads > 0
                            ? options.n_threads
                            : std::max(1u, std::thread::hardware_concurrency());
  LLMUX_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, Model::Load(host->file_, n_threads));
  const std::string arch = model->config().arch;
  LLMUX_ASSIGN_OR_RETURN(host->chat_template_,
                         ChatTemplateFromGguf(f, arch, *host->tokenizer_, spec.chat_template));

  host->constraint_vocab_ = ConstraintVocab::Build(*host->tokenizer_);
  host->info_.id = spec.name.empty() ? DefaultModelName(f, spec.path) : spec.name;
  host->info_.architecture = arch;
  host->info_.quantization = DominantWeightType(f);
  for (const gguf::TensorInfo& t : f.tensors()) {
    host->info_.size_bytes += static_cast<int64_t>(t.nbytes);
    host->info_.parameter_count += t.n_elements();
  }
  host->info_.created = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  host->waiting_shares_ = CallerShares(static_cast<size_t>(std::max(0, options.max_waiting_per_caller)));
  host->engine_ = std::make_unique<Engine>(std::move(model), *host->tokenizer_, options.engine);
  LLMUX_RETURN_IF_ERROR(host->engine_->init_status());
  host->info_.context_length = host->engine_->n_ctx();
  host->info_.ready = true;
  return host;
}

}  // namespace llmux::serving
