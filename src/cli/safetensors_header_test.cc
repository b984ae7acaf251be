// The safetensors tensor-table reader on files written by hand in the test: a valid table with
// offsets worked out here, and every malformation the reader must refuse with its reason.
#include "cli/safetensors_header.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace llmux::cli {
namespace {

// u64 little-endian length + header + `data_bytes` zero bytes.
std::string File(const std::string& header, size_t data_bytes,
                 std::optional<uint64_t> length = {}) {
  std::string s;
  const uint64_t n = length.value_or(header.size());
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  return s + header + std::string(data_bytes, '\0');
}

std::string Refusal(const std::string& bytes) {
  auto r = ParseSafetensorsBytes(bytes, "m.safetensors");
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

TEST(SafetensorsHeader, ReadsTheTable) {
  const std::string header =
      R"({"__metadata__": {"format": "pt"}, "b": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [16, 28]},)"
      R"( "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "z": {"dtype": "F8_E4M3", "shape": [0], "data_offsets": [28, 28]}})";
  auto r = ParseSafetensorsBytes(File(header, 28), "m.safetensors");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  std::map<std::string, convert::HfTensor> by;
  for (const auto& t : *r) by[t.name] = t;
  const uint64_t data = 8 + header.size();
  EXPECT_EQ(by["a"].dtype, "F32");
  EXPECT_EQ(by["a"].shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(by["a"].offset, data);
  EXPECT_EQ(by["a"].nbytes, 16u);
  EXPECT_EQ(by["b"].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(by["b"].offset, data + 16);
  EXPECT_EQ(by["b"].nbytes, 12u);
  EXPECT_EQ(by["z"].nbytes, 0u);
  EXPECT_EQ(by["b"].file, "m.safetensors");
}

TEST(SafetensorsHeader, RefusesMalformedFiles) {
  const std::string one = R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
  EXPECT_EQ(Refusal("abc"), "'m.safetensors': only 3 bytes, too short for a safetensors header");
  std::string past = "'m.safetensors': header length 5000 runs past the end of the file (";
  past += std::to_string(8 + one.size() + 8);
  past += " bytes)";
  EXPECT_EQ(Refusal(File(one, 8, 5000)), past);
  EXPECT_EQ(Refusal(File(one, 8, 200ull << 20)),
            "'m.safetensors': header length 209715200 exceeds the limit of 104857600 bytes");
  // Truncated: the data section ends before the tensor does.
  EXPECT_EQ(Refusal(File(one, 5)),
            "'m.safetensors': tensor 'w': data_offsets [0, 8] run past the data section (5 bytes)");
  EXPECT_EQ(Refusal(File(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, )"
                         R"("b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                         12)),
            "'m.safetensors': tensors 'a' and 'b' overlap");
  EXPECT_EQ(Refusal(File(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8)),
            "'m.safetensors': tensor 'w': shape and dtype F32 need 12 bytes, but data_offsets "
            "[0, 8] hold 8");
  EXPECT_EQ(Refusal(File(R"({"w": {"dtype": "F12", "shape": [2], "data_offsets": [0, 8]}})", 8)),
            "'m.safetensors': tensor 'w' has unknown dtype 'F12'");
  EXPECT_EQ(Refusal(File(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8)),
            "'m.safetensors': tensor 'w': data_offsets [8, 0] end before they begin");
  EXPECT_EQ(Refusal(File(R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8)),
            "'m.safetensors': tensor 'w': shape[0] is not a non-negative integer");
  EXPECT_EQ(
      Refusal(File(
          R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})",
          8)),
      "'m.safetensors': tensor 'w': shape and dtype F32 need more than 2^64 bytes, but "
      "data_offsets [0, 8] hold 8");
  EXPECT_EQ(Refusal(File(R"({"w": {"dtype": "F32", "shape": [2]}})", 8)),
            "'m.safetensors': tensor 'w' has no data_offsets [begin, end]");
  EXPECT_EQ(Refusal(File("[1, 2]", 0)), "'m.safetensors': the header is not a JSON object");
  EXPECT_NE(Refusal(File("{\"w\": ", 0)).find("the header is not valid JSON"), std::string::npos);
  EXPECT_NE(Refusal(File(std::string(500, '[') + std::string(500, ']'), 0)).find("nest"),
            std::string::npos);
}

TEST(SafetensorsHeader, ReadsOnlyTheHeaderFromDisk) {
  const std::filesystem::path p = std::filesystem::temp_directory_path() /
                                  ("llmux_st_" + std::to_string(::getpid()) + ".safetensors");
  const std::string one = R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
  std::ofstream(p, std::ios::binary) << File(one, 8);
  auto r = ReadSafetensorsFile(p.string());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].offset, 8 + one.size());
  // Truncated on disk: the header length is read, the header is not there.
  std::filesystem::resize_file(p, 20);
  auto t = ReadSafetensorsFile(p.string());
  ASSERT_FALSE(t.ok());
  std::string want = "'";  // built step by step: GCC 12 warns falsely on one long concatenation
  want += p.string();
  want += "': header length " + std::to_string(one.size());
  want += " runs past the end of the file (20 bytes)";
  EXPECT_EQ(t.status().message(), want);
  std::filesystem::remove(p);
}

}  // namespace
}  // namespace llmux::cli
