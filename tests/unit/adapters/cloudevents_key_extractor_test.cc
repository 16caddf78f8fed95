#include "extractor_test_util.h"

namespace dedup::testing {
namespace {

Request structured(std::string body,
                   std::string content_type = "application/cloudevents+json; charset=utf-8") {
  return makeRequest("/events", {{"Content-Type", std::move(content_type)}}, std::move(body));
}

TEST(CloudEventsKeyExtractor, BinaryMode) {
  runCases(
      "cloudevents",
      {
          {"both", makeRequest("/e", {{"ce-id", "A-1"}, {"ce-source", "/shop/orders"}}),
           Kind::kFound, "/shop/orders\nA-1"},
          {"case-insensitive names",
           makeRequest("/e", {{"Ce-Id", "1"}, {"CE-SOURCE", "urn:x"}, {"Content-Type", "text/x"}}),
           Kind::kFound, "urn:x\n1"},
          {"space allowed", makeRequest("/e", {{"ce-id", "a b"}, {"ce-source", "s"}}), Kind::kFound,
           "s\na b"},
          {"only id", makeRequest("/e", {{"ce-id", "1"}}), Kind::kMissing, ""},
          {"only source", makeRequest("/e", {{"ce-source", "s"}}), Kind::kMissing, ""},
          {"empty id", makeRequest("/e", {{"ce-id", ""}, {"ce-source", "s"}}), Kind::kMissing, ""},
          {"none", makeRequest("/e", {}), Kind::kMissing, ""},
          {"two ids", makeRequest("/e", {{"ce-id", "1"}, {"ce-id", "2"}, {"ce-source", "s"}}),
           Kind::kInvalid, ""},
          {"control char", makeRequest("/e", {{"ce-id", "a\tb"}, {"ce-source", "s"}}),
           Kind::kInvalid, ""},
          {"id and source too long together",
           makeRequest("/e",
                       {{"ce-id", std::string(300, 'i')}, {"ce-source", std::string(300, 's')}}),
           Kind::kInvalid, ""},
      });
}

TEST(CloudEventsKeyExtractor, StructuredAndBatchMode) {
  runCases(
      "cloudevents",
      {
          {"structured", structured(R"({"specversion":"1.0","id":"A-1","source":"/s","type":"t"})"),
           Kind::kFound, "/s\nA-1"},
          {"upper-case media type",
           structured(R"({"id":"1","source":"s"})", "Application/CloudEvents+JSON"), Kind::kFound,
           "s\n1"},
          {"body wins over headers",
           makeRequest("/e",
                       {{"Content-Type", "application/cloudevents+json"},
                        {"ce-id", "h"},
                        {"ce-source", "h"}},
                       R"({"id":"b","source":"b"})"),
           Kind::kFound, "b\nb"},
          {"only id", structured(R"({"id":"1"})"), Kind::kMissing, ""},
          {"only source", structured(R"({"source":"s"})"), Kind::kMissing, ""},
          {"empty body", structured(""), Kind::kMissing, ""},
          {"integer id", structured(R"({"id":1,"source":"s"})"), Kind::kInvalid, ""},
          {"object source", structured(R"({"id":"1","source":{}})"), Kind::kInvalid, ""},
          {"garbage", structured("<xml/>"), Kind::kInvalid, ""},
          {"truncated", structured(R"({"id":"1","source":"s")"), Kind::kInvalid, ""},
          {"control char", structured(R"({"id":"1\r","source":"s"})"), Kind::kInvalid, ""},
          {"batch",
           structured(R"([{"id":"1","source":"s"}])", "application/cloudevents-batch+json"),
           Kind::kInvalid, ""},
          {"batch with headers",
           makeRequest("/e",
                       {{"Content-Type", "application/cloudevents-batch+json"},
                        {"ce-id", "1"},
                        {"ce-source", "s"}},
                       "[]"),
           Kind::kInvalid, ""},
      });
  const ExtractedKey batch =
      build("cloudevents")->extract(structured("[]", "application/cloudevents-batch+json"));
  EXPECT_EQ(batch.error, "CloudEvents batch mode is not supported: send events one by one");
}

}  // namespace
}  // namespace dedup::testing
