// `llmux model import-tokenizer --tokenizer-json T.json --tokenizer-config C.json --out V.gguf`:
// writes a vocabulary-only GGUF from a Hugging Face BPE tokenizer (byte-level, or
// SentencePiece-style with byte_fallback such as Gemma 3 and Llama 2), for `llmux model create
// --vocab-from V.gguf`.
#include "cli/cmd_import_tokenizer.h"

#include <cstdio>

#include "cli/cli_util.h"
#include "cli/hf_tokenizer_json.h"
#include "engine/convert/tokenizer_import.h"

namespace llmux::cli {

Command AddImportTokenizerCommand(CLI::App& model) {
  auto* sub = model.add_subcommand(
      "import-tokenizer",
      "write a vocabulary-only GGUF from tokenizer.json + tokenizer_config.json");
  struct Opts {
    std::string tokenizer_json, tokenizer_config, out;
    convert::TokenizerImportOptions import;
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("--tokenizer-json", opts->tokenizer_json, "Hugging Face tokenizer.json")
      ->required();
  sub->add_option("--tokenizer-config", opts->tokenizer_config,
                  "Hugging Face tokenizer_config.json")
      ->required();
  sub->add_option("--out", opts->out, "output GGUF (tokenizer keys only, no tensors)")->required();
  sub->add_option("--pre", opts->import.pre,
                  "tokenizer.ggml.pre: the pre-tokenizer (qwen2, llama-bpe, ...)")
      ->capture_default_str();
  sub->add_option("--vocab-size", opts->import.vocab_size,
                  "pad the token list with [PAD<id>] entries up to N (default: the highest id + 1, "
                  "151936 for Qwen2Tokenizer vocabularies)");
  sub->add_option("--name", opts->import.name, "general.name of the output file");
  return {
      sub, [opts] {
        auto tok = ReadHfTokenizer(opts->tokenizer_json, opts->tokenizer_config,
                                   /*allow_byte_fallback=*/true);
        if (!tok.ok()) return ReportError(tok.status());
        auto summary = convert::ImportTokenizer(*tok, opts->import, opts->out);
        if (!summary.ok()) return ReportError(summary.status());
        std::printf(
            "wrote %s: %lld tokens (%lld control, %lld user-defined, %lld padding), %lld merges\n",
            opts->out.c_str(), static_cast<long long>(summary->n_tokens),
            static_cast<long long>(summary->n_control),
            static_cast<long long>(summary->n_user_defined),
            static_cast<long long>(summary->n_padding), static_cast<long long>(summary->n_merges));
        return 0;
      }};
}

}  // namespace llmux::cli
