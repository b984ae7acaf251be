// `llmux tokenize --model F.gguf "text"`: prints the token ids of a text.
#include <cstdio>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "engine/gguf/gguf_reader.h"
#include "engine/tokenizer/tokenizer.h"

namespace llmux::cli {

Command AddTokenizeCommand(CLI::App& app) {
  auto* sub = app.add_subcommand("tokenize", "print the token ids of a text");
  struct Opts {
    std::string model, text;
    bool no_special = false, no_parse_special = false, pieces = false;
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("-m,--model", opts->model, "GGUF file with a vocabulary")->required();
  sub->add_option("text", opts->text, "text to tokenize")->required();
  sub->add_flag("--no-bos", opts->no_special, "do not add BOS/EOS even if the vocabulary asks for it");
  sub->add_flag("--no-parse-special", opts->no_parse_special,
                "treat special-token text such as <|im_start|> as plain text");
  sub->add_flag("--show-pieces", opts->pieces, "print one 'id <tab> piece' line per token");
  return {sub, [opts] {
            auto file = gguf::GgufFile::Open(opts->model);
            if (!file.ok()) return ReportError(file.status());
            auto tok = Tokenizer::FromGguf(**file);
            if (!tok.ok()) return ReportError(tok.status());
            auto ids = (*tok)->Encode(opts->text, !opts->no_special, !opts->no_parse_special);
            if (opts->pieces) {
              for (int32_t id : ids) {
                std::printf("%d\t%s\n", id, std::string((*tok)->TokenText(id)).c_str());
              }
              return 0;
            }
            std::string line = "[";
            for (size_t i = 0; i < ids.size(); ++i) {
              line += (i ? ", " : "") + std::to_string(ids[i]);
            }
            std::printf("%s]\n", line.c_str());
            return 0;
          }};
}

}  // namespace llmux::cli
