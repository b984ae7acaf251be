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

mode_t ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

TEST(PrivateFileTest, DirectoriesAreCreatedForTheOwnerOnly) {
  const mode_t old_umask = ::umask(0);  // the widest umask: the modes must not depend on it
  const fs::path root = fs::temp_directory_path() / ("llmux_private_dir_" + std::to_string(::getpid()));
  fs::remove_all(root);
  bool widened = true;
  ASSERT_TRUE(CreatePrivateDirectory((root / "a" / "data").string(), &widened).ok());
  EXPECT_FALSE(widened);
  EXPECT_EQ(ModeOf(root / "a" / "data"), 0700u);
  ASSERT_TRUE(CreatePrivateDirectory((root / "b" / "data").string() + "/", &widened).ok());
  EXPECT_FALSE(widened);
  EXPECT_EQ(ModeOf(root / "b" / "data"), 0700u);
  // An existing directory is kept, and reported when others can enter it.
  fs::create_directories(root / "shared");
  fs::permissions(root / "shared", fs::perms(0755));
  ASSERT_TRUE(CreatePrivateDirectory((root / "shared").string(), &widened).ok());
  EXPECT_TRUE(widened);
  EXPECT_EQ(ModeOf(root / "shared"), 0755u);
  std::ofstream(root / "file") << "x";
  EXPECT_FALSE(CreatePrivateDirectory((root / "file").string()).ok());
  ::umask(old_umask);
  fs::remove_all(root);
}

TEST(PrivateFileTest, MakeFilePrivateCreatesOrNarrowsAndKeepsTheContent) {
  const mode_t old_umask = ::umask(0);
  const fs::path dir = fs::temp_directory_path() / ("llmux_private_mode_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  ASSERT_TRUE(MakeFilePrivate((dir / "new.db").string()).ok());
  EXPECT_EQ(ModeOf(dir / "new.db"), 0600u);
  EXPECT_EQ(fs::file_size(dir / "new.db"), 0u);
  std::ofstream(dir / "old.db") << "data";
  fs::permissions(dir / "old.db", fs::perms(0644));
  ASSERT_TRUE(MakeFilePrivate((dir / "old.db").string()).ok());
  EXPECT_EQ(ModeOf(dir / "old.db"), 0600u);
  std::ifstream in(dir / "old.db");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "data");
  // Never through a link planted in its place.
  ASSERT_EQ(::symlink((dir / "old.db").c_str(), (dir / "link.db").c_str()), 0);
  EXPECT_FALSE(MakeFilePrivate((dir / "link.db").string()).ok());
  ::umask(old_umask);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace llmux
