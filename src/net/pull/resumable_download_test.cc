#include "net/pull/resumable_download.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "net/pull/range_test_server.h"
#include "tests/support/free_port.h"

namespace llmux::pull {
namespace {

namespace fs = std::filesystem;

// The expected digest, by OpenSSL's one-shot SHA256 over the source bytes (not the code under
// test).
std::string ReferenceSha256(const std::string& bytes) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  char hex[2 * SHA256_DIGEST_LENGTH + 1];
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return hex;
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("llmux_pull_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    options_.backoff = std::chrono::milliseconds(10);
    options_.idle_timeout = std::chrono::seconds(5);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Partial() const { return (dir_ / "f.partial").string(); }

  fs::path dir_;
  DownloadOptions options_;
};

TEST_F(DownloadTest, ResumesAfterTheConnectionDropsHalfwayAndGetsTheSameBytes) {
  const std::string body = RandomBytes(3 << 20, 1);
  RangeTestServer server(body, {.drops = 2, .drop_after = 1 << 20});
  std::vector<uint64_t> completed;
  Result<Downloaded> got =
      DownloadResumable(server.Url(), Partial(), options_, [&](const DownloadProgress& p) {
        completed.push_back(p.completed);
        return true;
      });
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size, body.size());
  EXPECT_EQ(got->sha256, ReferenceSha256(body));
  EXPECT_EQ(ReadFile(Partial()), body);
  const std::vector<std::string> ranges = server.ranges_seen();
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1], "bytes=" + std::to_string(1 << 20) + "-");
  EXPECT_EQ(ranges[2], "bytes=" + std::to_string(2 << 20) + "-");
  EXPECT_TRUE(std::is_sorted(completed.begin(), completed.end()));
  EXPECT_EQ(completed.back(), body.size());
}

TEST_F(DownloadTest, ResumesAPartialFileLeftByAnEarlierRunHashingItsBytesToo) {
  const std::string body = RandomBytes(1 << 20, 2);
  WriteFile(Partial(), body.substr(0, 300000));
  RangeTestServer server(body, {});
  Result<Downloaded> got = DownloadResumable(server.Url(), Partial(), options_, nullptr);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(server.ranges_seen(), std::vector<std::string>{"bytes=300000-"});
  EXPECT_EQ(got->sha256, ReferenceSha256(body));
  EXPECT_EQ(ReadFile(Partial()), body);
}

TEST_F(DownloadTest, AServerThatIgnoresRangesGetsTheFileFromTheStart) {
  const std::string body = RandomBytes(1 << 20, 3);
  WriteFile(Partial(), body.substr(0, 400000));
  RangeTestServer server(body, {.ranges = false, .drops = 1, .drop_after = 200000});
  Result<Downloaded> got = DownloadResumable(server.Url(), Partial(), options_, nullptr);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(server.ranges_seen().size(), 2u);
  EXPECT_EQ(got->sha256, ReferenceSha256(body));
  EXPECT_EQ(ReadFile(Partial()), body);  // not the old prefix followed by the whole file
}

TEST_F(DownloadTest, AFinishedPartialFileIsDoneWhenTheServerHasNothingMore) {
  const std::string body = RandomBytes(100000, 4);
  WriteFile(Partial(), body);
  RangeTestServer server(body, {});
  Result<Downloaded> got = DownloadResumable(server.Url(), Partial(), options_, nullptr);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->sha256, ReferenceSha256(body));
}

TEST_F(DownloadTest, AStalledTransferTimesOutAndResumes) {
  const std::string body = RandomBytes(1 << 20, 8);
  RangeTestServer server(body, {.stalls = 1});
  options_.idle_timeout = std::chrono::milliseconds(200);
  Result<Downloaded> got = DownloadResumable(server.Url(), Partial(), options_, nullptr);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->sha256, ReferenceSha256(body));
  // The server handles one connection at a time: the resumes made while it still sleeps time
  // out waiting for their headers too, and each asks again for the same second half.
  const std::vector<std::string> ranges = server.ranges_seen();
  ASSERT_GE(ranges.size(), 2u);
  for (size_t i = 1; i < ranges.size(); ++i) {
    EXPECT_EQ(ranges[i], "bytes=" + std::to_string(body.size() / 2) + "-");
  }
}

TEST_F(DownloadTest, GivesUpAfterTheAllowedAttempts) {
  const std::string body = RandomBytes(1 << 20, 5);
  RangeTestServer server(body, {.drops = 100, .drop_after = 1000});
  options_.max_attempts = 3;
  Result<Downloaded> got = DownloadResumable(server.Url(), Partial(), options_, nullptr);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status().ToString();
  EXPECT_EQ(server.ranges_seen().size(), 3u);
  EXPECT_EQ(fs::file_size(Partial()), 3000u);  // kept for a later resume
}

