// Hex and base64 (RFC 4648 test vectors) and HMAC-SHA256 (RFC 4231).
#include "common/encoding.h"

#include <gtest/gtest.h>

#include "common/hmac.h"

namespace dedup {
namespace {

TEST(Encoding, Base64Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(encodeBase64(plain), encoded);
    EXPECT_EQ(decodeBase64(encoded), plain) << encoded;
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(decodeBase64(encodeBase64(all)), all);
}

TEST(Encoding, Base64RejectsWhatIsNotCanonical) {
  for (const char* bad : {"Zg", "Zg=", "Z===", "Zm9v!A==", "Zh==", "Zm9=", "=Zm9", "Zm 9v",
                          "Zm9v\n", "Zg==Zg==", "Zm-_"}) {
    EXPECT_EQ(decodeBase64(bad), std::nullopt) << bad;
  }
}

TEST(Encoding, HexEitherCase) {
  EXPECT_EQ(decodeHex("00ff7F80"), std::string("\x00\xff\x7f\x80", 4));
  EXPECT_EQ(decodeHex(""), "");
  for (const char* bad : {"0", "abc", "0g", "-1", " 00"}) EXPECT_EQ(decodeHex(bad), std::nullopt);
}

TEST(Hmac, Rfc4231Vectors) {
  // Test case 2, and test case 1 (key 0x0b * 20, "Hi There").
  EXPECT_EQ(toHex(hmacSha256("Jefe", {"what do ya want ", "for nothing?"}).data(), 32),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(toHex(hmacSha256(std::string(20, '\x0b'), {"Hi There"}).data(), 32),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // A key longer than the block is hashed first (test case 6).
  EXPECT_EQ(toHex(hmacSha256(std::string(131, '\xaa'),
                             {"Test Using Larger Than Block-Size Key - Hash Key First"})
                      .data(),
                  32),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Hmac, DigestEqualsNeedsEveryByte) {
  const Sha256Digest digest = hmacSha256("k", {"m"});
  std::string same(reinterpret_cast<const char*>(digest.data()), digest.size());
  EXPECT_TRUE(digestEquals(digest, same));
  std::string last = same;
  last.back() ^= 1;
  EXPECT_FALSE(digestEquals(digest, last));
  EXPECT_FALSE(digestEquals(digest, same.substr(0, 31)));
  EXPECT_FALSE(digestEquals(digest, same + "x"));
  EXPECT_FALSE(digestEquals(digest, ""));
}

}  // namespace
}  // namespace dedup
