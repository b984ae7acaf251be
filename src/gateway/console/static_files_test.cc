// StaticFiles against a real directory: plain paths are served with their types; traversal,
// odd segments, escapes, symlinks out of the root and oversized files are not.
#include "gateway/console/static_files.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace llmux::gateway {
namespace {

namespace fs = std::filesystem;

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/llmux-static-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    fs::create_directories(base_ / "dist/assets");
    Write(base_ / "dist/index.html", "<html>console</html>");
    Write(base_ / "dist/assets/app-1a2b.js", "console.log(1)");
    Write(base_ / "dist/assets/app-1a2b.css", "body{}");
    Write(base_ / "dist/big.txt", std::string(2000, 'x'));
    Write(base_ / "secret.txt", "outside");
    fs::create_symlink(base_ / "secret.txt", base_ / "dist/leak.txt");
    fs::create_directory_symlink(base_, base_ / "dist/up");
    fs::create_symlink(base_ / "dist/assets/app-1a2b.js", base_ / "dist/inside.js");
  }
  void TearDown() override { fs::remove_all(base_); }

  static void Write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

  fs::path base_;
};

TEST_F(StaticFilesTest, ServesFilesWithTheirContentTypes) {
  StaticFiles files(base_ / "dist", 1000);
  auto index = files.Read("");
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ(index->content, "<html>console</html>");
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  auto js = files.Read("assets/app-1a2b.js");
  ASSERT_TRUE(js.ok());
  EXPECT_EQ(js->content, "console.log(1)");
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(js->path, "assets/app-1a2b.js");
  EXPECT_EQ(files.Read("assets/app-1a2b.css")->content_type, "text/css; charset=utf-8");
  // A symlink that stays inside the root is fine.
  EXPECT_TRUE(files.Read("inside.js").ok());
}

TEST_F(StaticFilesTest, RefusesTraversalEscapesAndSymlinksOutOfTheRoot) {
  StaticFiles files(base_ / "dist", 1000);
  for (const char* bad :
       {"../secret.txt", "assets/../../secret.txt", "./index.html", "assets//app-1a2b.js",
        "/etc/passwd", "assets/", "%2e%2e/secret.txt", "assets\\app-1a2b.js", "leak.txt",
        "up/secret.txt", "assets", "index.html\n", "nope.js"}) {
    auto r = files.Read(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << bad;
  }
  EXPECT_FALSE(StaticFiles::SafeRelativePath(std::string(600, 'a')));
  EXPECT_FALSE(StaticFiles::SafeRelativePath(std::string_view("a\0b", 3)));
  EXPECT_TRUE(StaticFiles::SafeRelativePath("assets/app-1a2b.js"));
}

TEST_F(StaticFilesTest, FilesOverTheBoundAndAMissingRootAreRefused) {
  StaticFiles files(base_ / "dist", 1000);
  auto big = files.Read("big.txt");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
  StaticFiles none(base_ / "not-there", 1000);
  EXPECT_EQ(none.Read("").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace llmux::gateway
