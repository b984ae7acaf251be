// `llmux model create ...`: writes a random-weight model of any shape with a real vocabulary.
// `llmux model import ...` lives in cmd_import_checkpoint.cc, `llmux model import-tokenizer ...`
// in cmd_import_tokenizer.cc, `llmux model deploy ...` in cmd_deploy.cc, `llmux model pull ...`
// in cmd_model_pull.cc, the registry commands (list, show, register, tag, rm, params, history,
// rollback) in cmd_registry.cc.
#include <cstdio>

#include "cli/cli_util.h"
#include "cli/cmd_deploy.h"
#include "cli/cmd_import_checkpoint.h"
#include "cli/cmd_import_tokenizer.h"
#include "cli/cmd_model_pull.h"
#include "cli/cmd_registry.h"
#include "cli/command.h"
#include "engine/convert/random_model.h"
#include "engine/convert/tensor_types.h"

namespace llmux::cli {

Command AddModelCommand(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "model",
      "model files: create, import, import-tokenizer, pull; the registry: list, show, register, "
      "tag, rm, params, history, rollback; rollouts: deploy");
  sub->require_subcommand(1);
  auto* create =
      sub->add_subcommand("create", "write a random-weight model (for tests and benchmarks)");
  struct Opts {
    convert::RandomModelSpec spec;
    std::string type = "f32", out;
    bool untied = false;
    std::string pooling;
  };
  auto opts = std::make_shared<Opts>();
  auto& s = opts->spec;
  create->add_option("--arch", s.arch, "qwen3, qwen2, llama, qwen3moe or deepseek2")->capture_default_str();
  create->add_option("--hidden", s.hidden, "embedding width")->required();
  create->add_option("--layers", s.layers, "transformer blocks")->required();
  create->add_option("--heads", s.heads, "attention heads")->required();
  create->add_option("--kv-heads", s.kv_heads, "key/value heads (GQA)")->required();
  create->add_option("--head-dim", s.head_dim, "per-head width (default hidden / heads)");
  create->add_option("--ffn", s.ffn, "feed-forward width")->required();
  create->add_option("--type", opts->type, "f32, f16, bf16, q8_0, q4_0 or q4_k_m")
      ->capture_default_str();
  create->add_option("--vocab-from", s.vocab_path, "GGUF whose tokenizer is copied")->required();
  create->add_option("--seed", s.seed, "random seed")->capture_default_str();
  create->add_option("--ctx", s.context_length,
                     "context_length metadata (default: the arch's usual)");
  create->add_option("--name", s.name,
                     "general.name (default: '<arch> random-weight model (seed N)')");
  create->add_flag("--untied", opts->untied, "write a separate output.weight");
  create->add_option("--experts", s.experts, "experts per MoE layer (qwen3moe, deepseek2)");
  create->add_option("--experts-used", s.experts_used, "experts a token goes to");
  create->add_option("--expert-ffn", s.expert_ffn, "feed-forward width of one expert");
  create->add_option("--shared-experts", s.shared_experts, "shared experts (deepseek2)");
  create->add_option("--expert-groups", s.expert_groups, "expert groups (deepseek2)");
  create->add_option("--expert-groups-used", s.expert_groups_used, "groups a token's experts come from");
  create->add_option("--dense-layers", s.dense_layers, "leading layers with a dense FFN (deepseek2)");
  create->add_option("--q-lora", s.q_lora, "query LoRA rank (deepseek2; 0 = none)");
  create->add_option("--kv-lora", s.kv_lora, "compressed KV width (deepseek2)");
  create->add_option("--qk-nope", s.qk_nope, "per-head query/key dims without RoPE (deepseek2)");
  create->add_option("--qk-rope", s.qk_rope, "per-head RoPE dims (deepseek2)");
  create->add_option("--v-head", s.v_head, "per-head value width (deepseek2)");
  create->add_option("--pooling", opts->pooling, "embedding pooling metadata: mean or last")
      ->check(CLI::IsMember({"mean", "last"}));
  create->add_option("--out", opts->out, "output file")->required();
  auto run_create = [opts] {
    auto target = convert::ParseQuantizeTarget(opts->type);
    if (!target) return ReportError(InvalidArgumentError("unknown --type '" + opts->type + "'"));
    opts->spec.type = *target;
    opts->spec.tied = !opts->untied;
    if (!opts->pooling.empty()) opts->spec.pooling_type = opts->pooling == "mean" ? 1 : 3;
    Status st = convert::CreateRandomModel(opts->spec, opts->out);
    if (!st.ok()) return ReportError(st);
    std::printf("wrote %s\n", opts->out.c_str());
    return 0;
  };
  Command import_checkpoint = AddImportCheckpointCommand(*sub);
  Command import_tokenizer = AddImportTokenizerCommand(*sub);
  Command deploy = AddDeployCommand(*sub);
  std::vector<Command> registry = AddRegistryCommands(*sub);
  Command pull = AddModelPullCommand(*sub);
  return {sub, [create, run_create, import_checkpoint, import_tokenizer, deploy, registry, pull] {
            if (deploy.parser->parsed()) return deploy.run();
            if (pull.parser->parsed()) return pull.run();
            for (const Command& c : registry) {
              if (c.parser->parsed()) return c.run();
            }
            if (import_checkpoint.parser->parsed()) return import_checkpoint.run();
            return create->parsed() ? run_create() : import_tokenizer.run();
          }};
}

}  // namespace llmux::cli
