#include "auth/password.h"

#include <gtest/gtest.h>

namespace llmux::auth {
namespace {

// Cheap parameters keep the test fast; production defaults are checked separately.
const Argon2Params kCheap{1, 256, 1};

TEST(Password, RoundTripAndWrongPassword) {
  auto h = HashPassword("correct horse battery staple", kCheap);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->rfind("$argon2id$v=19$m=256,t=1,p=1$", 0), 0u) << *h;
  EXPECT_EQ(h->find("correct horse"), std::string::npos);
  auto good = VerifyPassword("correct horse battery staple", *h);
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(*good);
  auto bad = VerifyPassword("correct horse battery stapl", *h);
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(*bad);
  EXPECT_FALSE(*VerifyPassword("Correct horse battery staple", *h));
  EXPECT_FALSE(*VerifyPassword("", *h));
}

TEST(Password, SaltIsRandom) {
  auto a = HashPassword("same", kCheap);
  auto b = HashPassword("same", kCheap);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(*VerifyPassword("same", *a));
  EXPECT_TRUE(*VerifyPassword("same", *b));
}

TEST(Password, RejectsEmptyAndHugePasswords) {
  EXPECT_EQ(HashPassword("", kCheap).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(HashPassword(std::string(kMaxPasswordBytes + 1, 'x'), kCheap).ok());
}

TEST(Password, MalformedHashIsAnErrorNotACrash) {
  EXPECT_FALSE(VerifyPassword("pw", "").ok());
  EXPECT_FALSE(VerifyPassword("pw", "$argon2i$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaA").ok());
  EXPECT_FALSE(VerifyPassword("pw", "$argon2id$v=19$m=256,t=1,p=1$!!!$???").ok());
  EXPECT_FALSE(VerifyPassword("pw", "$argon2id$garbage").ok());
  EXPECT_FALSE(VerifyPassword("pw", "plaintext-password").ok());
}

TEST(Password, DefaultsAreOwaspMinimumAndRehashDetection) {
  Argon2Params d;
  EXPECT_EQ(d.m_cost_kib, 19456u);
  EXPECT_EQ(d.t_cost, 2u);
  EXPECT_EQ(d.parallelism, 1u);
  auto h = HashPassword("pw", kCheap);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(PasswordNeedsRehash(*h));
  EXPECT_FALSE(PasswordNeedsRehash(*h, kCheap));
}

}  // namespace
}  // namespace llmux::auth
