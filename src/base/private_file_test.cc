#include "base/private_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace llmux {
namespace {

namespace fs = std::filesystem;

TEST(PrivateFileTest, WritesAFileOnlyTheOwnerCanReadAndNeverReusesOne) {
  const fs::path dir = fs::temp_directory_path() / ("llmux_private_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "secret").string();
  ASSERT_TRUE(WriteNewPrivateFile(path, "s3cret\n").ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "s3cret\n");

  // An existing file, or a link planted where the secret goes, is refused and left alone.
  Status again = WriteNewPrivateFile(path, "other");
  EXPECT_EQ(again.code(), StatusCode::kIoError);
  const std::string target = (dir / "target").string();
  std::ofstream(target) << "untouched";
  const std::string link = (dir / "link").string();
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  EXPECT_FALSE(WriteNewPrivateFile(link, "evil").ok());
  std::ifstream t(target);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(t), {}), "untouched");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace llmux
