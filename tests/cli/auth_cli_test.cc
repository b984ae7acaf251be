// `llmux user ...` and `llmux key ...` on a real SQLite store, and `serve --no-auth` refused
// off loopback.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include "run_command.h"

namespace llmux::testing {
namespace {

namespace fs = std::filesystem;

class AuthCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("llmux_auth_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // `llmux <args> --data-dir <dir>` with `input` on stdin; stderr merged when asked.
  CommandResult Llmux(const std::string& args, const std::string& input = "", bool merge = true) {
    const fs::path in = dir_ / "stdin.txt";
    std::ofstream(in) << input;
    return RunLlmux(args + " --data-dir '" + (dir_ / "data").string() + "' < '" + in.string() + "'",
                    merge);
  }

  std::string StoreBytes() {
    std::ifstream f(dir_ / "data" / "llmux.db", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

  fs::path dir_;
};

TEST_F(AuthCliTest, UsersAreAddedListedChangedAndRemoved) {
  fs::create_directories(dir_ / "data");
  auto added = Llmux("user add alice --role operator", "first-Secret-1\n");
  ASSERT_EQ(added.exit_code, 0) << added.out;
  EXPECT_NE(added.out.find("user alice created"), std::string::npos) << added.out;
  EXPECT_EQ(added.out.find("first-Secret-1"), std::string::npos);

  auto dup = Llmux("user add alice", "x\n");
  EXPECT_NE(dup.exit_code, 0);
  EXPECT_NE(dup.out.find("error:"), std::string::npos) << dup.out;
  auto bad_role = Llmux("user add bob --role wizard", "x\n");
  EXPECT_NE(bad_role.exit_code, 0);
  EXPECT_NE(bad_role.out.find("no role named 'wizard'"), std::string::npos) << bad_role.out;

  auto list = Llmux("user list");
  ASSERT_EQ(list.exit_code, 0) << list.out;
  EXPECT_TRUE(std::regex_search(list.out, std::regex(R"(\n1\s+alice\s+operator\s+active)"))) << list.out;

  ASSERT_EQ(Llmux("user passwd alice", "second-Secret-2\n").exit_code, 0);
  // The store keeps Argon2id hashes, never the passwords.
  const std::string bytes = StoreBytes();
  EXPECT_EQ(bytes.find("first-Secret-1"), std::string::npos);
  EXPECT_EQ(bytes.find("second-Secret-2"), std::string::npos);

  ASSERT_EQ(Llmux("user rm alice").exit_code, 0);
  list = Llmux("user list");
  EXPECT_EQ(list.out.find("alice"), std::string::npos) << list.out;
  EXPECT_NE(Llmux("user rm alice").exit_code, 0);
}

TEST_F(AuthCliTest, KeysAreCreatedShownOnceListedAndRevoked) {
  fs::create_directories(dir_ / "data");
  ASSERT_EQ(Llmux("user add carol --no-password").exit_code, 0);
  auto created = Llmux("key create --user carol --name ci --scope 'models:use:*' --rpm 10", "", false);
  ASSERT_EQ(created.exit_code, 0) << created.out;
  std::smatch m;
  const std::string out = created.out;
  ASSERT_TRUE(std::regex_match(out, m, std::regex(R"((llmux_([a-z2-7]{12})_[0-9A-Za-z]{43})\n)"))) << out;
  const std::string key = m[1], prefix = m[2];

  auto list = Llmux("key list --user carol");
  ASSERT_EQ(list.exit_code, 0) << list.out;
  EXPECT_NE(list.out.find("llmux_" + prefix), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find(key), std::string::npos) << "a listing showed the secret";
  EXPECT_TRUE(std::regex_search(list.out, std::regex(R"(\n1\s+llmux_\w+\s+1\s+ci\s+models:use:\*\s+active)"))) << list.out;
  EXPECT_EQ(StoreBytes().find(key.substr(19)), std::string::npos);

  EXPECT_NE(Llmux("key create --scope 'logs:raed'").exit_code, 0);
  ASSERT_EQ(Llmux("key revoke 1").exit_code, 0);
  list = Llmux("key list");
  EXPECT_TRUE(std::regex_search(list.out, std::regex(R"(\n1\s+.*revoked)"))) << list.out;
  EXPECT_NE(Llmux("key revoke 99").exit_code, 0);
}

TEST_F(AuthCliTest, NoAuthIsRefusedOffLoopback) {
  // --host is resolved to bind: a name that only looks like loopback may resolve anywhere.
  for (const char* host : {"0.0.0.0", "127.0.0.1.evil.com", "localhost.evil.com", "127.evil.com"}) {
    auto r = Llmux("serve --model '" + SharedPath("models/stories260K.gguf") + "' --host " + host +
                   " --port 0 --no-grpc --no-auth");
    EXPECT_NE(r.exit_code, 0) << host;
    EXPECT_NE(r.out.find("--no-auth is refused on a non-loopback address"), std::string::npos)
        << host << ": " << r.out;
  }
}

}  // namespace
}  // namespace llmux::testing
