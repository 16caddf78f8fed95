#include "extractor_test_util.h"

namespace dedup::testing {
namespace {

TEST(JsonKeyExtractor, TopLevelId) {
  runCases("json:/id",
           {
               {"string", jsonBody(R"({"id":"evt_1"})"), Kind::kFound, "evt_1"},
               {"escaped string", jsonBody(R"({"id":"a\u00e9\"b"})"), Kind::kFound, "a\xc3\xa9\"b"},
               {"integer", jsonBody(R"({"id":12345})"), Kind::kFound, "#12345"},
               {"numeric string differs from the number", jsonBody(R"({"id":"12345"})"),
                Kind::kFound, "12345"},
               {"string starting with #", jsonBody(R"({"id":"#12345"})"), Kind::kFound, "##12345"},
               {"negative integer", jsonBody(R"({"id":-7})"), Kind::kFound, "#-7"},
               {"uint64", jsonBody(R"({"id":18446744073709551615})"), Kind::kFound,
                "#18446744073709551615"},
               {"numeric overflow", jsonBody(R"({"id":123456789012345678901234567890})"),
                Kind::kInvalid, ""},
               {"float", jsonBody(R"({"id":1.5})"), Kind::kInvalid, ""},
               {"exponent", jsonBody(R"({"id":1e3})"), Kind::kInvalid, ""},
               {"bool", jsonBody(R"({"id":true})"), Kind::kInvalid, ""},
               {"null", jsonBody(R"({"id":null})"), Kind::kInvalid, ""},
               {"array", jsonBody(R"({"id":[1,2]})"), Kind::kInvalid, ""},
               {"object", jsonBody(R"({"id":{"a":1}})"), Kind::kInvalid, ""},
               {"missing", jsonBody(R"({"other":"x"})"), Kind::kMissing, ""},
               {"empty string", jsonBody(R"({"id":""})"), Kind::kMissing, ""},
               {"top-level array", jsonBody(R"(["id"])"), Kind::kMissing, ""},
               {"top-level string", jsonBody(R"("id")"), Kind::kMissing, ""},
               {"empty body", jsonBody(""), Kind::kMissing, ""},
               {"control char", jsonBody(R"({"id":"a\nb"})"), Kind::kInvalid, ""},
               {"nul char", jsonBody(R"({"id":"a\u0000b"})"), Kind::kInvalid, ""},
               {"garbage", jsonBody("not json at all"), Kind::kInvalid, ""},
               {"truncated", jsonBody(R"({"id":"evt_1")"), Kind::kInvalid, ""},
               {"truncated string", jsonBody(R"({"id":"ev)"), Kind::kInvalid, ""},
               {"trailing garbage", jsonBody(R"({"id":"x"} x)"), Kind::kInvalid, ""},
               {"binary", jsonBody(std::string("\x00\xff\xfe{\"id\":1}", 11)), Kind::kInvalid, ""},
               {"invalid utf-8", jsonBody("{\"id\":\"\xc3\x28\"}"), Kind::kInvalid, ""},
               {"too deep", jsonBody(std::string(5000, '[') + std::string(5000, ']')),
                Kind::kInvalid, ""},
               {"too long", jsonBody(R"({"id":")" + std::string(kMaxKeyLength + 1, 'x') + "\"}"),
                Kind::kInvalid, ""},
               {"max length", jsonBody(R"({"id":")" + std::string(kMaxKeyLength, 'x') + "\"}"),
                Kind::kFound, std::string(kMaxKeyLength, 'x')},
           });
}

TEST(JsonKeyExtractor, NestedPointers) {
  const std::string body = R"({"data":{"a/b":{"m~n":"deep"},"items":[{"id":"first"},{"id":2}]},
                               "":{"":"empty-names"}})";
  runCases("json:/data/a~1b/m~0n", {{"~1 and ~0", jsonBody(body), Kind::kFound, "deep"}});
  runCases("json:/data/items/0/id", {{"array index", jsonBody(body), Kind::kFound, "first"}});
  runCases("json:/data/items/1/id", {{"integer in array", jsonBody(body), Kind::kFound, "#2"}});
  runCases("json:/data/items/2/id", {{"index out of range", jsonBody(body), Kind::kMissing, ""}});
  runCases("json:/data/items/-", {{"dash index", jsonBody(body), Kind::kMissing, ""}});
  runCases("json:/data/items/01", {{"leading zero", jsonBody(body), Kind::kMissing, ""}});
  runCases("json:/data/a/b", {{"unescaped slash", jsonBody(body), Kind::kMissing, ""}});
  runCases("json:/data/items/0/id/x", {{"into a string", jsonBody(body), Kind::kMissing, ""}});
  runCases("json://", {{"empty names", jsonBody(body), Kind::kFound, "empty-names"}});
  runCases("json:/data", {{"object", jsonBody(body), Kind::kInvalid, ""}});
}

}  // namespace
}  // namespace dedup::testing
