#include "base/directory_lock.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace llmux {
namespace {

namespace fs = std::filesystem;

TEST(DirectoryLockTest, OneHolderAtATimeAndReleasedWithTheObject) {
  const fs::path dir = fs::temp_directory_path() / ("llmux_lock_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    auto first = DirectoryLock::Acquire(dir.string());
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    // A second holder is refused, naming the first one's pid (flock locks belong to the open
    // file, so this holds within one process too; the e2e auth suite tries a second process).
    auto second = DirectoryLock::Acquire(dir.string());
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(second.status().message().find("in use by another llmux serve (pid " + std::to_string(::getpid()) + ")"),
              std::string::npos)
        << second.status().ToString();
  }
  EXPECT_TRUE(DirectoryLock::Acquire(dir.string()).ok()) << "the lock outlived its holder";
  EXPECT_EQ(fs::status(dir / "llmux.lock").permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace llmux
