#include "engine/gguf/gguf_describe.h"

#include <gtest/gtest.h>
#include "tests/support/test_paths.h"

namespace llmux::gguf {
namespace {

const std::string kModels = llmux::testing::SharedDir() + "/models/";

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(GgufDescribe, Stories260K) {
  auto f = GgufFile::Open(kModels + "stories260K.gguf");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  std::string d = DescribeGguf(**f);
  EXPECT_TRUE(Contains(d, "GGUF version 3, alignment 32")) << d;
  EXPECT_TRUE(Contains(d, "general.architecture : str = \"llama\"")) << d;
  EXPECT_TRUE(Contains(d, "llama.embedding_length : u32 = 64")) << d;
  EXPECT_TRUE(Contains(d, "tokenizer.ggml.tokens : arr[str,512] = [\"<unk>\", \"<s>\"")) << d;
  EXPECT_TRUE(Contains(d, "(512 total)]")) << d;
  EXPECT_FALSE(Contains(d, "<0xFF>"));  // abbreviated
  EXPECT_TRUE(Contains(d, "tensors: 48")) << d;
  EXPECT_TRUE(Contains(d, "token_embd.weight : f32 [64, 512] offset 0 bytes 131072")) << d;
  EXPECT_TRUE(Contains(d, "blk.0.ffn_down.weight : f32 [172, 64] offset 224256 bytes 44032")) << d;

  std::string full = DescribeGguf(**f, /*full_arrays=*/true);
  EXPECT_TRUE(Contains(full, "\"<0xFF>\""));
  EXPECT_FALSE(Contains(full, "total)"));
}

TEST(GgufDescribe, QuantizedAndLongStrings) {
  auto f = GgufFile::Open(kModels + "qwen3-kmini-q4_k_m.gguf");
  ASSERT_TRUE(f.ok());
  std::string d = DescribeGguf(**f);
  EXPECT_TRUE(Contains(d, "blk.1.attn_v.weight : q6_K [256, 128]")) << d;
  EXPECT_TRUE(Contains(d, "qwen3.rope.freq_base : f32 = 1000000")) << d;
  EXPECT_TRUE(Contains(d, "tokenizer.ggml.add_bos_token : bool = false")) << d;
  // The chat template is cut and its newlines escaped, so each key stays on one line.
  size_t pos = d.find("tokenizer.chat_template");
  ASSERT_NE(pos, std::string::npos);
  std::string line = d.substr(pos, d.find('\n', pos) - pos);
  EXPECT_TRUE(Contains(line, "\\n"));
  EXPECT_TRUE(Contains(line, "bytes)"));
  EXPECT_LT(line.size(), 300u);
}

TEST(GgufDescribe, FormatValue) {
  EXPECT_EQ(FormatValue(Value::String("a\"b\n"), 0, 0), "\"a\\\"b\\n\"");
  EXPECT_EQ(FormatValue(Value::Int8(-3), 0, 0), "-3");
  EXPECT_EQ(FormatValue(Value::Float64(0.5), 0, 0), "0.5");
  auto nested = Value::Array(
      ValueType::kArray,
      std::vector<Value>{Value::Array(ValueType::kInt32, std::vector<int32_t>{1, 2, 3})});
  EXPECT_EQ(FormatValue(nested, 2, 0), "[[1, 2, ... (3 total)]]");
  EXPECT_EQ(DescribeType(nested), "arr[arr,1]");
}

}  // namespace
}  // namespace llmux::gguf
