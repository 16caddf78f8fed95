#include "common/sha256.h"
#include "extractor_test_util.h"

namespace dedup::testing {
namespace {

TEST(BodySha256KeyExtractor, Cases) {
  runCases("body-sha256", {
                              {"abc", jsonBody("abc"), Kind::kFound,
                               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
                              {"binary", jsonBody(std::string("\0\xff", 2)), Kind::kFound,
                               toHex(sha256(std::string("\0\xff", 2)).data(), 32)},
                              {"empty", jsonBody(""), Kind::kMissing, ""},
                          });
}

}  // namespace
}  // namespace dedup::testing
