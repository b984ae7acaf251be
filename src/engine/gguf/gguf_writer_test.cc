#include "engine/gguf/gguf_writer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "engine/gguf/gguf_reader.h"
#include "tests/support/test_paths.h"

namespace llmux::gguf {
namespace {

const std::string kModels = llmux::testing::SharedDir() + "/models/";

std::string TempPath(const std::string& name) {
  return llmux::testing::BinaryDir() + "/gguf_writer_test_" + name;
}

std::vector<uint8_t> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

bool FileExists(const std::string& path) { return std::ifstream(path).good(); }

TEST(GgufWriter, AllValueTypesRoundTrip) {
  GgufWriter w;
  w.Set("u8", Value::Uint8(250));
  w.Set("i8", Value::Int8(-7));
  w.Set("u16", Value::Uint16(65535));
  w.Set("i16", Value::Int16(-32768));
  w.SetUint32("u32", 4294967295u);
  w.SetInt32("i32", -123456);
  w.SetFloat32("f32", 3.25f);
  w.SetBool("bool", true);
  w.SetString("str", "héllo");
  w.SetUint64("u64", uint64_t{1} << 63);
  w.SetInt64("i64", -(int64_t{1} << 40));
  w.SetFloat64("f64", 1e300);
  w.SetStringArray("strs", {"a", "", "ccc"});
  w.SetFloat32Array("floats", {0.5f, -2.0f});
  w.SetInt32Array("ints", {1, -2, 3});
  w.Set("bools", Value::Array(ValueType::kBool, std::vector<uint8_t>{1, 0}));
  w.Set("u64s", Value::Array(ValueType::kUint64, std::vector<uint64_t>{~uint64_t{0}}));
  w.Set("empty", Value::Array(ValueType::kInt16, std::vector<int16_t>{}));
  // [[1, 2], ["x"]]: an array of arrays with different inner element types.
  std::vector<Value> inner = {Value::Array(ValueType::kInt32, std::vector<int32_t>{1, 2}),
                              Value::Array(ValueType::kString, std::vector<std::string>{"x"})};
  w.Set("nested", Value::Array(ValueType::kArray, inner));
  // Re-setting keeps the position and replaces the value.
  w.SetUint32("u32", 7);
  EXPECT_EQ(w.metadata_count(), 19u);

  const std::string path = TempPath("values.gguf");
  ASSERT_TRUE(w.Write(path).ok());
  auto r = GgufFile::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GgufFile& f = **r;
  EXPECT_EQ(f.version(), 3u);
  ASSERT_EQ(f.metadata().size(), 19u);
  const char* order[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "u64"};
  for (size_t i = 0; i < std::size(order); ++i) EXPECT_EQ(f.metadata()[i].key, order[i]);

  EXPECT_EQ(f.Find("u8")->type(), ValueType::kUint8);
  EXPECT_EQ(f.GetInt("u8"), 250);
  EXPECT_EQ(f.GetInt("i8"), -7);
  EXPECT_EQ(f.GetInt("u16"), 65535);
  EXPECT_EQ(f.GetInt("i16"), -32768);
  EXPECT_EQ(f.GetInt("u32"), 7);
  EXPECT_EQ(f.GetInt("i32"), -123456);
  EXPECT_EQ(f.GetFloat("f32"), 3.25);
  EXPECT_EQ(f.GetBool("bool"), true);
  EXPECT_EQ(f.GetString("str"), "héllo");
  EXPECT_EQ(f.Find("u64")->AsUint(), uint64_t{1} << 63);
  EXPECT_EQ(f.GetInt("i64"), -(int64_t{1} << 40));
  EXPECT_EQ(f.GetFloat("f64"), 1e300);
  EXPECT_EQ(*f.GetStringArray("strs"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(*f.GetFloatArray("floats"), (std::vector<float>{0.5f, -2.0f}));
  EXPECT_EQ(*f.GetIntArray("ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(f.FindArray("bools")->element_type(), ValueType::kBool);
  EXPECT_EQ(f.FindArray("bools")->At(0).AsBool(), true);
  EXPECT_EQ(f.FindArray("u64s")->as<uint64_t>()->at(0), ~uint64_t{0});
  EXPECT_TRUE(f.FindArray("empty")->empty());
  EXPECT_EQ(f.FindArray("empty")->element_type(), ValueType::kInt16);
  const ValueArray* nested = f.FindArray("nested");
  ASSERT_NE(nested, nullptr);
  ASSERT_EQ(nested->size(), 2u);
  EXPECT_EQ(nested->At(0).AsArray()->IntAt(1), 2);
  EXPECT_EQ(nested->At(1).AsArray()->StringAt(0), "x");
  // Value equality after the trip through the file.
  EXPECT_EQ(*f.Find("nested"), Value::Array(ValueType::kArray, inner));
  EXPECT_TRUE(f.tensors().empty());
  std::remove(path.c_str());
}

TEST(GgufWriter, TensorsWithAlignment) {
  GgufWriter w;
  w.SetUint32("general.alignment", 64);
  std::vector<float> a(5), b(64);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) + 0.5f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = -static_cast<float>(i);
  std::vector<uint8_t> q(2 * 34, 0xab);  // 2 rows of one Q8_0 block
  w.AddTensor("a", DType::kF32, {5}, a.data(), a.size() * 4);
  w.AddTensor("b", DType::kF32, {16, 4}, b.data(), b.size() * 4);
  w.AddTensor("q", DType::kQ8_0, {32, 2}, q.data(), q.size());
  w.AddTensor("gen", DType::kI32, {3}, [](std::span<uint8_t> out) {
    EXPECT_EQ(out.size(), 12u);
    int32_t v[3] = {7, 8, 9};
    std::memcpy(out.data(), v, 12);
    return Status::Ok();
  });
  ASSERT_TRUE(w.status().ok());
  const std::string path = TempPath("tensors.gguf");
  ASSERT_TRUE(w.Write(path).ok());

  auto r = GgufFile::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GgufFile& f = **r;
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.tensors()[0].name, "a");
  EXPECT_EQ(f.tensors()[3].name, "gen");
  for (const auto& t : f.tensors()) EXPECT_EQ(t.offset % 64, 0u) << t.name;
  EXPECT_EQ(f.tensors()[1].offset, 64u);   // 20 bytes of "a" padded to 64
  EXPECT_EQ(f.tensors()[2].offset, 320u);  // 64 + 256
  EXPECT_EQ(0, std::memcmp(f.FindTensor("a")->data, a.data(), 20));
  EXPECT_EQ(f.FindTensor("b")->ne, (std::vector<int64_t>{16, 4}));
  EXPECT_EQ(0, std::memcmp(f.FindTensor("b")->data, b.data(), 256));
  EXPECT_EQ(f.FindTensor("q")->type, DType::kQ8_0);
  EXPECT_EQ(0, std::memcmp(f.FindTensor("q")->data, q.data(), q.size()));
  int32_t gen[3];
  std::memcpy(gen, f.FindTensor("gen")->data, 12);
  EXPECT_EQ(gen[2], 9);
  EXPECT_EQ(f.file_size() % 64, 0u);  // the last tensor is padded too
  std::remove(path.c_str());
}

TEST(GgufWriter, ReportsMistakes) {
  const std::string path = TempPath("bad.gguf");
  std::vector<float> x(8);
  {
    GgufWriter w;
    w.AddTensor("t", DType::kF32, {8}, x.data(), 16);  // needs 32 bytes
    EXPECT_FALSE(w.status().ok());
    Status s = w.Write(path);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("'t'"), std::string::npos);
    EXPECT_FALSE(FileExists(path));
  }
  {
    GgufWriter w;
    w.AddTensor("t", DType::kF32, {8}, x.data(), 32);
    w.AddTensor("t", DType::kF32, {8}, x.data(), 32);
    EXPECT_NE(w.Write(path).message().find("duplicate"), std::string::npos);
  }
  {
    GgufWriter w;
    w.AddTensor("t", DType::kQ4_0, {8}, x.data(), 32);  // 8 is not a multiple of 32
    EXPECT_FALSE(w.Write(path).ok());
    GgufWriter w5;
    w5.AddTensor("t", DType::kF32, {1, 1, 1, 1, 8}, x.data(), 32);
    EXPECT_FALSE(w5.Write(path).ok());
  }
  {
    GgufWriter w;
    w.SetUint32("general.alignment", 24);
    EXPECT_FALSE(w.Write(path).ok());
    w.SetUint64("general.alignment", 32);  // must be u32
    EXPECT_FALSE(w.Write(path).ok());
  }
  {
    GgufWriter w;
    w.Set("bad", Value::Array(ValueType::kFloat32, std::vector<int32_t>{1}));
    EXPECT_FALSE(w.Write(path).ok());
  }
  {
    GgufWriter w;
    w.AddTensor("t", DType::kF32, {8},
                [](std::span<uint8_t>) { return InternalError("generator broke"); });
    Status s = w.Write(path);
    EXPECT_NE(s.message().find("generator broke"), std::string::npos);
    EXPECT_NE(s.message().find("'t'"), std::string::npos);
    EXPECT_FALSE(FileExists(path));
    EXPECT_FALSE(FileExists(path + ".tmp"));
  }
  EXPECT_FALSE(GgufWriter().Write("/nonexistent-dir/x.gguf").ok());
}

TEST(GgufWriter, RemoveKey) {
  GgufWriter w;
  w.SetUint32("a", 1);
  w.SetUint32("b", 2);
  w.SetUint32("c", 3);
  EXPECT_TRUE(w.Remove("b"));
  EXPECT_FALSE(w.Remove("b"));
  w.SetUint32("c", 4);
  EXPECT_EQ(w.metadata_count(), 2u);
  EXPECT_EQ(w.Find("c")->AsInt(), 4);
  EXPECT_EQ(w.Find("b"), nullptr);
}

// Copies every key and tensor of a file; the copy must be byte-identical (both writers follow
// the same layout rules: keys then infos, data aligned, every tensor padded).
void CopyAndCompare(const std::string& name) {
  const std::string src = kModels + name;
  auto in = GgufFile::Open(src);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  GgufWriter w;
  for (const auto& e : (*in)->metadata()) w.CopyValue(e.key, e.value);
  for (const auto& t : (*in)->tensors()) w.AddTensor(t.name, t.type, t.ne, t.data, t.nbytes);
  const std::string dst = TempPath("copy_" + name);
  ASSERT_TRUE(w.Write(dst).ok());

  auto out = GgufFile::Open(dst);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ((*out)->metadata().size(), (*in)->metadata().size());
  for (size_t i = 0; i < (*in)->metadata().size(); ++i) {
    EXPECT_EQ((*out)->metadata()[i].key, (*in)->metadata()[i].key);
    EXPECT_TRUE((*out)->metadata()[i].value == (*in)->metadata()[i].value)
        << (*in)->metadata()[i].key;
  }
  ASSERT_EQ((*out)->tensors().size(), (*in)->tensors().size());
  for (const auto& t : (*in)->tensors()) {
    const TensorInfo* c = (*out)->FindTensor(t.name);
    ASSERT_NE(c, nullptr) << t.name;
    EXPECT_EQ(c->type, t.type);
    EXPECT_EQ(c->ne, t.ne);
    ASSERT_EQ(c->nbytes, t.nbytes);
    EXPECT_EQ(0, std::memcmp(c->data, t.data, t.nbytes)) << t.name;
  }
  EXPECT_EQ(ReadWholeFile(dst), ReadWholeFile(src)) << name << " copy differs byte-wise";
  std::remove(dst.c_str());
}

TEST(GgufWriter, CopyStories260K) { CopyAndCompare("stories260K.gguf"); }
TEST(GgufWriter, CopyQwenVocab) { CopyAndCompare("qwen3-vocab.gguf"); }
TEST(GgufWriter, CopyQuantizedModel) { CopyAndCompare("qwen3-mini-q4_0.gguf"); }

}  // namespace
}  // namespace llmux::gguf
