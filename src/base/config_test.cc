#include "base/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace llmux {
namespace {

TEST(ConfigTest, FileThenEnvironmentThenFlags) {
  auto path = std::filesystem::temp_directory_path() / "llmux_config_test.conf";
  {
    std::ofstream f(path);
    f << "# comment\nlog_level = debug\n[server]\nport = 8080\nhost = \"0.0.0.0\"\n";
  }
  Config c;
  ASSERT_TRUE(c.LoadFile(path.string()).ok());
  EXPECT_EQ(c.GetString("log_level", "info"), "debug");
  EXPECT_EQ(*c.GetInt("server.port", 1), 8080);
  EXPECT_EQ(c.GetString("server.host", ""), "0.0.0.0");

  setenv("LLMUX_SERVER_PORT", "9090", 1);
  c.LoadEnvironment();
  EXPECT_EQ(*c.GetInt("server.port", 1), 9090);
  unsetenv("LLMUX_SERVER_PORT");

  c.Set("server.port", "7070");
  EXPECT_EQ(*c.GetInt("server.port", 1), 7070);
  EXPECT_EQ(*c.GetInt("missing", 42), 42);
  std::filesystem::remove(path);
}

TEST(ConfigTest, BadValuesAreErrors) {
  Config c;
  c.Set("n", "12x");
  c.Set("b", "maybe");
  EXPECT_FALSE(c.GetInt("n", 0).ok());
  EXPECT_FALSE(c.GetBool("b", false).ok());
  EXPECT_FALSE(c.LoadFile("/nonexistent/llmux.conf").ok());
}

}  // namespace
}  // namespace llmux
