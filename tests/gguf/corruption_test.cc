// Damaged copies of every shared GGUF must be refused with a reason, or parse with every tensor
// inside the buffer; never crash. The copies are made in memory: truncated at many lengths, and
// with header fields, metadata fields and tensor-info fields overwritten.
//
// Field positions come from a small walker written here (independent of the reader), run on the
// intact files.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/gguf/gguf_reader.h"
#include "tests/support/test_paths.h"

namespace llmux::gguf {
namespace {

namespace fs = std::filesystem;

// Exactly file-sized, so that a read past the end leaves the heap block (ASan builds catch it).
std::vector<uint8_t> ReadWholeFile(const fs::path& path) {
  std::vector<uint8_t> out(fs::file_size(path));
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
  return out;
}

std::vector<fs::path> SharedModels() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(llmux::testing::SharedDir()) / "models")) {
    if (e.path().extension() == ".gguf") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Offsets of the fields of one intact file.
struct Layout {
  struct Kv {
    size_t key_len;      // u64 key length
    size_t value_type;   // u32
    size_t value;        // start of the value (string length, array element type, scalar)
    size_t end;          // first byte after the value
    uint32_t type;
  };
  struct Tensor {
    size_t n_dims, ne, type, offset;
  };
  std::vector<Kv> kvs;
  std::vector<Tensor> tensors;
  size_t infos_begin = 0, infos_end = 0;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;
  uint64_t data_end = 0;  // end of the last tensor's data (0 without tensors)
};

class Walker {
 public:
  explicit Walker(const std::vector<uint8_t>& b) : b_(b) {}
  template <typename T>
  T Get() {
    T v;
    std::memcpy(&v, b_.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  void SkipString() { pos += Get<uint64_t>(); }
  void SkipValue(uint32_t type) {
    static const size_t kSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
      SkipString();
    } else if (type == 9) {
      uint32_t et = Get<uint32_t>();
      uint64_t n = Get<uint64_t>();
      for (uint64_t i = 0; i < n; ++i) SkipValue(et);
    } else {
      pos += kSizes[type];
    }
  }
  size_t pos = 0;

 private:
  const std::vector<uint8_t>& b_;
};

Layout Walk(const std::vector<uint8_t>& b) {
  Layout l;
  Walker w(b);
  w.pos = 8;
  uint64_t n_tensors = w.Get<uint64_t>();
  uint64_t n_kv = w.Get<uint64_t>();
  uint64_t alignment = 32;
  for (uint64_t i = 0; i < n_kv; ++i) {
    Layout::Kv kv;
    kv.key_len = w.pos;
    uint64_t klen = w.Get<uint64_t>();
    std::string key(reinterpret_cast<const char*>(b.data() + w.pos), klen);
    w.pos += klen;
    kv.value_type = w.pos;
    kv.type = w.Get<uint32_t>();
    kv.value = w.pos;
    if (key == "general.alignment") {
      uint32_t a;
      std::memcpy(&a, b.data() + w.pos, 4);
      alignment = a;
    }
    w.SkipValue(kv.type);
    kv.end = w.pos;
    l.kvs.push_back(kv);
  }
  l.infos_begin = w.pos;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Layout::Tensor t;
    w.SkipString();
    t.n_dims = w.pos;
    uint32_t n_dims = w.Get<uint32_t>();
    t.ne = w.pos;
    int64_t ne0 = 0, rows = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      int64_t v = w.Get<int64_t>();
      if (d == 0) ne0 = v; else rows *= v;
    }
    t.type = w.pos;
    uint32_t type = w.Get<uint32_t>();
    t.offset = w.pos;
    uint64_t off = w.Get<uint64_t>();
    spans.push_back({off, *RowBytes(static_cast<DType>(type), ne0) * rows});
    l.tensors.push_back(t);
  }
  l.infos_end = w.pos;
  l.alignment = alignment;
  l.data_offset = (l.infos_end + alignment - 1) / alignment * alignment;
  for (auto [off, n] : spans) l.data_end = std::max<uint64_t>(l.data_end, l.data_offset + off + n);
  return l;
}

