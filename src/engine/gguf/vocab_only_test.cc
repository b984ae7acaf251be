#include "engine/gguf/vocab_only.h"

#include <gtest/gtest.h>

#include "tests/support/test_paths.h"

namespace llmux::gguf {
namespace {

TEST(VocabOnly, KeepsTokenizerKeysAndDropsTensors) {
  auto in = GgufFile::Open(llmux::testing::SharedDir() + "/models/stories260K.gguf");
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  auto bytes = VocabOnlyBytes(**in);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_LT(bytes->size(), (*in)->file_size());
  auto out = GgufFile::Parse(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE((*out)->tensors().empty());
  EXPECT_EQ((*out)->GetString("general.architecture"), (*in)->GetString("general.architecture"));
  int n_tokenizer_keys = 0;
  for (const MetadataEntry& e : (*in)->metadata()) {
    if (!e.key.starts_with("tokenizer.")) continue;
    ++n_tokenizer_keys;
    EXPECT_NE((*out)->Find(e.key), nullptr) << e.key;
  }
  EXPECT_GT(n_tokenizer_keys, 0);
  for (const MetadataEntry& e : (*out)->metadata()) {
    EXPECT_TRUE(e.key.starts_with("tokenizer.") || e.key.starts_with("general.")) << e.key;
  }
}

}  // namespace
}  // namespace llmux::gguf
