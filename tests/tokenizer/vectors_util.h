// Helpers shared by the tokenizer vector tests.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/test_paths.h"

namespace llmux::testing {

inline nlohmann::json LoadJson(const std::string& rel) {
  std::ifstream in(SharedPath(rel));
  EXPECT_TRUE(in.good()) << "cannot open " << SharedPath(rel);
  return nlohmann::json::parse(in);
}

inline std::unique_ptr<Tokenizer> LoadTokenizer(const std::string& model_rel) {
  auto file = gguf::GgufFile::Open(SharedPath(model_rel));
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  if (!file.ok()) return nullptr;
  auto tok = Tokenizer::FromGguf(**file);
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  if (!tok.ok()) return nullptr;
  return std::move(tok).value();
}

inline std::vector<int32_t> Ids(const nlohmann::json& j) { return j.get<std::vector<int32_t>>(); }

}  // namespace llmux::testing