// The same file with every array of more than 64 strings or numbers cut to its first 64
// elements: identical tensor infos and data, but a vocabulary that parses in microseconds.
std::vector<uint8_t> ShortenArrays(const std::vector<uint8_t>& b, const Layout& l) {
  constexpr uint64_t kKeep = 64;
  static const size_t kSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  std::vector<uint8_t> out(b.begin(), b.begin() + 24);
  for (const auto& kv : l.kvs) {
    uint32_t et = 0;
    uint64_t count = 0;
    if (kv.type == 9) {
      std::memcpy(&et, b.data() + kv.value, 4);
      std::memcpy(&count, b.data() + kv.value + 4, 8);
    }
    if (kv.type != 9 || count <= kKeep || et == 9) {
      out.insert(out.end(), b.begin() + kv.key_len, b.begin() + kv.end);
      continue;
    }
    size_t first = kv.value + 12;
    size_t end = first;
    for (uint64_t i = 0; i < kKeep; ++i) {
      if (et == 8) {
        uint64_t len;
        std::memcpy(&len, b.data() + end, 8);
        end += 8 + len;
      } else {
        end += kSizes[et];
      }
    }
    out.insert(out.end(), b.begin() + kv.key_len, b.begin() + kv.value + 4);
    const auto* k = reinterpret_cast<const uint8_t*>(&kKeep);
    out.insert(out.end(), k, k + 8);
    out.insert(out.end(), b.begin() + first, b.begin() + end);
  }
  out.insert(out.end(), b.begin() + l.infos_begin, b.begin() + l.infos_end);
  while (out.size() % l.alignment != 0) out.push_back(0);
  out.insert(out.end(), b.begin() + l.data_offset, b.end());
  return out;
}

// Parses `bytes` (an exact-size heap block, so that ASan builds see any read past the end) and
// checks the contract: a refusal says why; an accepted file keeps every tensor inside the buffer.
::testing::AssertionResult ParseIsSafe(const std::vector<uint8_t>& bytes, bool* accepted) {
  auto r = GgufFile::Parse(bytes.data(), bytes.size());
  *accepted = r.ok();
  if (!r.ok()) {
    if (r.status().message().empty()) return ::testing::AssertionFailure() << "empty message";
    return ::testing::AssertionSuccess();
  }
  const uint8_t* begin = bytes.data();
  const uint8_t* end = begin + bytes.size();
  for (const auto& t : (*r)->tensors()) {
    if (t.nbytes == 0) continue;
    if (t.data < begin || t.data > end || t.nbytes > static_cast<uint64_t>(end - t.data)) {
      return ::testing::AssertionFailure() << "tensor '" << t.name << "' outside the buffer";
    }
  }
  return ::testing::AssertionSuccess();
}

class CorruptionTest : public ::testing::TestWithParam<fs::path> {
 protected:
  void SetUp() override {
    bytes_ = ReadWholeFile(GetParam());
    ASSERT_GT(bytes_.size(), 24u);
    auto intact = GgufFile::Parse(bytes_.data(), bytes_.size());
    ASSERT_TRUE(intact.ok()) << intact.status().ToString();
    layout_ = Walk(bytes_);
    ASSERT_EQ(layout_.kvs.size(), (*intact)->metadata().size());
    ASSERT_EQ(layout_.tensors.size(), (*intact)->tensors().size());
  }

  // Overwrites sizeof(T) bytes at `pos` with `v`, checks the parse, restores the bytes.
  template <typename T>
  bool Corrupt(size_t pos, T v, const std::string& what) {
    T saved;
    std::memcpy(&saved, bytes_.data() + pos, sizeof(T));
    std::memcpy(bytes_.data() + pos, &v, sizeof(T));
    bool accepted = false;
    EXPECT_TRUE(ParseIsSafe(bytes_, &accepted)) << what << " at " << pos << " = " << +v;
    std::memcpy(bytes_.data() + pos, &saved, sizeof(T));
    ++cases_;
    return accepted;
  }

  template <typename T>
  T Original(size_t pos) const {
    T v;
    std::memcpy(&v, bytes_.data() + pos, sizeof(T));
    return v;
  }

  std::vector<uint8_t> bytes_;
  Layout layout_;
  int cases_ = 0;
};

TEST_P(CorruptionTest, Truncated) {
  const size_t size = bytes_.size();
  const size_t mid_kv = layout_.kvs.empty() ? 24 : layout_.kvs[layout_.kvs.size() / 2].value + 3;
  std::set<size_t> lengths = {0, 1, 3, 4, 7, 8, 15, 16, 23, 24, 25, 33, mid_kv,
                              (24 + layout_.infos_begin) / 2, layout_.infos_begin - 1,
                              layout_.infos_begin, layout_.infos_begin + 5,
                              (layout_.infos_begin + layout_.infos_end) / 2,
                              layout_.infos_end - 1, size - 1};
  if (!layout_.kvs.empty()) {
    lengths.insert(layout_.kvs[0].key_len + 4);
    lengths.insert(layout_.kvs[0].value_type + 2);
    lengths.insert(layout_.kvs.back().value + 1);
  }
  if (!layout_.tensors.empty()) {
    lengths.insert(layout_.infos_end + 1);
    lengths.insert((layout_.infos_end + size) / 2);
    lengths.insert(static_cast<size_t>(layout_.data_end) - 1);
  }
  for (size_t len : lengths) {
    if (len >= size) continue;
    std::vector<uint8_t> prefix(bytes_.begin(), bytes_.begin() + static_cast<ptrdiff_t>(len));
    bool accepted = false;
    EXPECT_TRUE(ParseIsSafe(prefix, &accepted)) << "truncated to " << len;
    // Without all tensor infos, or with a tensor cut short, the file must be refused.
    if (len < layout_.infos_end || len < layout_.data_end) {
      EXPECT_FALSE(accepted) << "truncated to " << len << " of " << size;
    }
  }
}

