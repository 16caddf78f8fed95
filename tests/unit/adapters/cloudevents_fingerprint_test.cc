#include "adapters/cloudevents_fingerprint.h"

#include "extractor_test_util.h"

namespace dedup::testing {
namespace {

Request binary(std::initializer_list<std::pair<std::string, std::string>> headers,
               std::string body) {
  return makeRequest("/events", headers, std::move(body));
}

Request structured(std::string body) {
  return makeRequest("/events", {{"Content-Type", "application/cloudevents+json; charset=utf-8"}},
                     std::move(body));
}

const Request kBinaryOrder = binary({{"ce-specversion", "1.0"},
                                     {"ce-id", "A-1"},
                                     {"ce-source", "/orders"},
                                     {"ce-type", "order.created"},
                                     {"Content-Type", "application/json"}},
                                    R"({"orderId": 1842, "total": "19.90"})");

TEST(CloudEventFingerprint, SameEventInBothModesIsTheSame) {
  const struct {
    const char* name;
    Request binary;
    Request structured;
  } cases[] = {
      {"json data, other whitespace and attribute order", kBinaryOrder,
       structured(R"({"type":"order.created","id":"A-1","specversion":"1.0","source":"/orders",
                     "datacontenttype":"application/json","data":{"orderId":1842,"total":"19.90"}})")},
      {"no datacontenttype in structured mode means JSON", kBinaryOrder,
       structured(R"({"specversion":"1.0","id":"A-1","source":"/orders","type":"order.created",
                     "data":{"orderId":1842,"total":"19.90"}})")},
      {"ce- header names in any case, JSON escapes",
       binary({{"CE-ID", "A-1"}, {"Ce-Source", "/o"}, {"Content-Type", "application/json"}},
              R"({"name":"\u00e9"})"),
       structured(R"({"id":"A-1","source":"/o","data":{"name":"é"}})")},
      {"percent-encoded header value, integer and boolean extensions",
       binary({{"ce-id", "1"},
               {"ce-source", "s"},
               {"ce-subject", "caf%C3%A9 %25"},
               {"ce-priority", "7"},
               {"ce-urgent", "true"}},
              ""),
       structured(R"({"id":"1","source":"s","subject":"café %","priority":7,"urgent":true})")},
      {"binary data as data_base64",
       binary({{"ce-id", "1"}, {"ce-source", "s"}, {"Content-Type", "application/octet-stream"}},
              std::string("\x00\x01\xfe\xff", 4)),
       structured(
           R"({"id":"1","source":"s","datacontenttype":"application/octet-stream","data_base64":"AAH+/w=="})")},
      {"text data as a JSON string",
       binary({{"ce-id", "1"}, {"ce-source", "s"}, {"Content-Type", "text/plain"}}, "hi \"you\""),
       structured(R"({"id":"1","source":"s","datacontenttype":"text/plain","data":"hi \"you\""})")},
      {"+json media type with parameters",
       binary({{"ce-id", "1"}, {"ce-source", "s"}, {"Content-Type", "application/vnd.x+json"}},
              "[1, 2]"),
       structured(
           R"({"id":"1","source":"s","datacontenttype":"application/vnd.x+json","data":[1,2]})")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(cloudEventFingerprint(c.binary), cloudEventFingerprint(c.structured));
  }
}

TEST(CloudEventFingerprint, AnotherEventDiffers) {
  const Sha256Digest order = cloudEventFingerprint(kBinaryOrder);
  const Request changed[] = {
      binary({{"ce-specversion", "1.0"},
              {"ce-id", "A-1"},
              {"ce-source", "/orders"},
              {"ce-type", "order.created"},
              {"Content-Type", "application/json"}},
             R"({"orderId": 1843, "total": "19.90"})"),
      binary({{"ce-specversion", "1.0"},
              {"ce-id", "A-1"},
              {"ce-source", "/orders"},
              {"ce-type", "order.deleted"},
              {"Content-Type", "application/json"}},
             R"({"orderId": 1842, "total": "19.90"})"),
      binary({{"ce-specversion", "1.0"},
              {"ce-id", "A-1"},
              {"ce-source", "/orders"},
              {"ce-type", "order.created"},
              {"ce-extra", "x"},
              {"Content-Type", "application/json"}},
             R"({"orderId": 1842, "total": "19.90"})"),
      structured(R"({"specversion":"1.0","id":"A-1","source":"/orders","type":"order.created",
                     "data":{"total":"19.90","orderId":1842}})"),
  };
  for (const Request& request : changed) EXPECT_NE(cloudEventFingerprint(request), order);
  // Text data is its bytes: whitespace counts.
  EXPECT_NE(cloudEventFingerprint(binary({{"Content-Type", "text/plain"}}, "a b")),
            cloudEventFingerprint(binary({{"Content-Type", "text/plain"}}, "a  b")));
}

TEST(CloudEventFingerprint, BrokenStructuredBodyIsItsBytes) {
  for (const std::string body : {"<xml/>", "[1,2]", R"({"id":"1","data_base64":"!!"})"}) {
    SCOPED_TRACE(body);
    EXPECT_EQ(cloudEventFingerprint(structured(body)), sha256(body));
  }
}

TEST(CloudEventFingerprint, ExtractorsSupplyIt) {
  const Request structured_order =
      structured(R"({"specversion":"1.0","id":"A-1","source":"/orders","type":"order.created",
                     "data":{"orderId":1842,"total":"19.90"}})");
  for (std::string_view spec : {"cloudevents", "cloudevents|header:X-Id"}) {
    SCOPED_TRACE(spec);
    KeyExtractorPtr extractor = build(spec);
    ASSERT_NE(extractor, nullptr);
    EXPECT_EQ(extractor->fingerprint(kBinaryOrder), extractor->fingerprint(structured_order));
  }
  // Every other extractor digests the body's bytes.
  for (std::string_view spec : {"header:X-Id", "json:/id", "header:X-Id|cloudevents"}) {
    SCOPED_TRACE(spec);
    KeyExtractorPtr extractor = build(spec);
    ASSERT_NE(extractor, nullptr);
    const Request request = makeRequest("/", {{"X-Id", "1"}}, R"({"id": 1})");
    EXPECT_EQ(extractor->fingerprint(request), sha256(request.body));
  }
}

}  // namespace
}  // namespace dedup::testing
