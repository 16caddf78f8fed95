// Secret files: one secret per line, blanks and surrounding whitespace
// ignored, errors that name the line but never the secret, and a reload
// that swaps the whole set at once or keeps the old one.
#include "adapters/signing_key_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "adapters/signature_verifier.h"

namespace dedup {
namespace {

StatusOr<std::string> identity(std::string_view secret) { return std::string(secret); }

TEST(SigningKeys, LinesTrimmedBlanksSkipped) {
  struct Case {
    std::string contents;
    SigningKeys keys;
  } cases[] = {
      {"one", {"one"}},
      {"one\n", {"one"}},
      {"  one \t\r\n\n\ntwo\r\n", {"one", "two"}},
      {"\n\n  \nwhsec_a b\n", {"whsec_a b"}},  // inner spaces belong to the secret
  };
  for (const Case& c : cases) {
    StatusOr<SigningKeys> keys = parseSigningKeys(c.contents, identity);
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    EXPECT_EQ(*keys, c.keys);
  }
  for (const std::string empty : {"", "\n", "  \n\t\n"}) {
    StatusOr<SigningKeys> keys = parseSigningKeys(empty, identity);
    ASSERT_FALSE(keys.ok());
    EXPECT_NE(keys.status().message().find("holds no secret"), std::string::npos);
  }
}

TEST(SigningKeys, BadLineNamedWithoutItsSecret) {
  StatusOr<SignatureVerifierPtr> v =
      makeSignatureVerifier("standard-webhooks", kDefaultSignatureTolerance);
  ASSERT_TRUE(v.ok());
  const SigningKeyFile::Decode decode = [&](std::string_view s) { return (*v)->signingKey(s); };
  StatusOr<SigningKeys> keys =
      parseSigningKeys("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\nwhsec_sup3r-s3cret!\n", decode);
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.status().message().find("line 3"), std::string::npos) << keys.status().message();
  EXPECT_EQ(keys.status().message().find("sup3r"), std::string::npos) << keys.status().message();
}

class SigningKeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/signing-keys-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/secrets";
  }
  void TearDown() override {
    std::remove(path_.c_str());
    rmdir(dir_.c_str());
  }
  void write(const std::string& contents) { std::ofstream(path_, std::ios::trunc) << contents; }

  std::string dir_;
  std::string path_;
};

TEST_F(SigningKeyFileTest, ReloadSwapsOrKeepsTheKeys) {
  SigningKeyFile file(path_, "github", identity);
  EXPECT_TRUE(file.keys()->empty());
  const Status missing = file.load();
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find(path_), std::string::npos);

  write("old\n");
  ASSERT_TRUE(file.load().ok());
  const std::shared_ptr<const SigningKeys> before = file.keys();
  EXPECT_EQ(*before, SigningKeys{"old"});

  write("new\nold\n");
  ASSERT_TRUE(file.load().ok());
  EXPECT_EQ(*file.keys(), (SigningKeys{"new", "old"}));
  EXPECT_EQ(*before, SigningKeys{"old"}) << "a reader's snapshot never changes under it";

  write("\n");  // emptied by mistake: the keys in force stay
  EXPECT_FALSE(file.load().ok());
  EXPECT_EQ(*file.keys(), (SigningKeys{"new", "old"}));
  std::remove(path_.c_str());
  EXPECT_FALSE(file.load().ok());
  EXPECT_EQ(*file.keys(), (SigningKeys{"new", "old"}));
}

TEST_F(SigningKeyFileTest, ReadersSeeAWholeSetWhileItIsSwapped) {
  write("a\nb\n");
  SigningKeyFile file(path_, "github", identity);
  ASSERT_TRUE(file.load().ok());
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done.load()) {
      const std::shared_ptr<const SigningKeys> keys = file.keys();
      if (keys->size() != 2 || (*keys)[0].size() != (*keys)[1].size()) torn.fetch_add(1);
    }
  });
  for (int i = 0; i < 200; ++i) {
    write(i % 2 ? "a\nb\n" : "ccc\nddd\n");
    ASSERT_TRUE(file.load().ok());
  }
  done = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0);
}

}  // namespace
}  // namespace dedup