TEST_P(CorruptionTest, Header) {
  EXPECT_FALSE(Corrupt<uint8_t>(0, 'X', "magic[0]"));
  EXPECT_FALSE(Corrupt<uint8_t>(3, 'g', "magic[3]"));
  for (uint32_t v : {0u, 1u, 4u, 0x03000000u, 0xffffffffu}) {
    EXPECT_FALSE(Corrupt<uint32_t>(4, v, "version"));
  }
  const uint64_t n_tensors = Original<uint64_t>(8);
  const uint64_t n_kv = Original<uint64_t>(16);
  for (uint64_t v : {n_tensors + 1, n_tensors + 1000, ~uint64_t{0}, uint64_t{1} << 62}) {
    EXPECT_FALSE(Corrupt<uint64_t>(8, v, "n_tensors"));
  }
  if (n_tensors > 0) Corrupt<uint64_t>(8, n_tensors - 1, "n_tensors");
  Corrupt<uint64_t>(8, 0, "n_tensors");
  for (uint64_t v : {n_kv + 1, ~uint64_t{0}, uint64_t{1} << 62}) {
    EXPECT_FALSE(Corrupt<uint64_t>(16, v, "n_kv"));
  }
  Corrupt<uint64_t>(16, 0, "n_kv");
  Corrupt<uint64_t>(16, n_kv - 1, "n_kv");
}

TEST_P(CorruptionTest, Metadata) {
  const auto& kvs = layout_.kvs;
  ASSERT_FALSE(kvs.empty());
  // First, middle and last entries, plus the first string and the two largest arrays.
  std::set<size_t> picks = {0, kvs.size() / 2, kvs.size() - 1};
  for (size_t i = 0; i < kvs.size(); ++i) {
    if (kvs[i].type == 8) {
      picks.insert(i);
      break;
    }
  }
  for (size_t i = 0; i < kvs.size(); ++i) {
    if (kvs[i].type == 9 && Original<uint64_t>(kvs[i].value + 4) > 1000) picks.insert(i);
  }
  for (size_t i : picks) {
    const auto& kv = kvs[i];
    // Cases after a big array parse the whole array first: fewer variants there.
    const bool late = i > 0 && kvs[i].key_len > (1u << 20);
    if (late) {
      EXPECT_FALSE(Corrupt<uint64_t>(kv.key_len, ~uint64_t{0}, "key length"));
      EXPECT_FALSE(Corrupt<uint32_t>(kv.value_type, 13, "value type"));
      if (kv.type == 9) {
        Corrupt<uint32_t>(kv.value, 8, "array type");
        EXPECT_FALSE(Corrupt<uint64_t>(kv.value + 4, ~uint64_t{0}, "array count"));
      }
      continue;
    }
    const uint64_t key_len = Original<uint64_t>(kv.key_len);
    for (uint64_t v : {uint64_t{0}, key_len + 1, key_len - 1, ~uint64_t{0}, uint64_t{1} << 40}) {
      Corrupt<uint64_t>(kv.key_len, v, "key length");
    }
    for (uint32_t v : {13u, 0xffffffffu}) {
      EXPECT_FALSE(Corrupt<uint32_t>(kv.value_type, v, "value type"));
    }
    for (uint32_t v : {9u, 8u, 0u, 10u}) {
      if (v != kv.type) Corrupt<uint32_t>(kv.value_type, v, "value type");
    }
    if (kv.type == 8) {
      const uint64_t len = Original<uint64_t>(kv.value);
      for (uint64_t v : {len + 1, len + 4096, ~uint64_t{0}, uint64_t{1} << 62, uint64_t{0}}) {
        Corrupt<uint64_t>(kv.value, v, "string length");
      }
    }
    if (kv.type == 9) {
      const uint64_t count = Original<uint64_t>(kv.value + 4);
      for (uint32_t v : {13u, 9u, 8u, 12u, 0u}) Corrupt<uint32_t>(kv.value, v, "array type");
      for (uint64_t v : {count + 1, count * 2, ~uint64_t{0}, uint64_t{1} << 61, uint64_t{0}}) {
        Corrupt<uint64_t>(kv.value + 4, v, "array count");
      }
    }
  }
  EXPECT_GT(cases_, 20);
}

