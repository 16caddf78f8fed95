#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "proxy/http1/message_writer.h"
#include "proxy/http1/request_decoder.h"
#include "proxy/http1/response_decoder.h"

namespace dedup::http1 {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

Headers headersOf(const Fields& fields) {
  Headers headers;
  for (const auto& [name, value] : fields) headers.add(name, value);
  return headers;
}

Fields fieldsOf(const Headers& headers) {
  Fields fields;
  for (const Header& h : headers.entries()) fields.emplace_back(h.name, h.value);
  return fields;
}

Request request(std::string method, std::string target, Fields fields, std::string body,
                bool keep_alive = true) {
  Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers = headersOf(fields);
  r.body = std::move(body);
  r.keep_alive = keep_alive;
  return r;
}

Response response(int status, std::string reason, Fields fields, std::string body,
                  bool keep_alive = true) {
  Response r;
  r.status = status;
  r.reason = std::move(reason);
  r.headers = headersOf(fields);
  r.body = std::move(body);
  r.keep_alive = keep_alive;
  return r;
}

TEST(WriteRequest, FramesWithContentLength) {
  const struct {
    const char* name;
    Request request;
    std::string bytes;
  } cases[] = {
      {"GET without body", request("GET", "/a?b", {{"Host", "x"}}, ""),
       "GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"POST with empty body", request("POST", "/", {{"Host", "x"}}, ""),
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"},
      {"PUT and PATCH too", request("PATCH", "/", {}, ""),
       "PATCH / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"},
      {"body", request("DELETE", "/r", {{"Host", "x"}}, "data"),
       "DELETE /r HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\ndata"},
      {"framing fields are the writer's",
       request("POST", "/",
               {{"Host", "x"},
                {"content-length", "99"},
                {"Transfer-Encoding", "chunked"},
                {"Connection", "keep-alive"},
                {"X-Keep", "1"}},
               "abc"),
       "POST / HTTP/1.1\r\nHost: x\r\nX-Keep: 1\r\nContent-Length: 3\r\n\r\nabc"},
      {"close", request("GET", "/", {{"Host", "x"}, {"Connection", "close"}}, "", false),
       "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
  };
  for (const auto& c : cases) {
    std::string out = "prefix|";
    writeRequest(c.request, out);
    EXPECT_EQ(out, "prefix|" + c.bytes) << c.name;
  }
}

TEST(WriteResponse, FramesWithContentLength) {
  const struct {
    const char* name;
    Response response;
    bool head_request;
    std::string bytes;
  } cases[] = {
      {"standard reason", response(409, "", {{"Content-Type", "text/plain"}}, "dup"), false,
       "HTTP/1.1 409 Conflict\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\ndup"},
      {"own reason", response(200, "Fine", {}, ""), false,
       "HTTP/1.1 200 Fine\r\nContent-Length: 0\r\n\r\n"},
      {"unknown status", response(299, "", {}, ""), false,
       "HTTP/1.1 299 Unknown\r\nContent-Length: 0\r\n\r\n"},
      {"HEAD keeps the length, not the body", response(200, "", {}, "12345"), true,
       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"},
      {"204", response(204, "", {{"Content-Length", "0"}}, "ignored"), false,
       "HTTP/1.1 204 No Content\r\n\r\n"},
      {"304", response(304, "", {{"ETag", "\"v1\""}}, ""), false,
       "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n"},
      {"100", response(100, "", {}, ""), false, "HTTP/1.1 100 Continue\r\n\r\n"},
      {"close", response(503, "", {{"Connection", "keep-alive"}, {"Retry-After", "1"}}, "", false),
       false,
       "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
       "Connection: close\r\n\r\n"},
      {"framing fields are the writer's",
       response(200, "", {{"Transfer-Encoding", "chunked"}, {"CONTENT-LENGTH", "1"}}, "ab"), false,
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab"},
  };
  for (const auto& c : cases) {
    std::string out;
    writeResponse(c.response, c.head_request, out);
    EXPECT_EQ(out, c.bytes) << c.name;
  }
}

TEST(WriteRequest, RoundTripsThroughTheDecoder) {
  const Request cases[] = {
      request("GET", "/", {{"Host", "x"}}, ""),
      request("POST", "/hooks/stripe?x=1", {{"Host", "h"}, {"Idempotency-Key", "k-1"}}, "{}"),
      request("PUT", "http://h/abs", {{"Host", "h"}, {"A", "1"}, {"a", "2"}, {"Empty", ""}},
              std::string("bin\0ary\r\n", 9)),
      request("X-METHOD", "*", {{"Host", "h"}}, "", false),
      request("POST", "/", {{"Host", "h"}, {"Expect", "100-continue"}}, "x"),
      request("PATCH", "/big", {{"Host", "h"}}, std::string(100000, 'z')),
  };
  for (const Request& original : cases) {
    std::string bytes;
    writeRequest(original, bytes);
    RequestDecoder decoder(DecodeLimits{});
    EXPECT_EQ(decoder.decode(bytes), bytes.size());
    ASSERT_EQ(decoder.state(), RequestDecoder::State::kMessage)
        << original.method << ": " << decoder.error().reason;
    Request decoded = decoder.take();
    decoded.headers.remove("Content-Length");
    decoded.headers.remove("Connection");
    EXPECT_EQ(decoded.method, original.method);
    EXPECT_EQ(decoded.target, original.target);
    EXPECT_EQ(decoded.version_minor, 1);
    EXPECT_EQ(fieldsOf(decoded.headers), fieldsOf(original.headers));
    EXPECT_EQ(decoded.body, original.body);
    EXPECT_EQ(decoded.keep_alive, original.keep_alive);
  }
}

TEST(WriteResponse, RoundTripsThroughTheDecoder) {
  const struct {
    Response response;
    bool head_request;
  } cases[] = {
      {response(200, "", {{"Content-Type", "application/json"}}, "{\"ok\":true}"), false},
      {response(201, "Made It", {{"Location", "/r/1"}, {"X", ""}}, ""), false},
      {response(409, "", {}, std::string("a\0b", 3), false), false},
      {response(204, "", {{"X", "y"}}, ""), false},
      {response(304, "", {}, ""), false},
      {response(200, "", {}, "not sent"), true},
  };
  for (const auto& c : cases) {
    std::string bytes;
    writeResponse(c.response, c.head_request, bytes);
    ResponseDecoder decoder(64 * 1024, 1024 * 1024);
    if (c.head_request) decoder.expectNoBody();
    EXPECT_EQ(decoder.decode(bytes), bytes.size());
    ASSERT_EQ(decoder.state(), ResponseDecoder::State::kMessage) << decoder.error();
    Response decoded = decoder.take();
    decoded.headers.remove("Content-Length");
    decoded.headers.remove("Connection");
    EXPECT_EQ(decoded.status, c.response.status);
    EXPECT_EQ(decoded.reason, c.response.reason.empty()
                                  ? std::string(reasonPhrase(c.response.status))
                                  : c.response.reason);
    EXPECT_EQ(fieldsOf(decoded.headers), fieldsOf(c.response.headers));
    EXPECT_EQ(decoded.body, c.head_request ? "" : c.response.body);
    EXPECT_EQ(decoded.keep_alive, c.response.keep_alive);
  }
}

TEST(MessageWriter, StreamedResponseHeadsFrameTheBodyThatFollows) {
  Response head = response(200, "", {{"Content-Length", "1"}, {"Transfer-Encoding", "gzip"}}, "");
  std::string out;
  writeResponseHead(head, BodyFraming::kContentLength, 12, out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n") << "app framing never copied";

  out.clear();
  writeResponseHead(head, BodyFraming::kChunked, 0, out);
  appendChunk("hello", out);
  appendChunk("", out);  // would end the body: nothing written
  appendChunk(std::string(300, 'x'), out);
  appendLastChunk(out);
  ResponseDecoder decoder(1024, 1024);
  EXPECT_EQ(decoder.decode(out), out.size());
  ASSERT_EQ(decoder.state(), ResponseDecoder::State::kMessage) << decoder.error();
  EXPECT_EQ(decoder.take().body, "hello" + std::string(300, 'x'));

  out.clear();
  head.keep_alive = false;
  writeResponseHead(head, BodyFraming::kUntilClose, 0, out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
}

}  // namespace
}  // namespace dedup::http1
