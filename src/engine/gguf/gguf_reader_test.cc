#include "engine/gguf/gguf_reader.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>

#include "engine/gguf/gguf_test_bytes.h"
#include "tests/support/proc_smaps.h"
#include "tests/support/test_paths.h"

namespace llmux::gguf {
namespace {

using testing::GgufBytes;

const std::string kModels = llmux::testing::SharedDir() + "/models/";

std::vector<uint8_t> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

Result<std::unique_ptr<GgufFile>> ParseBytes(const GgufBytes& b) {
  return GgufFile::Parse(b.bytes().data(), b.size());
}

// A file with one F32 tensor "t" of 8 elements at offset 0; `kv` extra metadata bytes.
GgufBytes OneTensorFile(uint32_t version = 3) {
  GgufBytes b;
  b.Header(version, 1, 1).KvStr("general.architecture", "test");
  b.TensorInfo("t", {8}, 0, 0).PadTo(32);
  for (int i = 0; i < 8; ++i) b.Put(static_cast<float>(i));
  return b;
}

// ---------------------------------------------------------------------------------------------
// Shared models

TEST(GgufReader, Stories260KMetadata) {
  auto r = GgufFile::Open(kModels + "stories260K.gguf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GgufFile& f = **r;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.file_size(), 1185344u);
  EXPECT_EQ(f.metadata().size(), 18u);
  EXPECT_EQ(f.metadata().front().key, "general.architecture");
  EXPECT_EQ(f.GetString("general.architecture"), "llama");
  EXPECT_EQ(f.GetInt("llama.embedding_length"), 64);
  EXPECT_EQ(f.GetInt("llama.block_count"), 5);
  EXPECT_EQ(f.GetInt("llama.feed_forward_length"), 172);
  EXPECT_EQ(f.GetInt("llama.attention.head_count"), 8);
  EXPECT_EQ(f.GetInt("llama.attention.head_count_kv"), 4);
  EXPECT_EQ(f.GetInt("llama.context_length"), 512);
  EXPECT_NEAR(*f.GetFloat("llama.attention.layer_norm_rms_epsilon"), 1e-5, 1e-9);
  EXPECT_EQ(f.GetFloat("llama.context_length"), 512.0);  // ints accepted as floats
  EXPECT_FALSE(f.GetInt("general.architecture").has_value());
  EXPECT_FALSE(f.GetString("llama.block_count").has_value());
  EXPECT_FALSE(f.GetInt("no.such.key").has_value());
  EXPECT_EQ(f.Find("no.such.key"), nullptr);

  auto tokens = f.GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 512u);
  EXPECT_EQ((*tokens)[0], "<unk>");
  EXPECT_EQ((*tokens)[1], "<s>");
  EXPECT_EQ((*tokens)[2], "</s>");
  EXPECT_EQ((*tokens)[3], "<0x00>");
  EXPECT_EQ((*tokens)[258], "<0xFF>");

  auto scores = f.GetFloatArray("tokenizer.ggml.scores");
  ASSERT_TRUE(scores.ok());
  EXPECT_EQ(scores->size(), 512u);
  auto types = f.GetIntArray("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok());
  EXPECT_EQ((*types)[0], 2);  // UNKNOWN
  EXPECT_EQ((*types)[1], 3);  // CONTROL
  EXPECT_EQ((*types)[3], 6);  // BYTE

  // Wrong element types and missing keys.
  EXPECT_EQ(f.GetStringArray("tokenizer.ggml.scores").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.GetIntArray("tokenizer.ggml.tokens").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.GetFloatArray("general.architecture").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.GetStringArray("nope").status().code(), StatusCode::kNotFound);
}

TEST(GgufReader, Stories260KTensors) {
  const std::string path = kModels + "stories260K.gguf";
  auto r = GgufFile::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GgufFile& f = **r;
  ASSERT_EQ(f.tensors().size(), 48u);
  EXPECT_EQ(f.data_offset(), 14144u);  // 14138 bytes of header, padded to 32

  const TensorInfo* emb = f.FindTensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->type, DType::kF32);
  EXPECT_EQ(emb->ne, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(emb->n_elements(), 64 * 512);
  EXPECT_EQ(emb->nbytes, 64u * 512 * 4);
  EXPECT_EQ(emb->offset, 0u);
  EXPECT_EQ(emb->data, f.file_data() + f.data_offset());

  const TensorInfo* ffn_down = f.FindTensor("blk.0.ffn_down.weight");
  ASSERT_NE(ffn_down, nullptr);
  EXPECT_EQ(ffn_down->ne, (std::vector<int64_t>{172, 64}));
  EXPECT_EQ(ffn_down->offset, 224256u);

  // The data pointer sees the file's bytes (read here with plain stdio).
  std::vector<uint8_t> bytes = ReadWholeFile(path);
  ASSERT_EQ(bytes.size(), f.file_size());
  const TensorInfo* norm = f.FindTensor("blk.0.attn_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->ne, (std::vector<int64_t>{64}));
  EXPECT_EQ(0, std::memcmp(norm->data, bytes.data() + 14144 + 312320, 256));
  float first;
  std::memcpy(&first, emb->data, 4);
  EXPECT_NEAR(first, -0.29474878f, 1e-7);

  // output.weight is an explicit copy of token_embd.weight in this file.
  const TensorInfo* out = f.FindTensor("output.weight");
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(out->nbytes, emb->nbytes);
  EXPECT_EQ(0, std::memcmp(out->data, emb->data, emb->nbytes));
  EXPECT_EQ(f.FindTensor("missing.weight"), nullptr);
}

TEST(GgufReader, ParseMatchesOpen) {
  std::vector<uint8_t> bytes = ReadWholeFile(kModels + "stories260K.gguf");
  auto r = GgufFile::Parse(bytes.data(), bytes.size());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->tensors().size(), 48u);
  EXPECT_EQ((*r)->FindTensor("token_embd.weight")->data, bytes.data() + 14144);
  EXPECT_EQ((*r)->path(), "");
}

TEST(GgufReader, QwenVocab) {
  auto r = GgufFile::Open(kModels + "qwen3-vocab.gguf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GgufFile& f = **r;
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.GetString("general.architecture"), "qwen3");
  EXPECT_EQ(f.GetInt("qwen3.block_count"), 28);
  EXPECT_EQ(f.GetInt("qwen3.embedding_length"), 1024);
  EXPECT_EQ(f.GetFloat("qwen3.rope.freq_base"), 1e6);
  EXPECT_EQ(f.GetString("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f.GetString("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(f.GetInt("tokenizer.ggml.eos_token_id"), 151645);
  EXPECT_EQ(f.GetBool("tokenizer.ggml.add_bos_token"), false);
  EXPECT_FALSE(f.GetBool("tokenizer.ggml.eos_token_id").has_value());

  const ValueArray* tokens = f.FindArray("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->element_type(), ValueType::kString);
  ASSERT_EQ(tokens->size(), 151936u);
  EXPECT_EQ(tokens->StringAt(151645), "<|im_end|>");
  EXPECT_EQ(tokens->StringAt(151643), "<|endoftext|>");
  EXPECT_EQ(tokens->StringAt(151935), "[PAD151935]");
  EXPECT_FALSE(tokens->StringAt(151936).has_value());

  auto merges = f.GetStringArray("tokenizer.ggml.merges");
  ASSERT_TRUE(merges.ok());
  EXPECT_EQ(merges->size(), 151387u);

  auto types = f.GetIntArray("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok());
  ASSERT_EQ(types->size(), 151936u);
  EXPECT_EQ((*types)[0], 1);       // NORMAL
  EXPECT_EQ((*types)[151645], 3);  // CONTROL
  EXPECT_EQ((*types)[151935], 5);  // UNUSED padding
  auto tmpl = f.GetString("tokenizer.chat_template");
  ASSERT_TRUE(tmpl.has_value());
  EXPECT_NE(tmpl->find("<|im_start|>"), std::string::npos);
}

TEST(GgufReader, QuantizedTypes) {
  auto r = GgufFile::Open(kModels + "qwen3-kmini-q4_k_m.gguf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::map<DType, int> counts;
  for (const auto& t : (*r)->tensors()) counts[t.type]++;
  EXPECT_EQ(counts[DType::kQ4_K], 12);
  EXPECT_EQ(counts[DType::kQ6_K], 1);
  EXPECT_EQ(counts[DType::kQ5_0], 1);
  EXPECT_EQ(counts[DType::kQ8_0], 1);
  EXPECT_EQ(counts[DType::kF32], 9);
  const TensorInfo* v = (*r)->FindTensor("blk.1.attn_v.weight");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->type, DType::kQ6_K);
  EXPECT_EQ(v->nbytes, 128u * 210);  // 128 rows of one 256-element Q6_K block
  const TensorInfo* down = (*r)->FindTensor("blk.0.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->type, DType::kQ5_0);
  EXPECT_EQ(down->nbytes, 256u * (640 / 32) * 22);
  EXPECT_EQ((*r)->GetInt("general.file_type"), 15);
}

TEST(GgufReader, AllSharedModelsOpen) {
  for (const char* name :
       {"deepseek3-mini-q8_0.gguf", "qwen3-mini-f32.gguf", "qwen3-mini-q4_0.gguf",
        "qwen3-mini-q8_0.gguf", "qwen3moe-mini-q8_0.gguf"}) {
    auto r = GgufFile::Open(kModels + name);
    ASSERT_TRUE(r.ok()) << name << ": " << r.status().ToString();
    EXPECT_FALSE((*r)->tensors().empty()) << name;
  }
  auto moe = GgufFile::Open(kModels + "qwen3moe-mini-q8_0.gguf");
  ASSERT_TRUE(moe.ok());
  const TensorInfo* exps = (*moe)->FindTensor("blk.0.ffn_gate_exps.weight");
  ASSERT_NE(exps, nullptr);
  EXPECT_EQ(exps->ne, (std::vector<int64_t>{64, 64, 8}));
  EXPECT_EQ(exps->nbytes, 64u / 32 * 34 * 64 * 8);
}

TEST(GgufReader, OpenErrors) {
  auto missing = GgufFile::Open(kModels + "does-not-exist.gguf");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("does-not-exist"), std::string::npos);

  auto dir = GgufFile::Open(kModels);
  EXPECT_FALSE(dir.ok());

  auto not_gguf = GgufFile::Open(kModels + "README.md");
  EXPECT_EQ(not_gguf.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(not_gguf.status().message().find("magic"), std::string::npos);

  std::string empty = llmux::testing::BinaryDir() + "/gguf_reader_test_empty.gguf";
  { std::ofstream(empty, std::ios::binary); }
  auto e = GgufFile::Open(empty);
  EXPECT_FALSE(e.ok());
  EXPECT_FALSE(e.status().message().empty());
  std::remove(empty.c_str());
}

// ---------------------------------------------------------------------------------------------
// Hand-made files

TEST(GgufReader, MinimalV2AndV3) {
  for (uint32_t version : {2u, 3u}) {
    GgufBytes b = OneTensorFile(version);
    auto r = ParseBytes(b);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ((*r)->version(), version);
    const TensorInfo* t = (*r)->FindTensor("t");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->nbytes, 32u);
    float x[8];
    std::memcpy(x, t->data, 32);
    EXPECT_EQ(x[7], 7.0f);
  }
}

TEST(GgufReader, RefusesBadHeaders) {
  GgufBytes v1 = OneTensorFile(1);
  auto r1 = ParseBytes(v1);
  EXPECT_EQ(r1.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r1.status().message().find("version 1"), std::string::npos);

  auto r4 = ParseBytes(OneTensorFile(4));
  EXPECT_NE(r4.status().message().find("version 4"), std::string::npos);

  auto big = ParseBytes(OneTensorFile(0x03000000));
  EXPECT_NE(big.status().message().find("big-endian"), std::string::npos);

  GgufBytes bad_magic;
  bad_magic.Raw("GGML", 4).U32(3).U64(0).U64(0);
  EXPECT_NE(ParseBytes(bad_magic).status().message().find("magic"), std::string::npos);

  auto empty = GgufFile::Parse(nullptr, 0);
  EXPECT_FALSE(empty.ok());
  EXPECT_FALSE(empty.status().message().empty());
}

TEST(GgufReader, HugeCountsRefusedWithoutAllocating) {
  GgufBytes kv;
  kv.Header(3, 0, uint64_t{1} << 60);
  EXPECT_NE(ParseBytes(kv).status().message().find("metadata count"), std::string::npos);

  GgufBytes tensors;
  tensors.Header(3, ~uint64_t{0}, 0);
  EXPECT_NE(ParseBytes(tensors).status().message().find("tensor count"), std::string::npos);

  GgufBytes arr;  // array of 2^61 strings
  arr.Header(3, 0, 1).Str("k").U32(9).U32(8).U64(uint64_t{1} << 61);
  auto r = ParseBytes(arr);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("does not fit"), std::string::npos);

  GgufBytes str;  // string longer than the file
  str.Header(3, 0, 1).Str("k").U32(8).U64(~uint64_t{0}).Raw("abc", 3);
  auto rs = ParseBytes(str);
  EXPECT_EQ(rs.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(rs.status().message().find("'k'"), std::string::npos);
}

TEST(GgufReader, AllValueTypesAndNestedArrays) {
  GgufBytes b;
  b.Header(3, 0, 16);
  b.Str("u8").U32(0).Put<uint8_t>(200);
  b.Str("i8").U32(1).Put<int8_t>(-100);
  b.Str("u16").U32(2).Put<uint16_t>(60000);
  b.Str("i16").U32(3).Put<int16_t>(-30000);
  b.Str("u32").U32(4).Put<uint32_t>(4000000000u);
  b.Str("i32").U32(5).Put<int32_t>(-2000000000);
  b.Str("f32").U32(6).Put<float>(1.5f);
  b.Str("bool").U32(7).Put<uint8_t>(1);
  b.Str("str").U32(8).Str("hello");
  b.Str("u64").U32(10).Put<uint64_t>(~uint64_t{0});
  b.Str("i64").U32(11).Put<int64_t>(-5);
  b.Str("f64").U32(12).Put<double>(-2.25);
  // [[1, 2], [], [3]] as arrays of i32
  b.Str("nested").U32(9).U32(9).U64(3);
  b.U32(5).U64(2).Put<int32_t>(1).Put<int32_t>(2);
  b.U32(5).U64(0);
  b.U32(5).U64(1).Put<int32_t>(3);
  b.Str("bools").U32(9).U32(7).U64(3).U8(0).U8(1).U8(7);
  b.Str("f64s").U32(9).U32(12).U64(2).Put<double>(0.5).Put<double>(-1.0);
  // An array of arrays of strings: [["a", "bc"]]
  b.Str("nested_str").U32(9).U32(9).U64(1).U32(8).U64(2).Str("a").Str("bc");

  auto r = ParseBytes(b);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GgufFile& f = **r;
  EXPECT_EQ(f.GetInt("u8"), 200);
  EXPECT_EQ(f.GetInt("i8"), -100);
  EXPECT_EQ(f.GetInt("u16"), 60000);
  EXPECT_EQ(f.GetInt("i16"), -30000);
  EXPECT_EQ(f.GetInt("u32"), 4000000000LL);
  EXPECT_EQ(f.GetInt("i32"), -2000000000);
  EXPECT_EQ(f.GetFloat("f32"), 1.5);
  EXPECT_EQ(f.GetBool("bool"), true);
  EXPECT_EQ(f.GetString("str"), "hello");
  EXPECT_FALSE(f.GetInt("u64").has_value());  // above INT64_MAX
  EXPECT_EQ(f.Find("u64")->AsUint(), ~uint64_t{0});
  EXPECT_EQ(f.GetInt("i64"), -5);
  EXPECT_FALSE(f.Find("i64")->AsUint().has_value());
  EXPECT_EQ(f.GetFloat("f64"), -2.25);
  EXPECT_FALSE(f.GetInt("f64").has_value());
  EXPECT_EQ(f.Find("u16")->type(), ValueType::kUint16);

  const ValueArray* nested = f.FindArray("nested");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->element_type(), ValueType::kArray);
  ASSERT_EQ(nested->size(), 3u);
  const auto* inner = nested->as<Value>();
  ASSERT_NE(inner, nullptr);
  ASSERT_NE((*inner)[0].AsArray(), nullptr);
  EXPECT_EQ((*inner)[0].AsArray()->IntAt(1), 2);
  EXPECT_TRUE((*inner)[1].AsArray()->empty());
  EXPECT_EQ(nested->At(2).AsArray()->IntAt(0), 3);
  EXPECT_EQ(f.GetIntArray("nested").status().code(), StatusCode::kInvalidArgument);

  const ValueArray* bools = f.FindArray("bools");
  ASSERT_NE(bools, nullptr);
  EXPECT_EQ(bools->element_type(), ValueType::kBool);
  EXPECT_EQ(bools->At(0).AsBool(), false);
  EXPECT_EQ(bools->At(2).AsBool(), true);

  auto f64s = f.GetFloatArray("f64s");
  ASSERT_TRUE(f64s.ok());
  EXPECT_EQ(*f64s, (std::vector<float>{0.5f, -1.0f}));

  const ValueArray* ns = f.FindArray("nested_str");
  ASSERT_NE(ns, nullptr);
  EXPECT_EQ(ns->At(0).AsArray()->StringAt(1), "bc");

  // Keys keep file order.
  EXPECT_EQ(f.metadata()[0].key, "u8");
  EXPECT_EQ(f.metadata()[12].key, "nested");
}

TEST(GgufReader, DeeplyNestedArraysRefused) {
  GgufBytes b;
  b.Header(3, 0, 1).Str("deep").U32(9);
  for (int i = 0; i < 1000; ++i) b.U32(9).U64(1);
  b.U32(5).U64(0);
  auto r = ParseBytes(b);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("nested"), std::string::npos);
}

TEST(GgufReader, RefusesBadMetadata) {
  GgufBytes dup;
  dup.Header(3, 0, 2).KvU32("a", 1).KvU32("a", 2);
  EXPECT_NE(ParseBytes(dup).status().message().find("duplicate metadata key 'a'"), std::string::npos);

  GgufBytes bad_type;
  bad_type.Header(3, 0, 1).Str("k").U32(13).U32(0);
  EXPECT_NE(ParseBytes(bad_type).status().message().find("unknown value type 13"),
            std::string::npos);

  GgufBytes bad_elem;
  bad_elem.Header(3, 0, 1).Str("k").U32(9).U32(99).U64(0);
  EXPECT_NE(ParseBytes(bad_elem).status().message().find("99"), std::string::npos);

  GgufBytes align_type;  // alignment must be u32
  align_type.Header(3, 0, 1).Str("general.alignment").U32(10).U64(32);
  EXPECT_NE(ParseBytes(align_type).status().message().find("general.alignment"),
            std::string::npos);
  for (uint32_t a : {0u, 3u, 48u}) {
    GgufBytes align;
    align.Header(3, 0, 1).KvU32("general.alignment", a);
    auto r = ParseBytes(align);
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << a;
    EXPECT_NE(r.status().message().find("power of two"), std::string::npos) << a;
  }
}

TEST(GgufReader, CustomAlignment) {
  GgufBytes b;
  b.Header(3, 2, 1).KvU32("general.alignment", 64);
  b.TensorInfo("a", {4}, 0, 0).TensorInfo("b", {4}, 0, 64).PadTo(64);
  size_t data_start = b.size();
  b.Zeros(64 + 16);
  auto r = ParseBytes(b);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->alignment(), 64u);
  EXPECT_EQ((*r)->data_offset(), data_start);
  EXPECT_EQ((*r)->FindTensor("b")->data, b.bytes().data() + data_start + 64);

  GgufBytes mis;  // offset 32 is not a multiple of 64
  mis.Header(3, 1, 1).KvU32("general.alignment", 64).TensorInfo("a", {4}, 0, 32).PadTo(64);
  mis.Zeros(64);
  auto rm = ParseBytes(mis);
  EXPECT_NE(rm.status().message().find("alignment"), std::string::npos);
}

Status TensorError(std::vector<int64_t> ne, uint32_t type, uint64_t offset, size_t data_bytes,
                   uint32_t n_dims_override = 0) {
  GgufBytes b;
  b.Header(3, 1, 0);
  if (n_dims_override != 0) {
    b.Str("w").U32(n_dims_override);
    for (uint32_t i = 0; i < n_dims_override; ++i) b.I64(1);
    b.U32(type).U64(offset);
  } else {
    b.TensorInfo("w", ne, type, offset);
  }
  b.PadTo(32).Zeros(data_bytes);
  return ParseBytes(b).status();
}

TEST(GgufReader, RefusesBadTensorInfos) {
  EXPECT_TRUE(TensorError({32, 2}, 8, 0, 68).ok());  // Q8_0: 2 rows of one 34-byte block

  Status unknown = TensorError({4}, 19, 0, 64);
  EXPECT_NE(unknown.message().find("unknown tensor type id 19"), std::string::npos);
  EXPECT_NE(unknown.message().find("'w'"), std::string::npos);

  Status dims = TensorError({}, 0, 0, 64, 5);
  EXPECT_NE(dims.message().find("5 dimensions"), std::string::npos);
  EXPECT_FALSE(TensorError({}, 0, 0, 64).ok());  // 0 dimensions

  Status neg = TensorError({4, -1}, 0, 0, 64);
  EXPECT_NE(neg.message().find("negative"), std::string::npos);

  Status block = TensorError({33}, 8, 0, 128);
  EXPECT_NE(block.message().find("block size 32"), std::string::npos);

  Status past = TensorError({32}, 0, 0, 64);  // needs 128 bytes
  EXPECT_NE(past.message().find("extends past end of file"), std::string::npos);

  Status huge_offset = TensorError({1}, 0, ~uint64_t{0} - 31, 64);
  EXPECT_FALSE(huge_offset.ok());

  Status overflow = TensorError({int64_t{1} << 40, int64_t{1} << 40}, 0, 0, 64);
  EXPECT_NE(overflow.message().find("too many elements"), std::string::npos);

  Status size_overflow = TensorError({int64_t{1} << 62}, 0, 0, 64);
  EXPECT_FALSE(size_overflow.ok());
}

TEST(GgufReader, RefusesDuplicateAndOverlappingTensors) {
  GgufBytes dup;
  dup.Header(3, 2, 0).TensorInfo("w", {8}, 0, 0).TensorInfo("w", {8}, 0, 32).PadTo(32).Zeros(64);
  EXPECT_NE(ParseBytes(dup).status().message().find("duplicate tensor name 'w'"),
            std::string::npos);

  GgufBytes overlap;
  overlap.Header(3, 2, 0).TensorInfo("a", {16}, 0, 0).TensorInfo("b", {8}, 0, 32);
  overlap.PadTo(32).Zeros(64);
  auto r = ParseBytes(overlap);
  EXPECT_NE(r.status().message().find("overlaps"), std::string::npos);

  GgufBytes adjacent;  // touching but not overlapping, listed out of order
  adjacent.Header(3, 2, 0).TensorInfo("b", {8}, 0, 32).TensorInfo("a", {8}, 0, 0);
  adjacent.PadTo(32).Zeros(64);
  EXPECT_TRUE(ParseBytes(adjacent).ok());
}

TEST(GgufReader, ValueEquality) {
  EXPECT_EQ(Value::Uint32(5), Value::Uint32(5));
  EXPECT_FALSE(Value::Uint32(5) == Value::Int32(5));
  EXPECT_EQ(Value::String("x"), Value::String("x"));
  EXPECT_EQ(Value::Array(ValueType::kFloat32, std::vector<float>{1, 2}),
            Value::Array(ValueType::kFloat32, std::vector<float>{1, 2}));
  EXPECT_FALSE(Value::Array(ValueType::kFloat32, std::vector<float>{1, 2}) ==
               Value::Array(ValueType::kFloat32, std::vector<float>{1, 3}));
  EXPECT_EQ(Value::Int8(-3).AsInt(), -3);
  EXPECT_EQ(Value::Float32(0.25f).AsFloat(), 0.25);
  EXPECT_EQ(std::string(ValueTypeName(ValueType::kArray)), "arr");
}

// ---------------------------------------------------------------------------------------------
// Releasing pages

// The resident bytes of the mapping that holds `address`; -1 if none.
int64_t MappingRssBytes(const void* address) {
  const std::string line = llmux::testing::SmapsLine(address, "Rss:");  // "Rss:   1234 kB"
  return line.empty() ? -1 : std::stoll(line.substr(4)) * 1024;
}

// A file of one F32 tensor of n elements (i * 0.5f), written to `path`.
void WriteFloatFile(const std::string& path, int n) {
  GgufBytes b;
  b.Header(3, 1, 1).KvStr("general.architecture", "test");
  b.TensorInfo("t", {n}, 0, 0).PadTo(32);
  for (int i = 0; i < n; ++i) b.Put(static_cast<float>(i) * 0.5f);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.bytes().data()),
            static_cast<std::streamsize>(b.size()));
}

TEST(GgufReader, ReleasedPagesLeaveTheProcessButNotThePageCache) {
  const std::string path = ::testing::TempDir() + "/release_pages.gguf";
  constexpr int kN = 1 << 20;  // 4 MiB of data
  WriteFloatFile(path, kN);
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const TensorInfo* t = (*file)->FindTensor("t");
  ASSERT_NE(t, nullptr);
  const auto* values = reinterpret_cast<const float*>(t->data);
  double sum = 0;
  for (int i = 0; i < kN; ++i) sum += values[i];  // every page mapped in
  const int64_t before = MappingRssBytes(t->data);
  ASSERT_GE(before, int64_t{4} << 20);

  (*file)->ReleasePages(t->data, t->nbytes);
  const int64_t after = MappingRssBytes(t->data);
  const auto page = static_cast<int64_t>(sysconf(_SC_PAGESIZE));
  // All but the pages the header and the range's ends share went.
  EXPECT_LE(after, before - (int64_t{4} << 20) + 2 * page) << before << " -> " << after;
  // The pages stay in the page cache (MADV_PAGEOUT would evict them): mincore reports a file
  // mapping's page cache residency.
  const auto first = (reinterpret_cast<uintptr_t>(t->data) + page - 1) / page * page;
  const size_t n_pages = (t->nbytes - static_cast<size_t>(page)) / static_cast<size_t>(page);
  std::vector<unsigned char> resident(n_pages);
  ASSERT_EQ(mincore(reinterpret_cast<void*>(first), n_pages * page, resident.data()), 0);
  EXPECT_EQ(std::count_if(resident.begin(), resident.end(), [](unsigned char r) { return r & 1; }),
            static_cast<std::ptrdiff_t>(n_pages));
  // And a read maps the file's bytes again.
  double again = 0;
  for (int i = 0; i < kN; ++i) again += values[i];
  EXPECT_EQ(again, sum);
  EXPECT_EQ(values[kN - 1], static_cast<float>(kN - 1) * 0.5f);
  std::remove(path.c_str());
}

TEST(GgufReader, ReleasingBorrowedMemoryLeavesItAlone) {
  const std::string path = ::testing::TempDir() + "/release_borrowed.gguf";
  constexpr int kN = 1 << 18;
  WriteFloatFile(path, kN);
  std::vector<uint8_t> bytes = ReadWholeFile(path);
  std::remove(path.c_str());
  auto file = GgufFile::Parse(bytes.data(), bytes.size());
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const TensorInfo* t = (*file)->FindTensor("t");
  ASSERT_NE(t, nullptr);
  (*file)->ReleasePages(t->data, t->nbytes);  // anonymous memory: MADV_DONTNEED would zero it
  const auto* values = reinterpret_cast<const float*>(t->data);
  for (int i = 0; i < kN; i += 997) ASSERT_EQ(values[i], static_cast<float>(i) * 0.5f) << i;
}

}  // namespace
}  // namespace llmux::gguf
