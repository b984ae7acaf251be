// `llmux tokenize --model F.gguf "text"`: prints the token ids of a text.
// `--json-lines`: reads one JSON string per line from stdin and prints one JSON array of ids
// per line (for tests that compare many texts with another tokenizer).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "base/json_nesting.h"
#include "cli/cli_util.h"
#include "cli/command.h"
#include "engine/gguf/gguf_reader.h"
#include "engine/tokenizer/tokenizer.h"

namespace llmux::cli {

Command AddTokenizeCommand(CLI::App& app) {
  auto* sub = app.add_subcommand("tokenize", "print the token ids of a text");
  struct Opts {
    std::string model, text;
    bool no_special = false, no_parse_special = false, pieces = false, json_lines = false;
  };
  auto opts = std::make_shared<Opts>();
  sub->add_option("-m,--model", opts->model, "GGUF file with a vocabulary")->required();
  auto* text = sub->add_option("text", opts->text, "text to tokenize");
  sub->add_flag("--json-lines", opts->json_lines,
                "read one JSON string per line from stdin, print one JSON array of ids per line")
      ->excludes(text);
  sub->add_flag("--no-bos", opts->no_special, "do not add BOS/EOS even if the vocabulary asks for it");
  sub->add_flag("--no-parse-special", opts->no_parse_special,
                "treat special-token text such as <|im_start|> as plain text");
  sub->add_flag("--show-pieces", opts->pieces, "print one 'id <tab> piece' line per token");
  return {sub, [opts, text] {
            if (!opts->json_lines && text->count() == 0) {
              return ReportError(InvalidArgumentError("give a text or --json-lines"));
            }
            auto file = gguf::GgufFile::Open(opts->model);
            if (!file.ok()) return ReportError(file.status());
            auto tok = Tokenizer::FromGguf(**file);
            if (!tok.ok()) return ReportError(tok.status());
            if (opts->json_lines) {
              std::string line;
              // Lines are capped: this reads test input, not requests, but stays bounded.
              constexpr size_t kMaxLine = size_t{1} << 24;
              while (std::getline(std::cin, line)) {
                if (line.size() > kMaxLine || !JsonNestingWithin(line)) {
                  return ReportError(InvalidArgumentError("a line is too long or too deep"));
                }
                const auto value = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
                if (!value.is_string()) {
                  return ReportError(InvalidArgumentError("a line is not one JSON string"));
                }
                const auto ids = (*tok)->Encode(value.get<std::string>(), !opts->no_special,
                                                !opts->no_parse_special);
                std::printf("%s\n", nlohmann::json(ids).dump().c_str());
              }
              return 0;
            }
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
