#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "proxy/http1/request_decoder.h"

namespace dedup::http1 {
namespace {

using State = RequestDecoder::State;
using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr size_t kWhole = std::string::npos;
// Every input is also fed whole, one byte at a time, and in odd-sized pieces.
constexpr size_t kSteps[] = {kWhole, 1, 2, 7, 64};

struct Outcome {
  std::vector<Request> requests;
  State state = State::kNeedMore;
  DecodeError error;
  size_t unconsumed = 0;  // bytes the decoder left in the connection buffer
};

// Plays a connection: bytes arrive `step` at a time into a buffer; the
// decoder drains what it consumes and each finished request is taken.
Outcome decodeStream(std::string_view input, size_t step = kWhole, DecodeLimits limits = {}) {
  RequestDecoder decoder(limits);
  Outcome out;
  std::string buffer;
  size_t offset = 0;
  while (offset < input.size() && out.state != State::kError) {
    const size_t n = std::min(step, input.size() - offset);
    buffer.append(input.substr(offset, n));
    offset += n;
    while (!buffer.empty()) {
      const size_t consumed = decoder.decode(buffer);
      EXPECT_LE(consumed, buffer.size());
      buffer.erase(0, consumed);
      out.state = decoder.state();
      if (out.state == State::kMessage) {
        out.requests.push_back(decoder.take());
        out.state = decoder.state();
        continue;
      }
      if (out.state == State::kError) {
        out.error = decoder.error();
        EXPECT_EQ(decoder.decode(buffer), 0u) << "an error is final";
        EXPECT_EQ(decoder.decode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0u);
        break;
      }
      EXPECT_TRUE(buffer.empty()) << "kNeedMore consumes everything";
      break;
    }
  }
  out.unconsumed = buffer.size() + (input.size() - offset);
  return out;
}

Fields fieldsOf(const Request& r) {
  Fields fields;
  for (const Header& h : r.headers.entries()) fields.emplace_back(h.name, h.value);
  return fields;
}

TEST(RequestDecoder, DecodesValidRequests) {
  const struct {
    const char* name;
    std::string input;
    std::string method;
    std::string target;
    int version_minor;
    Fields fields;
    std::string body;
  } cases[] = {
      {"get", "GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/a?b=c", 1, {{"Host", "x"}}, ""},
      {"content-length",
       "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
       "POST",
       "/hook",
       1,
       {{"Host", "x"}, {"Content-Length", "5"}},
       "hello"},
      {"chunked with extensions and trailers",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5;name=value;q=\"a b\"\r\nhello\r\n"
       "1 ; ext\r\n,\r\n"
       "A\r\n0123456789\r\n"
       "0\r\nChecksum: abc\r\nX-T:\r\n\r\n",
       "POST",
       "/",
       1,
       {{"Host", "x"}, {"Transfer-Encoding", "chunked"}},
       "hello,0123456789"},
      {"chunked, case-insensitive coding, hex digits",
       "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ChUnKeD\r\n\r\n"
       "000b\r\nhello world\r\n0\r\n\r\n",
       "PUT",
       "/",
       1,
       {{"Host", "x"}, {"Transfer-Encoding", "ChUnKeD"}},
       "hello world"},
      {"absolute-form target kept as received",
       "GET http://example.com:8080/p?q HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
       "GET",
       "http://example.com:8080/p?q",
       1,
       {{"Host", "example.com:8080"}},
       ""},
      {"asterisk-form",
       "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
       "OPTIONS",
       "*",
       1,
       {{"Host", "x"}},
       ""},
      {"any token method",
       "X-Custom.Method~ /r HTTP/1.1\r\nHost: x\r\n\r\n",
       "X-Custom.Method~",
       "/r",
       1,
       {{"Host", "x"}},
       ""},
      {"values trimmed, order and duplicates kept, empty values",
       "POST / HTTP/1.1\r\nHost:x\r\nB: \t two  words \t\r\nA: 1\r\nEmpty:\r\nSpaces:   \r\n"
       "a: 2\r\nContent-Length: 0\r\n\r\n",
       "POST",
       "/",
       1,
       {{"Host", "x"},
        {"B", "two  words"},
        {"A", "1"},
        {"Empty", ""},
        {"Spaces", ""},
        {"a", "2"},
        {"Content-Length", "0"}},
       ""},
      {"obs-text in values and target",
       "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\nName: Jos\xc3\xa9\r\n\r\n",
       "GET",
       "/caf\xc3\xa9",
       1,
       {{"Host", "x"}, {"Name", "Jos\xc3\xa9"}},
       ""},
      {"Upgrade is not acted on",
       "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
       "GET",
       "/ws",
       1,
       {{"Host", "x"}, {"Connection", "Upgrade"}, {"Upgrade", "websocket"}},
       ""},
      {"empty lines before the request line are ignored",
       "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
       "GET",
       "/",
       1,
       {{"Host", "x"}},
       ""},
      {"leading zeros in Content-Length",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0003\r\n\r\nabc",
       "POST",
       "/",
       1,
       {{"Host", "x"}, {"Content-Length", "0003"}},
       "abc"},
      {"HTTP/1.0 needs no Host", "GET / HTTP/1.0\r\n\r\n", "GET", "/", 0, {}, ""},
      {"HTTP/1.0 with Content-Length",
       "POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi",
       "POST",
       "/",
       0,
       {{"Content-Length", "2"}},
       "hi"},
      {"binary body",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n" + std::string("\0\r\n\xff", 4),
       "POST",
       "/",
       1,
       {{"Host", "x"}, {"Content-Length", "4"}},
       std::string("\0\r\n\xff", 4)},
  };
  for (const auto& c : cases) {
    for (size_t step : kSteps) {
      SCOPED_TRACE(std::string(c.name) + ", step " + std::to_string(step));
      const Outcome out = decodeStream(c.input, step);
      ASSERT_EQ(out.state, State::kNeedMore) << out.error.status << " " << out.error.reason;
      ASSERT_EQ(out.requests.size(), 1u);
      const Request& r = out.requests[0];
      EXPECT_EQ(r.method, c.method);
      EXPECT_EQ(r.target, c.target);
      EXPECT_EQ(r.version_minor, c.version_minor);
      EXPECT_EQ(fieldsOf(r), c.fields);
      EXPECT_EQ(r.body, c.body);
      EXPECT_EQ(out.unconsumed, 0u);
    }
  }
}

TEST(RequestDecoder, TakesPipelinedRequestsOneAtATime) {
  const std::string first = "POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none";
  const std::string second =
      "POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n";
  const std::string third = "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string all = first + second + third;

  RequestDecoder decoder(DecodeLimits{});
  EXPECT_EQ(decoder.decode(all), first.size()) << "stops at the end of one message";
  ASSERT_EQ(decoder.state(), State::kMessage);
  EXPECT_EQ(decoder.decode(all.substr(first.size())), 0u) << "nothing until take()";
  EXPECT_EQ(decoder.take().body, "one");
  EXPECT_EQ(decoder.decode(all.substr(first.size())), second.size());
  EXPECT_EQ(decoder.take().body, "two");
  EXPECT_EQ(decoder.decode(third), third.size());
  EXPECT_EQ(decoder.take().target, "/3");
  EXPECT_EQ(decoder.state(), State::kNeedMore);

  for (size_t step : kSteps) {
    SCOPED_TRACE("step " + std::to_string(step));
    const Outcome out = decodeStream(all, step);
    ASSERT_EQ(out.requests.size(), 3u);
    EXPECT_EQ(out.requests[0].target, "/1");
    EXPECT_EQ(out.requests[1].body, "two");
    EXPECT_EQ(out.requests[2].target, "/3");
    EXPECT_EQ(out.unconsumed, 0u);
  }
}

TEST(RequestDecoder, AppliesKeepAliveRules) {
  const struct {
    const char* head;
    bool keep_alive;
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: te, close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: close\r\n\r\n", false},
  };
  for (const auto& c : cases) {
    const Outcome out = decodeStream(c.head);
    ASSERT_EQ(out.requests.size(), 1u) << c.head;
    EXPECT_EQ(out.requests[0].keep_alive, c.keep_alive) << c.head;
  }
}

TEST(RequestDecoder, RejectsWithTheRightStatus) {
  const std::string post = "POST / HTTP/1.1\r\nHost: x\r\n";
  const std::string chunked = post + "Transfer-Encoding: chunked\r\n\r\n";
  const struct {
    const char* name;
    std::string input;
    int status;
    std::string reason;
  } cases[] = {
      // Smuggling: framing must be unambiguous.
      {"CL and TE", post + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       "both Content-Length and Transfer-Encoding"},
      {"TE and CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400,
       "both Content-Length and Transfer-Encoding"},
      {"duplicate equal CL", post + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400,
       "duplicate Content-Length"},
      {"duplicate different CL", post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\n", 400,
       "duplicate Content-Length"},
      {"CL list", post + "Content-Length: 3, 3\r\n\r\nabc", 400, "invalid Content-Length"},
      {"CL with sign", post + "Content-Length: +3\r\n\r\nabc", 400, "invalid Content-Length"},
      {"CL negative", post + "Content-Length: -3\r\n\r\n", 400, "invalid Content-Length"},
      {"CL hex", post + "Content-Length: 0x3\r\n\r\n", 400, "invalid Content-Length"},
      {"CL letters", post + "Content-Length: 3a\r\n\r\n", 400, "invalid Content-Length"},
      {"CL empty", post + "Content-Length:\r\n\r\n", 400, "invalid Content-Length"},
      {"CL inner space", post + "Content-Length: 1 2\r\n\r\n", 400, "invalid Content-Length"},
      {"CL overflow", post + "Content-Length: 99999999999999999999999\r\n\r\n", 400,
       "invalid Content-Length"},
      {"CL of 19 digits", post + "Content-Length: 9999999999999999999\r\n\r\n", 413,
       "Content-Length larger than 8388608 bytes"},
      {"TE gzip alone", post + "Transfer-Encoding: gzip\r\n\r\n", 400,
       "Transfer-Encoding does not end with chunked"},
      {"TE chunked then gzip", post + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400,
       "Transfer-Encoding does not end with chunked"},
      {"TE xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n", 400,
       "Transfer-Encoding does not end with chunked"},
      {"TE chunked twice",
       post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       "Transfer-Encoding does not end with chunked"},
      {"TE chunked with parameter", post + "Transfer-Encoding: chunked;q=1\r\n\r\n", 400,
       "Transfer-Encoding does not end with chunked"},
      {"TE empty", post + "Transfer-Encoding:\r\n\r\n", 400,
       "Transfer-Encoding does not end with chunked"},
      {"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
       "Transfer-Encoding in an HTTP/1.0 request"},
      // http-parser 2.9.4 takes any name starting with Transfer-Encoding for one.
      {"TE-like name and CL", post + "Transfer-Encodings: x\r\nContent-Length: 0\r\n\r\n", 400,
       "Content-Length with a field named Transfer-Encoding*"},
      {"CL and TE-like name", post + "Content-Length: 0\r\nTransfer-EncodingX: y\r\n\r\n", 400,
       "Content-Length with a field named Transfer-Encoding*"},
      {"TE unknown coding before chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501,
       "unsupported transfer coding"},
      // Header section syntax (non-strict http-parser lets these through alone).
      {"obs-fold", post + "X: a\r\n b\r\n\r\n", 400,
       "obsolete line folding or whitespace before a header name"},
      {"obs-fold with tab", post + "X: a\r\n\tb\r\n\r\n", 400,
       "obsolete line folding or whitespace before a header name"},
      {"whitespace before colon", post + "X : a\r\n\r\n", 400,
       "invalid character in header section"},
      {"tab before colon", post + "X\t: a\r\n\r\n", 400, "invalid character in header section"},
      {"whitespace before first header", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400,
       "obsolete line folding or whitespace before a header name"},
      {"empty header name", post + ": a\r\n\r\n", 400, "invalid character in header section"},
      {"separator in header name", post + "X(y): a\r\n\r\n", 400,
       "invalid character in header section"},
      {"NUL in value", post + std::string("X: a\0b\r\n\r\n", 10), 400,
       "invalid character in header section"},
      {"NUL in name", post + std::string("X\0: a\r\n\r\n", 9), 400,
       "invalid character in header section"},
      {"NUL starting a value", post + std::string("X:\0a\r\n\r\n", 8), 400,
       "invalid character in header section"},
      {"control byte starting a value", post + "X: \x1b[31m\r\n\r\n", 400,
       "invalid character in header section"},
      {"control byte in value", post + "X: a\x01z\r\n\r\n", 400,
       "invalid character in header section"},
      {"DEL in value", post + "X: a\x7fz\r\n\r\n", 400, "invalid character in header section"},
      {"bare CR in value", post + "X: a\rb\r\n\r\n", 400, "bare CR in header section"},
      {"bare CR ends the section", post + "X: a\r\n\rZ", 400, "bare CR in header section"},
      {"bare LF line end", "GET / HTTP/1.1\r\nHost: x\n\r\n", 400, "bare LF in header section"},
      {"bare LF section end", "GET / HTTP/1.1\r\nHost: x\r\n\n", 400, "bare LF in header section"},
      {"bare LF request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400, "malformed request line"},
      {"bare CR request line", "GET / HTTP/1.1\rHost: x\r\n\r\n", 400, "bare CR in request line"},
      {"missing Host", "GET / HTTP/1.1\r\n\r\n", 400, "missing Host header"},
      {"two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
       "more than one Host header"},
      // Request line.
      {"separator in method", "GE(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400,
       "malformed request method"},
      {"leading space", " GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed request method"},
      {"double space", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed request target"},
      {"tab separator", "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed request method"},
      {"control byte in target", "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400,
       "invalid character in request target"},
      {"space after version", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400, "malformed request line"},
      {"two-digit minor", "GET / HTTP/1.12\r\nHost: x\r\n\r\n", 400, "malformed request line"},
      {"misspelled protocol", "GET / HTTQ/1.1\r\nHost: x\r\n\r\n", 400, "malformed HTTP version"},
      {"lower-case protocol", "GET / http/1.1\r\nHost: x\r\n\r\n", 400, "malformed HTTP version"},
      {"short version", "GET / HTTP/1\r\nHost: x\r\n\r\n", 400, "malformed HTTP version"},
      {"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501,
       "CONNECT is not supported"},
      {"HTTP/2 preface", std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505,
       "HTTP version not supported"},
      {"HTTP/0.9", "GET /\r\n", 505, "HTTP/0.9 is not supported"},
      {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505, "HTTP version not supported"},
      {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP version not supported"},
      {"HTTP/0.9 version", "GET / HTTP/0.9\r\n\r\n", 505, "HTTP version not supported"},
      // Expect.
      {"unknown expectation", post + "Expect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417,
       "unsupported Expect"},
      {"100-continue with extra", post + "Expect: 100-continue, x\r\nContent-Length: 1\r\n\r\n",
       417, "unsupported Expect"},
      // Chunked framing.
      {"chunk size not hex", chunked + "zz\r\n", 400, "invalid chunk size"},
      {"chunk size missing", chunked + "\r\n", 400, "invalid chunk size"},
      {"chunk size with junk", chunked + "3 x\r\nabc\r\n0\r\n\r\n", 400, "invalid chunk size"},
      {"chunk size bare CR", chunked + "3\rXabc\r\n0\r\n\r\n", 400, "bare CR in chunk size line"},
      {"chunk size bare LF", chunked + "3\nabc\r\n0\r\n\r\n", 400, "invalid chunk size"},
      {"chunk data without CRLF", chunked + "3\r\nabcXY0\r\n\r\n", 400,
       "chunk data not followed by CRLF"},
      {"chunk data too long", chunked + "3\r\nabcd\r\n0\r\n\r\n", 400,
       "chunk data not followed by CRLF"},
      {"chunk data bare LF", chunked + "3\r\nabc\n0\r\n\r\n", 400,
       "chunk data not followed by CRLF"},
      {"control byte in extension", chunked + "3;a\x01\r\nabc\r\n0\r\n\r\n", 400,
       "invalid character in chunk extension"},
      {"last chunk bare CR", chunked + "0\r\n\rX", 400, "bare CR at the end of a chunked body"},
      {"trailer obs-fold", chunked + "0\r\nA: b\r\n c\r\n\r\n", 400, "malformed trailer field"},
      {"trailer without colon", chunked + "0\r\nAb\r\n\r\n", 400, "malformed trailer field"},
      {"negative chunk size", chunked + "-3\r\nabc\r\n0\r\n\r\n", 400, "invalid chunk size"},
      {"request after Connection: close",
       "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
       400, "request after Connection: close"},
  };
  for (const auto& c : cases) {
    for (size_t step : kSteps) {
      SCOPED_TRACE(std::string(c.name) + ", step " + std::to_string(step));
      const Outcome out = decodeStream(c.input, step);
      ASSERT_EQ(out.state, State::kError);
      EXPECT_EQ(out.error.status, c.status) << out.error.reason;
      EXPECT_EQ(out.error.reason, c.reason);
    }
  }
}

std::string requestWithHeadSize(size_t head_size) {
  // "GET / HTTP/1.1\r\n" (16) + "Host: x\r\n" (9) + "P: <pad>\r\n" (5 + pad) + "\r\n" (2)
  std::string head = "GET / HTTP/1.1\r\nHost: x\r\nP: ";
  head.append(head_size - 32, 'p');
  head.append("\r\n\r\n");
  return head;
}

TEST(RequestDecoder, HeaderLimitIsInclusive) {
  const DecodeLimits limits{/*max_header_bytes=*/1000, /*max_body_bytes=*/100};
  for (size_t step : kSteps) {
    SCOPED_TRACE("step " + std::to_string(step));
    const std::string at_limit = requestWithHeadSize(1000);
    ASSERT_EQ(at_limit.size(), 1000u);
    const Outcome ok = decodeStream(at_limit, step, limits);
    EXPECT_EQ(ok.requests.size(), 1u);

    const Outcome over = decodeStream(requestWithHeadSize(1001), step, limits);
    ASSERT_EQ(over.state, State::kError);
    EXPECT_EQ(over.error.status, 431);

    const Outcome long_line =
        decodeStream("GET /" + std::string(2000, 'a') + " HTTP/1.1\r\n", step, limits);
    ASSERT_EQ(long_line.state, State::kError);
    EXPECT_EQ(long_line.error.status, 431);
  }
}

TEST(RequestDecoder, BodyLimitIsInclusive) {
  const DecodeLimits limits{/*max_header_bytes=*/1000, /*max_body_bytes=*/10};
  const std::string head = "POST / HTTP/1.1\r\nHost: x\r\n";
  const struct {
    const char* name;
    std::string input;
    bool accepted;
  } cases[] = {
      {"CL at limit", head + "Content-Length: 10\r\n\r\n0123456789", true},
      {"CL over limit", head + "Content-Length: 11\r\n\r\n0123456789a", false},
      {"chunked at limit",
       head + "Transfer-Encoding: chunked\r\n\r\n4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n", true},
      {"chunked over limit",
       head + "Transfer-Encoding: chunked\r\n\r\n4\r\n0123\r\n7\r\n4567890\r\n0\r\n\r\n", false},
      {"huge chunk size", head + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffffff\r\n",
       false},
  };
  for (const auto& c : cases) {
    for (size_t step : kSteps) {
      SCOPED_TRACE(std::string(c.name) + ", step " + std::to_string(step));
      const Outcome out = decodeStream(c.input, step, limits);
      if (c.accepted) {
        ASSERT_EQ(out.requests.size(), 1u) << out.error.reason;
        EXPECT_EQ(out.requests[0].body.size(), 10u);
      } else {
        ASSERT_EQ(out.state, State::kError);
        EXPECT_EQ(out.error.status, 413) << out.error.reason;
      }
    }
  }
}

TEST(RequestDecoder, RejectsTooLargeContentLengthBeforeTheBody) {
  RequestDecoder decoder(DecodeLimits{1000, 10});
  const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n";
  EXPECT_EQ(decoder.decode(head), head.size());
  ASSERT_EQ(decoder.state(), State::kError);
  EXPECT_EQ(decoder.error().status, 413);
}

TEST(RequestDecoder, RejectsAGrowingChunkedBodyAtTheChunkSize) {
  RequestDecoder decoder(DecodeLimits{1000, 10});
  const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(decoder.decode(head + "8\r\n01234567\r\n"), head.size() + 13);
  EXPECT_EQ(decoder.state(), State::kNeedMore);
  decoder.decode("3\r\n");
  ASSERT_EQ(decoder.state(), State::kError);
  EXPECT_EQ(decoder.error().status, 413);
}

TEST(RequestDecoder, LimitsTrailerSection) {
  const DecodeLimits limits{/*max_header_bytes=*/100, /*max_body_bytes=*/100};
  const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  EXPECT_EQ(decodeStream(head + "T: " + std::string(93, 't') + "\r\n\r\n", kWhole, limits)
                .requests.size(),
            1u);
  const Outcome over =
      decodeStream(head + "T: " + std::string(94, 't') + "\r\n\r\n", kWhole, limits);
  ASSERT_EQ(over.state, State::kError);
  EXPECT_EQ(over.error.status, 431);
}

TEST(RequestDecoder, AsksForContinueUntilSentOrTheBodyStarts) {
  const std::string head =
      "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
  {
    RequestDecoder decoder(DecodeLimits{});
    decoder.decode(head.substr(0, head.size() - 1));
    EXPECT_FALSE(decoder.expectsContinue()) << "headers not complete yet";
    decoder.decode(head.substr(head.size() - 1));
    EXPECT_TRUE(decoder.expectsContinue());
    decoder.continueSent();
    EXPECT_FALSE(decoder.expectsContinue());
    decoder.decode("abc");
    ASSERT_EQ(decoder.state(), State::kMessage);
    decoder.take();
    EXPECT_FALSE(decoder.expectsContinue());
  }
  {
    RequestDecoder decoder(DecodeLimits{});
    decoder.decode(head + "a");
    EXPECT_FALSE(decoder.expectsContinue()) << "the body has started";
  }
  {
    RequestDecoder decoder(DecodeLimits{});
    decoder.decode("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    EXPECT_FALSE(decoder.expectsContinue()) << "ignored in HTTP/1.0";
  }
  {
    RequestDecoder decoder(DecodeLimits{});
    decoder.decode(
        "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(decoder.state(), State::kMessage);
    EXPECT_FALSE(decoder.expectsContinue()) << "no body to wait for";
  }
}

TEST(RequestDecoder, ReportsProgressThroughAMessage) {
  RequestDecoder decoder(DecodeLimits{});
  EXPECT_FALSE(decoder.midMessage());
  EXPECT_FALSE(decoder.headersComplete());
  decoder.decode("\r\n");
  EXPECT_FALSE(decoder.midMessage()) << "empty lines are not a request";
  decoder.decode("PO");
  EXPECT_TRUE(decoder.midMessage());
  EXPECT_FALSE(decoder.headersComplete());
  decoder.decode("ST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n");
  EXPECT_TRUE(decoder.midMessage());
  EXPECT_TRUE(decoder.headersComplete());
  decoder.decode("ok");
  EXPECT_EQ(decoder.state(), State::kMessage);
  EXPECT_FALSE(decoder.midMessage());
  EXPECT_TRUE(decoder.headersComplete());
  EXPECT_EQ(decoder.take().body, "ok");
  EXPECT_FALSE(decoder.midMessage());
  EXPECT_FALSE(decoder.headersComplete());
}

TEST(RequestDecoder, ErrorIsFinal) {
  RequestDecoder decoder(DecodeLimits{});
  const std::string bad = "GET / HTTP/1.1\r\nHost: x\r\nX : y\r\n\r\n";
  EXPECT_LE(decoder.decode(bad), bad.size());
  ASSERT_EQ(decoder.state(), State::kError);
  EXPECT_EQ(decoder.decode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0u);
  EXPECT_EQ(decoder.state(), State::kError);
  EXPECT_FALSE(decoder.midMessage());
}

}  // namespace
}  // namespace dedup::http1