TEST_F(DownloadTest, RefusesARedirectLoop) {
  RangeTestServer server("x", {.redirect_loop = true});
  options_.max_redirects = 4;
  Result<Downloaded> got = DownloadResumable(server.Url(), Partial(), options_, nullptr);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(got.status().message().find("too many redirects"), std::string::npos);
  EXPECT_EQ(server.ranges_seen().size(), 5u);
}

TEST_F(DownloadTest, RefusesABodyOverTheLimitAndRemovesThePartialFile) {
  RangeTestServer endless("", {.endless = true});
  options_.max_bytes = 1 << 20;
  Result<Downloaded> got = DownloadResumable(endless.Url(), Partial(), options_, nullptr);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kResourceExhausted) << got.status().ToString();
  EXPECT_FALSE(fs::exists(Partial()));
  // A declared length over the limit is refused before any byte is written.
  RangeTestServer big(RandomBytes(2 << 20, 6), {});
  got = DownloadResumable(big.Url(), Partial(), options_, nullptr);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(fs::exists(Partial()));
}

TEST_F(DownloadTest, StopsWhenTheProgressCallbackSaysSoKeepingThePartialFile) {
  const std::string body = RandomBytes(2 << 20, 7);
  RangeTestServer server(body, {});
  Result<Downloaded> got =
      DownloadResumable(server.Url(), Partial(), options_,
                        [](const DownloadProgress& p) { return p.completed < 100000; });
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(server.ranges_seen().size(), 1u);  // not retried
  EXPECT_GE(fs::file_size(Partial()), 100000u);
}

// `openssl s_server -WWW` serving the files of `dir` over TLS with a certificate for 127.0.0.1
// made here: HTTP/1.0, no Content-Length (the body ends when the connection does), no ranges.
class TlsFileServer {
 public:
  explicit TlsFileServer(const fs::path& dir) {
    cert_ = (dir / "cert.pem").string();
    const std::string key = (dir / "key.pem").string();
    const std::string make_cert =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
        "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
        key + " -out " + cert_ + " >/dev/null 2>&1";
    if (std::system(make_cert.c_str()) != 0) return;
    port_ = llmux::testing::FreeLoopbackPort();
    pid_ = ::fork();
    if (pid_ == 0) {
      if (::chdir(dir.c_str()) != 0) ::_exit(127);
      const std::string accept = std::to_string(port_);
      ::execlp("openssl", "openssl", "s_server", "-quiet", "-WWW", "-accept", accept.c_str(),
               "-cert", cert_.c_str(), "-key", key.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(port_));
      const bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
      ::close(fd);
      if (up) {
        ok_ = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~TlsFileServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ok() const { return ok_; }
  std::string Url(const std::string& file) const {
    return "https://127.0.0.1:" + std::to_string(port_) + "/" + file;
  }
  const std::string& cert() const { return cert_; }

 private:
  std::string cert_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool ok_ = false;
};

TEST_F(DownloadTest, DownloadsOverHttpsTrustingTheGivenCaOnly) {
  const std::string body = RandomBytes(600000, 9);
  fs::create_directories(dir_ / "www");
  WriteFile(dir_ / "www" / "model.bin", body);
  TlsFileServer server(dir_ / "www");
  ASSERT_TRUE(server.ok()) << "could not start openssl s_server";
  options_.ca_file = server.cert();
  Result<Downloaded> got = DownloadResumable(server.Url("model.bin"), Partial(), options_, nullptr);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->sha256, ReferenceSha256(body));
  EXPECT_EQ(got->size, body.size());
  // Without the CA the handshake fails, every time: nothing is written.
  fs::remove(Partial());
  options_.ca_file.clear();
  options_.max_attempts = 2;
  got = DownloadResumable(server.Url("model.bin"), Partial(), options_, nullptr);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("TLS handshake"), std::string::npos)
      << got.status().ToString();
  EXPECT_EQ(fs::file_size(Partial()), 0u);
}

TEST(ContentRangeTest, ParsesWellFormedValuesOnly) {
  auto r = ParseContentRange("bytes 10-19/20");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->start, 10u);
  EXPECT_EQ(r->end, 19u);
  EXPECT_EQ(r->total, 20u);
  EXPECT_EQ(ParseContentRange("bytes 0-4/*")->total, 0u);
  EXPECT_FALSE(ParseContentRange("bytes 5-4/20"));
  EXPECT_FALSE(ParseContentRange("bytes 0-19/19"));
  EXPECT_FALSE(ParseContentRange("items 0-1/2"));
  EXPECT_FALSE(ParseContentRange("bytes -1/2"));
  EXPECT_FALSE(ParseContentRange("bytes 0-99999999999999999999999/*"));
}

}  // namespace
}  // namespace llmux::pull
