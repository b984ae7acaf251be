#include "net/pull/model_puller.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <filesystem>
#include <fstream>

#include "net/pull/range_test_server.h"

namespace llmux::pull {
namespace {

namespace fs = std::filesystem;

std::string ReferenceSha256(const std::string& bytes) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  char hex[2 * SHA256_DIGEST_LENGTH + 1];
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return hex;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class RecordingSink : public PullSink {
 public:
  Status OnPulled(const PulledModel& m) override {
    pulled.push_back(m);
    return Status::Ok();
  }
  std::vector<PulledModel> pulled;
};

class PullerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("llmux_puller_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "allowed");
    options_.models_dir = (dir_ / "models").string();
    options_.local_dirs = {(dir_ / "allowed").string()};
    options_.download.backoff = std::chrono::milliseconds(10);
    body_ = std::string(700000, '\0');
    for (size_t i = 0; i < body_.size(); ++i) body_[i] = static_cast<char>(i * 131 + i / 7);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  PullerOptions options_;
  std::string body_;
};

TEST_F(PullerTest, PullsAUrlIntoTheBlobStoreReportingOllamaStyleProgress) {
  RangeTestServer server(body_, {.drops = 1, .drop_after = 300000});
  RecordingSink sink;
  ModelPuller puller(options_, &sink);
  auto job = puller.Start({.url = server.Url() + "?token=secret", .name = "tiny:v1"}, "alice");
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  std::vector<PullProgress> seen;
  Result<PulledModel> m = (*job)->Run([&](const PullProgress& p) {
    seen.push_back(p);
    return true;
  });
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const std::string hex = ReferenceSha256(body_);
  EXPECT_EQ(m->digest, "sha256:" + hex);
  EXPECT_EQ(m->path, (dir_ / "models" / "blobs" / ("sha256-" + hex)).string());
  EXPECT_EQ(ReadFile(m->path), body_);
  EXPECT_EQ(m->size, body_.size());
  EXPECT_EQ(m->source.find("secret"), std::string::npos);
  ASSERT_EQ(sink.pulled.size(), 1u);
  EXPECT_EQ(sink.pulled[0].name, "tiny:v1");
  EXPECT_EQ(sink.pulled[0].path, m->path);
  ASSERT_GE(seen.size(), 5u);
  EXPECT_EQ(seen.front().status, "pulling manifest");
  EXPECT_EQ(seen.back().status, "success");
  EXPECT_EQ(seen.back().digest, "sha256:" + hex);
  uint64_t last = 0;
  for (const PullProgress& p : seen) {
    EXPECT_GE(p.completed, last) << p.status;
    last = p.completed;
  }
  EXPECT_EQ(seen.back().completed, body_.size());
  // Nothing left behind but the blob.
  EXPECT_EQ(
      std::distance(fs::directory_iterator(dir_ / "models" / "blobs"), fs::directory_iterator()),
      1);
}

TEST_F(PullerTest, AWrongDigestIsRefusedAndThePartialFileRemoved) {
  RangeTestServer server(body_, {});
  ModelPuller puller(options_);
  const std::string other = ReferenceSha256("something else");
  auto job = puller.Start({.url = server.Url(), .sha256 = "sha256:" + other}, "alice");
  ASSERT_TRUE(job.ok());
  Result<PulledModel> m = (*job)->Run(nullptr);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(
      std::distance(fs::directory_iterator(dir_ / "models" / "blobs"), fs::directory_iterator()),
      0);
}

TEST_F(PullerTest, ADigestInTheUrlIsChecked) {
  const std::string hex = ReferenceSha256(body_);
  EXPECT_EQ(DigestInUrl("http://h/v2/blobs/sha256:" + hex + "?x=1"), hex);
  EXPECT_EQ(DigestInUrl("http://h/blobs/sha256-" + hex), hex);
  EXPECT_EQ(DigestInUrl("http://h/model.gguf"), "");
  RangeTestServer server(body_, {});
  ModelPuller puller(options_);
  auto job = puller.Start({.url = server.Url("/blobs/sha256:" + hex)}, "alice");
  ASSERT_TRUE(job.ok());
  EXPECT_TRUE((*job)->Run(nullptr).ok());
  auto wrong = puller.Start({.url = server.Url("/blobs/sha256-" + ReferenceSha256("x"))}, "alice");
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ((*wrong)->Run(nullptr).status().code(), StatusCode::kDataLoss);
}

TEST_F(PullerTest, OnePullPerSourceAndCapsPerCallerAndInAll) {
  options_.max_pulls = 3;
  options_.max_pulls_per_caller = 2;
  ModelPuller puller(options_);
  auto a = puller.Start({.url = "http://127.0.0.1:1/a"}, "alice");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(puller.Start({.url = "http://127.0.0.1:1/a"}, "bob").status().code(),
            StatusCode::kAlreadyExists);
  auto b = puller.Start({.url = "http://127.0.0.1:1/b"}, "alice");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(puller.Start({.url = "http://127.0.0.1:1/c"}, "alice").status().code(),
            StatusCode::kResourceExhausted);
  auto c = puller.Start({.url = "http://127.0.0.1:1/c"}, "bob");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(puller.Start({.url = "http://127.0.0.1:1/d"}, "carol").status().code(),
            StatusCode::kResourceExhausted);
  a->reset();  // a finished pull frees its slots
  EXPECT_TRUE(puller.Start({.url = "http://127.0.0.1:1/a"}, "alice").ok());
}

TEST_F(PullerTest, RefusesOtherSchemesBadDigestsAndNames) {
  ModelPuller puller(options_);
  for (const char* url : {"ftp://h/x", "file:///etc/passwd", "gopher://h", "http://user:pw@h/x"}) {
    EXPECT_EQ(puller.Start({.url = url}, "a").status().code(), StatusCode::kInvalidArgument) << url;
  }
  EXPECT_EQ(puller.Start({.url = "http://h/x", .sha256 = "abc"}, "a").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(puller.Start({.url = "http://h/x", .name = "a b"}, "a").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(puller.Start({}, "a").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PullerTest, LocalFilesOnlyFromAllowedDirectories) {
  std::ofstream(dir_ / "allowed" / "m.gguf", std::ios::binary) << body_;
  std::ofstream(dir_ / "outside.gguf", std::ios::binary) << body_;
  RecordingSink sink;
  ModelPuller puller(options_, &sink);
  auto job = puller.Start({.path = (dir_ / "allowed" / "m.gguf").string(), .name = "m"}, "a");
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  Result<PulledModel> m = (*job)->Run(nullptr);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->digest, "sha256:" + ReferenceSha256(body_));
  EXPECT_EQ(ReadFile(m->path), body_);
  EXPECT_EQ(puller.Start({.path = (dir_ / "outside.gguf").string()}, "a").status().code(),
            StatusCode::kPermissionDenied);
  // A way out through "..", resolved before the check.
  EXPECT_EQ(puller.Start({.path = (dir_ / "allowed" / ".." / "outside.gguf").string()}, "a")
                .status()
                .code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(puller.Start({.path = (dir_ / "allowed" / "none").string()}, "a").status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace llmux::pull