TEST_P(CorruptionTest, TensorInfos) {
  if (layout_.tensors.empty()) {
    // A vocabulary-only file has no tensor infos to corrupt; it must parse with none.
    auto whole = GgufFile::Parse(bytes_.data(), bytes_.size());
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    EXPECT_TRUE((*whole)->tensors().empty());
    return;
  }
  {
    // Work on the file with short arrays (fast to parse); it must hold the very same tensors.
    auto original = GgufFile::Parse(bytes_.data(), bytes_.size());
    ASSERT_TRUE(original.ok());
    std::vector<uint8_t> slim = ShortenArrays(bytes_, layout_);
    auto parsed = GgufFile::Parse(slim.data(), slim.size());
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    ASSERT_EQ((*parsed)->tensors().size(), (*original)->tensors().size());
    for (size_t i = 0; i < (*parsed)->tensors().size(); ++i) {
      const auto& a = (*parsed)->tensors()[i];
      const auto& b = (*original)->tensors()[i];
      ASSERT_EQ(a.name, b.name);
      ASSERT_EQ(a.type, b.type);
      ASSERT_EQ(a.ne, b.ne);
      ASSERT_EQ(a.nbytes, b.nbytes);
      ASSERT_EQ(0, std::memcmp(a.data, b.data, a.nbytes)) << a.name;
    }
    bytes_ = std::move(slim);  // `original` and `parsed` are not used past this point
    layout_ = Walk(bytes_);
  }
  const auto& ts = layout_.tensors;
  for (size_t i : std::set<size_t>{0, ts.size() - 1}) {
    const auto& t = ts[i];
    for (uint32_t v : {0u, 5u, 0xffffffffu}) EXPECT_FALSE(Corrupt<uint32_t>(t.n_dims, v, "n_dims"));
    const uint32_t n_dims = Original<uint32_t>(t.n_dims);
    Corrupt<uint32_t>(t.n_dims, n_dims == 1 ? 2 : n_dims - 1, "n_dims");
    const int64_t ne0 = Original<int64_t>(t.ne);
    for (int64_t v : {int64_t{0}, ne0 + 1, ne0 * 2, INT64_MAX, int64_t{1} << 40}) {
      Corrupt<int64_t>(t.ne, v, "ne[0]");
    }
    EXPECT_FALSE(Corrupt<int64_t>(t.ne, -1, "ne[0]"));
    for (uint32_t v : {19u, 4u, 200u, 0xffffffffu}) EXPECT_FALSE(Corrupt<uint32_t>(t.type, v, "type"));
    for (uint32_t v : {0u, 8u, 14u}) Corrupt<uint32_t>(t.type, v, "type");
    const uint64_t off = Original<uint64_t>(t.offset);
    for (uint64_t v : {off + 1, off + 32, uint64_t{bytes_.size()}, ~uint64_t{0} - 31, uint64_t{0}}) {
      Corrupt<uint64_t>(t.offset, v, "offset");
    }
    EXPECT_FALSE(Corrupt<uint64_t>(t.offset, off + 1, "offset"));  // misaligned
  }
}

// Many random single-byte changes in the header and tensor infos of the smallest model.
TEST(CorruptionRandom, Stories260KByteFlips) {
  auto bytes = ReadWholeFile(fs::path(llmux::testing::SharedDir()) / "models" / "stories260K.gguf");
  const Layout layout = Walk(bytes);
  std::mt19937 rng(1234);
  std::uniform_int_distribution<size_t> pos(0, layout.infos_end - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  int refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::vector<std::pair<size_t, uint8_t>> saved;
    int n_changes = 1 + i % 3;
    for (int c = 0; c < n_changes; ++c) {
      size_t p = pos(rng);
      saved.push_back({p, bytes[p]});
      bytes[p] = static_cast<uint8_t>(byte(rng));
    }
    bool accepted = false;
    ASSERT_TRUE(ParseIsSafe(bytes, &accepted)) << "case " << i;
    refused += accepted ? 0 : 1;
    for (auto it = saved.rbegin(); it != saved.rend(); ++it) bytes[it->first] = it->second;
  }
  EXPECT_GT(refused, 100);  // changes to lengths, types and offsets are caught
}

std::string ParamName(const ::testing::TestParamInfo<fs::path>& info) {
  std::string s = info.param.stem().string();
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

INSTANTIATE_TEST_SUITE_P(SharedModels, CorruptionTest, ::testing::ValuesIn(SharedModels()),
                         ParamName);

}  // namespace
}  // namespace llmux::gguf
