#include "pkg/auth/auth.h"

#include <gtest/gtest.h>

#include "pkg/crypto/hmac.h"
#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"

namespace pixq::auth {
namespace {

AuthOptions On() {
  return {.enabled = true,
          .api_key_sha256 = {crypto::Sha256Hex("alpha"), crypto::Sha256Hex("beta")},
          .signing_key = std::string(32, 'k'),
          .signed_url_ttl = absl::Minutes(10)};
}

TEST(AuthenticatorTest, LetsEverythingThroughWhenOff) {
  const Authenticator off(AuthOptions{});
  EXPECT_TRUE(off.CheckKey(std::nullopt, std::nullopt).ok());
  EXPECT_FALSE(off.signs_urls());
  EXPECT_EQ(off.SignPath("/v1/jobs/x/output", absl::Now()), "/v1/jobs/x/output");
}

TEST(AuthenticatorTest, AcceptsAnyConfiguredKeyFromEitherHeader) {
  const Authenticator a(On());
  EXPECT_TRUE(a.CheckKey("Bearer alpha", std::nullopt).ok());
  EXPECT_TRUE(a.CheckKey("bearer   beta ", std::nullopt).ok());
  EXPECT_TRUE(a.CheckKey(std::nullopt, "alpha").ok());
  EXPECT_EQ(errors::ReasonOf(a.CheckKey(std::nullopt, std::nullopt)), "ApiKeyMissing");
  EXPECT_EQ(errors::ReasonOf(a.CheckKey("Basic YWxwaGE=", std::nullopt)), "ApiKeyMissing");
  EXPECT_EQ(errors::ReasonOf(a.CheckKey("Bearer gamma", std::nullopt)), "ApiKeyInvalid");
  EXPECT_EQ(errors::ReasonOf(a.CheckKey(std::nullopt, "ALPHA")), "ApiKeyInvalid");
  EXPECT_EQ(errors::HttpStatusOf(a.CheckKey("Bearer gamma", std::nullopt)), 401);
  // The configured hash itself is not a key.
  EXPECT_EQ(errors::ReasonOf(a.CheckKey("Bearer " + crypto::Sha256Hex("alpha"), std::nullopt)),
            "ApiKeyInvalid");
}

TEST(AuthenticatorTest, SignsPathsThatVerifyUntilTheyExpire) {
  const Authenticator a(On());
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  const std::string signed_path = a.SignPath("/v1/jobs/j1/output", now);
  ASSERT_EQ(signed_path.rfind("/v1/jobs/j1/output?expires=1800000600&signature=", 0), 0u)
      << signed_path;
  const std::string signature = signed_path.substr(signed_path.find("signature=") + 10);
  EXPECT_EQ(signature,
            crypto::HmacSha256Hex(std::string(32, 'k'), "/v1/jobs/j1/output\n1800000600"));
  EXPECT_TRUE(a.CheckSignature("/v1/jobs/j1/output", "1800000600", signature, now).ok());
  EXPECT_TRUE(
      a.CheckSignature("/v1/jobs/j1/output", "1800000600", signature, now + absl::Minutes(10))
          .ok());
  EXPECT_EQ(errors::ReasonOf(a.CheckSignature("/v1/jobs/j1/output", "1800000600", signature,
                                              now + absl::Minutes(11))),
            "SignatureExpired");
  EXPECT_EQ(errors::ReasonOf(a.CheckSignature("/v1/jobs/j2/output", "1800000600", signature, now)),
            "SignatureInvalid");
  EXPECT_EQ(errors::ReasonOf(a.CheckSignature("/v1/jobs/j1/output", "1800000601", signature, now)),
            "SignatureInvalid");
  EXPECT_EQ(errors::ReasonOf(a.CheckSignature("/v1/jobs/j1/output", "soon", signature, now)),
            "SignatureInvalid");
  EXPECT_EQ(errors::HttpStatusOf(a.CheckSignature("/v1/jobs/j1/output", "1", "00", now)), 403);

  AuthOptions other_key = On();
  other_key.signing_key = std::string(32, 'x');
  EXPECT_EQ(errors::ReasonOf(Authenticator(other_key).CheckSignature("/v1/jobs/j1/output",
                                                                     "1800000600", signature, now)),
            "SignatureInvalid");
  AuthOptions unsigned_options = On();
  unsigned_options.signing_key.clear();
  EXPECT_EQ(
      errors::ReasonOf(Authenticator(unsigned_options)
                           .CheckSignature("/v1/jobs/j1/output", "1800000600", signature, now)),
      "SignatureUnsupported");
}

TEST(HmacTest, MatchesRfc4231TestCase2) {
  EXPECT_EQ(crypto::HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_TRUE(crypto::ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(crypto::ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(crypto::ConstantTimeEquals("abc", "abcd"));
}

}  // namespace
}  // namespace pixq::auth
