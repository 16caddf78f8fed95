#include "extractor_test_util.h"

namespace dedup::testing {
namespace {

Request target(std::string t) { return makeRequest(std::move(t), {}); }

TEST(QueryKeyExtractor, Cases) {
  runCases("query:id",
           {
               {"plain", target("/hook?id=abc"), Kind::kFound, "abc"},
               {"among others", target("/hook?a=1&id=xyz&b=2"), Kind::kFound, "xyz"},
               {"first wins", target("/hook?id=one&id=two"), Kind::kFound, "one"},
               {"percent and plus", target("/hook?id=a%20b+c%2Bd"), Kind::kFound, "a b c+d"},
               {"utf-8", target("/hook?id=caf%C3%A9"), Kind::kFound, "caf\xc3\xa9"},
               {"encoded name", target("/hook?%69d=enc"), Kind::kFound, "enc"},
               {"value with =", target("/hook?id=a=b"), Kind::kFound, "a=b"},
               {"fragment ignored", target("/hook?id=v#frag"), Kind::kFound, "v"},
               {"no query", target("/hook"), Kind::kMissing, ""},
               {"empty query", target("/hook?"), Kind::kMissing, ""},
               {"other name", target("/hook?idx=1&xid=2"), Kind::kMissing, ""},
               {"case-sensitive", target("/hook?ID=1"), Kind::kMissing, ""},
               {"empty value", target("/hook?id="), Kind::kMissing, ""},
               {"no value", target("/hook?id&x=1"), Kind::kMissing, ""},
               {"bad escape", target("/hook?id=%zz"), Kind::kInvalid, ""},
               {"truncated escape", target("/hook?id=ab%4"), Kind::kInvalid, ""},
               {"lone percent", target("/hook?id=%"), Kind::kInvalid, ""},
               {"control char", target("/hook?id=a%0Ab"), Kind::kInvalid, ""},
               {"nul", target("/hook?id=a%00b"), Kind::kInvalid, ""},
               {"del", target("/hook?id=%7F"), Kind::kInvalid, ""},
               {"max length", target("/hook?id=" + std::string(kMaxKeyLength, 'k')), Kind::kFound,
                std::string(kMaxKeyLength, 'k')},
               {"too long", target("/hook?id=" + std::string(kMaxKeyLength + 1, 'k')),
                Kind::kInvalid, ""},
           });
}

}  // namespace
}  // namespace dedup::testing
