// ReadHfCheckpoint on directories written by the test: config.json flattening, the shard index,
// and the refusals (no config, an index naming a tensor its shard lacks, a shard outside the
// directory).
#include "cli/hf_checkpoint_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace llmux::cli {
namespace {

namespace fs = std::filesystem;

std::string Safetensors(const std::string& header, size_t data) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xFF));
  return s + header + std::string(data, '\0');
}

class CheckpointDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("llmux_hf_reader_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  fs::path dir_;
};

TEST_F(CheckpointDir, ConfigIsFlattened) {
  auto c = ParseHfConfig(R"({"architectures": ["Qwen3ForCausalLM"], "hidden_size": 64,
      "rms_norm_eps": 1e-06, "tie_word_embeddings": true, "rope_scaling": {"type": "yarn",
      "factor": 40}, "quantization_config": {"weight_block_size": [128, 64]}, "x": null})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->String("architectures.0"), "Qwen3ForCausalLM");
  EXPECT_EQ(c->Int("hidden_size"), 64);
  EXPECT_EQ(c->Float("rms_norm_eps"), 1e-6);
  EXPECT_EQ(c->Bool("tie_word_embeddings"), true);
  EXPECT_EQ(c->String("rope_scaling.type"), "yarn");
  EXPECT_EQ(c->Int("rope_scaling.factor"), 40);
  EXPECT_EQ(c->Int("quantization_config.weight_block_size.1"), 64);
  EXPECT_EQ(c->Find("x"), nullptr);
  EXPECT_FALSE(ParseHfConfig("[1]").ok());
}

TEST_F(CheckpointDir, ReadsShardsThroughTheIndex) {
  Write("config.json", R"({"architectures": ["Qwen3ForCausalLM"]})");
  Write("a.safetensors",
        Safetensors(R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 8));
  Write("b.safetensors",
        Safetensors(R"({"y": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}})", 4));
  Write("model.safetensors.index.json",
        R"({"weight_map": {"x": "a.safetensors", "y": "b.safetensors"}})");
  auto ck = ReadHfCheckpoint(dir_.string());
  ASSERT_TRUE(ck.ok()) << ck.status().ToString();
  ASSERT_EQ(ck->tensors.size(), 2u);
  EXPECT_EQ(ck->tensors[0].name, "x");
  EXPECT_EQ(ck->tensors[0].file, (dir_ / "a.safetensors").string());
  EXPECT_EQ(ck->tensors[1].dtype, "BF16");
  EXPECT_FALSE(ck->tokenizer.has_value());

  Write("model.safetensors.index.json", R"({"weight_map": {"x": "b.safetensors"}})");
  auto wrong = ReadHfCheckpoint(dir_.string());
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(),
            "tensor 'x' is listed in model.safetensors.index.json for 'b.safetensors' but is not "
            "in that file");

  Write("model.safetensors.index.json", R"({"weight_map": {"x": "../a.safetensors"}})");
  auto outside = ReadHfCheckpoint(dir_.string());
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("weight_map names '../a.safetensors'"),
            std::string::npos);
}

TEST_F(CheckpointDir, RefusesMissingFiles) {
  auto none = ReadHfCheckpoint(dir_.string());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().message(), "no config.json in '" + dir_.string() + "'");
  Write("config.json", "{}");
  auto no_weights = ReadHfCheckpoint(dir_.string());
  ASSERT_FALSE(no_weights.ok());
  EXPECT_EQ(no_weights.status().message(), "no .safetensors files in '" + dir_.string() + "'");
}

}  // namespace
}  // namespace llmux::cli
