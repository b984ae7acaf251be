#include "engine/models/architectures.h"

namespace llmux {

namespace {
struct Entry {
  std::string_view arch;
  ModelLoader load;
};
constexpr Entry kArchitectures[] = {
    {"llama", &LoadLlama},
    {"qwen2", &LoadQwen2},
    {"qwen3", &LoadQwen3},
    {"qwen3moe", &LoadQwen3Moe},
    {"deepseek2", &LoadDeepSeek2},
};
}  // namespace

ModelLoader FindModelLoader(std::string_view arch) {
  for (const Entry& e : kArchitectures) {
    if (e.arch == arch) return e.load;
  }
  return nullptr;
}

std::vector<std::string> SupportedArchitectures() {
  std::vector<std::string> names;
  for (const Entry& e : kArchitectures) names.emplace_back(e.arch);
  return names;
}

}  // namespace llmux
