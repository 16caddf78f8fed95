#include "extractor_test_util.h"

namespace dedup::testing {
namespace {

TEST(AllOfKeyExtractor, Cases) {
  runCases(
      "header:X-Tenant+json:/id",
      {
          {"both", makeRequest("/", {{"X-Tenant", "t1"}}, R"({"id":"e1"})"), Kind::kFound,
           "t1\ne1"},
          {"header missing", makeRequest("/", {}, R"({"id":"e1"})"), Kind::kMissing, ""},
          {"json missing", makeRequest("/", {{"X-Tenant", "t1"}}, R"({})"), Kind::kMissing, ""},
          {"invalid beats missing", makeRequest("/", {}, "garbage"), Kind::kInvalid, ""},
          {"invalid header", makeRequest("/", {{"X-Tenant", "a b"}}, R"({"id":"e"})"),
           Kind::kInvalid, ""},
          {"too long together",
           makeRequest("/", {{"X-Tenant", std::string(300, 't')}},
                       R"({"id":")" + std::string(300, 'e') + "\"}"),
           Kind::kInvalid, ""},
      });
}

TEST(FirstOfKeyExtractor, Cases) {
  runCases(
      "header:Idempotency-Key|body-sha256",
      {
          {"header wins", makeRequest("/", {{"Idempotency-Key", "k"}}, "abc"), Kind::kFound, "k"},
          {"fallback", makeRequest("/", {}, "abc"), Kind::kFound,
           "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
          {"invalid stops chain", makeRequest("/", {{"Idempotency-Key", "a b"}}, "abc"),
           Kind::kInvalid, ""},
          {"all missing", makeRequest("/", {}), Kind::kMissing, ""},
      });
}

TEST(CompositeKeyExtractor, PipeBindsLooserThanPlus) {
  // "query:id | (header:A + header:B) | json:/id"
  runCases(
      "query:id|header:A+header:B|json:/id",
      {
          {"first alternative", makeRequest("/?id=q", {{"A", "a"}, {"B", "b"}}), Kind::kFound, "q"},
          {"second alternative", makeRequest("/", {{"A", "a"}, {"B", "b"}}), Kind::kFound, "a\nb"},
          {"incomplete second falls through", makeRequest("/", {{"A", "a"}}, R"({"id":"j"})"),
           Kind::kFound, "j"},
          {"invalid in second stops", makeRequest("/", {{"A", "a"}, {"B", "b c"}}, "{}"),
           Kind::kInvalid, ""},
          {"none", makeRequest("/", {{"A", "a"}}), Kind::kMissing, ""},
      });
}

}  // namespace
}  // namespace dedup::testing
