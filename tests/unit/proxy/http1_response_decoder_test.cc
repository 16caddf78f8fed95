#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proxy/http1/response_decoder.h"

namespace dedup::http1 {
namespace {

using State = ResponseDecoder::State;
using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr size_t kWhole = std::string::npos;
constexpr size_t kSteps[] = {kWhole, 1, 3, 16};
constexpr size_t kMaxHeader = 1024;
constexpr size_t kMaxBody = 64;

struct Outcome {
  State state = State::kNeedMore;
  Response response;
  std::string error;
  size_t consumed = 0;
};

// Feeds `input` `step` bytes at a time until one response (or an error);
// then, when `eof`, reports the close.
Outcome decodeOne(std::string_view input, size_t step = kWhole, bool eof = false,
                  bool head = false) {
  ResponseDecoder decoder(kMaxHeader, kMaxBody);
  if (head) decoder.expectNoBody();
  Outcome out;
  while (out.consumed < input.size() && decoder.state() == State::kNeedMore) {
    const std::string_view piece = input.substr(out.consumed, step);
    const size_t n = decoder.decode(piece);
    EXPECT_LE(n, piece.size());
    if (decoder.state() == State::kNeedMore) {
      EXPECT_EQ(n, piece.size());
    }
    out.consumed += n;
  }
  if (eof) decoder.decodeEof();
  out.state = decoder.state();
  if (out.state == State::kMessage) out.response = decoder.take();
  if (out.state == State::kError) {
    out.error = decoder.error();
    EXPECT_EQ(decoder.decode("HTTP/1.1 200 OK\r\n\r\n"), 0u) << "an error is final";
  }
  return out;
}

Fields fieldsOf(const Response& r) {
  Fields fields;
  for (const Header& h : r.headers.entries()) fields.emplace_back(h.name, h.value);
  return fields;
}

TEST(ResponseDecoder, DecodesResponses) {
  const struct {
    const char* name;
    std::string input;
    bool eof;   // the upstream closes after the input
    bool head;  // the request was HEAD
    int status;
    std::string reason;
    Fields fields;
    std::string body;
    bool keep_alive;
    std::string rest;  // what stays unconsumed
  } cases[] = {
      {"content-length",
       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
       false,
       false,
       200,
       "OK",
       {{"Content-Length", "5"}},
       "hello",
       true,
       ""},
      {"chunked",
       "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
       "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
       false,
       false,
       201,
       "Created",
       {{"Transfer-Encoding", "chunked"}},
       "abcde",
       true,
       ""},
      {"until close",
       "HTTP/1.1 200 OK\r\nX: y\r\n\r\nall of it",
       true,
       false,
       200,
       "OK",
       {{"X", "y"}},
       "all of it",
       false,
       ""},
      {"until close, empty", "HTTP/1.0 200 OK\r\n\r\n", true, false, 200, "OK", {}, "", false, ""},
      {"100 continue skipped",
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
       false,
       false,
       200,
       "OK",
       {{"Content-Length", "2"}},
       "ok",
       true,
       ""},
      {"several interim",
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
       "HTTP/1.1 204 No Content\r\n\r\n",
       false,
       false,
       204,
       "No Content",
       {},
       "",
       true,
       ""},
      {"HEAD keeps length, reads no body",
       "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 200 OK",
       false,
       true,
       200,
       "OK",
       {{"Content-Length", "100"}},
       "",
       true,
       "HTTP/1.1 200 OK"},
      {"HEAD chunked",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
       false,
       true,
       200,
       "OK",
       {{"Transfer-Encoding", "chunked"}},
       "",
       true,
       ""},
      {"204 has no body",
       "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc",
       false,
       false,
       204,
       "No Content",
       {{"Content-Length", "3"}},
       "",
       true,
       "abc"},
      {"304 has no body",
       "HTTP/1.1 304 Not Modified\r\n\r\n",
       false,
       false,
       304,
       "Not Modified",
       {},
       "",
       true,
       ""},
      {"no reason phrase",
       "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
       false,
       false,
       200,
       "",
       {{"Content-Length", "0"}},
       "",
       true,
       ""},
      {"empty reason phrase",
       "HTTP/1.1 409 \r\nContent-Length: 0\r\n\r\n",
       false,
       false,
       409,
       "",
       {{"Content-Length", "0"}},
       "",
       true,
       ""},
      {"HTTP/1.0 keep-alive",
       "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
       false,
       false,
       200,
       "OK",
       {{"Connection", "keep-alive"}, {"Content-Length", "0"}},
       "",
       true,
       ""},
      {"HTTP/1.0 default close",
       "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
       false,
       false,
       200,
       "OK",
       {{"Content-Length", "0"}},
       "",
       false,
       ""},
      {"Connection: close",
       "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
       false,
       false,
       200,
       "OK",
       {{"Connection", "close"}, {"Content-Length", "0"}},
       "",
       false,
       ""},
      {"stops after one response",
       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK",
       false,
       false,
       200,
       "OK",
       {{"Content-Length", "1"}},
       "x",
       true,
       "HTTP/1.1 200 OK"},
  };
  for (const auto& c : cases) {
    for (size_t step : kSteps) {
      SCOPED_TRACE(std::string(c.name) + ", step " + std::to_string(step));
      const Outcome out = decodeOne(c.input, step, c.eof, c.head);
      ASSERT_EQ(out.state, State::kMessage) << out.error;
      EXPECT_EQ(out.response.status, c.status);
      EXPECT_EQ(out.response.reason, c.reason);
      EXPECT_EQ(fieldsOf(out.response), c.fields);
      EXPECT_EQ(out.response.body, c.body);
      EXPECT_EQ(out.response.keep_alive, c.keep_alive);
      EXPECT_EQ(c.input.substr(out.consumed), c.rest);
    }
  }
}

TEST(ResponseDecoder, Rejects) {
  const struct {
    const char* name;
    std::string input;
    bool eof;
  } cases[] = {
      {"truncated content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", true},
      {"truncated chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab", true},
      {"truncated headers", "HTTP/1.1 200 OK\r\nContent-Le", true},
      {"truncated status line", "HTTP/1.1 20", true},
      {"nothing before close", "", true},
      {"nothing after interim", "HTTP/1.1 100 Continue\r\n\r\n", true},
      {"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", false},
      {"duplicate CL", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", false},
      {"CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       false},
      {"TE gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false},
      {"TE gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false},
      {"TE in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
      {"header section over limit", "HTTP/1.1 200 OK\r\nX: " + std::string(kMaxHeader, 'x'), false},
      {"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", false},
      {"malformed version", "HTTP/1.x 200 OK\r\n\r\n", false},
      {"not HTTP", "<html>hello</html>", false},
      {"short status", "HTTP/1.1 20 OK\r\n\r\n", false},
      {"status below 100", "HTTP/1.1 099 OK\r\n\r\n", false},
      {"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", false},
      {"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", false},
      {"bad chunk framing", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY",
       false},
      {"control byte in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", false},
  };
  for (const auto& c : cases) {
    for (size_t step : kSteps) {
      SCOPED_TRACE(std::string(c.name) + ", step " + std::to_string(step));
      const Outcome out = decodeOne(c.input, step, c.eof);
      ASSERT_EQ(out.state, State::kError);
      EXPECT_FALSE(out.error.empty());
    }
  }
}

TEST(ResponseDecoder, ExplainsTruncationAndUpgrade) {
  EXPECT_NE(decodeOne("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", kWhole, true)
                .error.find("truncated"),
            std::string::npos);
  EXPECT_NE(
      decodeOne("HTTP/1.1 101 Switching Protocols\r\n\r\n").error.find("upgrade not supported"),
      std::string::npos);
}

TEST(ResponseDecoder, IsReadyForTheNextResponseAfterTake) {
  ResponseDecoder decoder(kMaxHeader, kMaxBody);
  decoder.expectNoBody();
  const std::string head_response = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
  EXPECT_EQ(decoder.decode(head_response + "abc"), head_response.size());
  ASSERT_EQ(decoder.state(), State::kMessage);
  EXPECT_EQ(decoder.take().body, "");
  // expectNoBody() applied to one response only.
  EXPECT_EQ(decoder.decode(head_response + "abc"), head_response.size() + 3);
  ASSERT_EQ(decoder.state(), State::kMessage);
  EXPECT_EQ(decoder.take().body, "abc");
  EXPECT_EQ(decoder.state(), State::kNeedMore);
}

// --- Streaming: bodies over the buffering limit (kMaxBody) ---------------

struct Streamed {
  State end = State::kNeedMore;  // the state after the last input
  Response head;
  std::optional<uint64_t> length;
  std::string body;  // the head's bytes, then everything streamed
  bool keep_alive = false;
  std::string error;
  int head_status = 0;
};

// Feeds `input` `step` bytes at a time, taking the head at kHead and
// draining streamedBody() after every call, as UpstreamConnection does.
Streamed stream(std::string_view input, size_t step, bool eof = false) {
  ResponseDecoder decoder(kMaxHeader, kMaxBody);
  Streamed out;
  size_t used = 0;
  bool streaming = false;
  auto drain = [&] {
    if (!streaming) return;
    std::string& bytes = decoder.streamedBody();
    EXPECT_LE(bytes.size(), step == kWhole ? input.size() : step) << "bounded per call";
    out.body += bytes;
    bytes.clear();
  };
  while (true) {
    if (decoder.state() == State::kHead) {
      out.head = decoder.takeHead();
      out.length = decoder.bodyLength();
      out.body = out.head.body;
      streaming = true;
      drain();
      continue;
    }
    if (decoder.state() != State::kNeedMore || used == input.size()) break;
    const std::string_view piece = input.substr(used, step);
    used += decoder.decode(piece);
    drain();
  }
  if (eof && decoder.state() == State::kNeedMore) {
    decoder.decodeEof();
    drain();
  }
  out.end = decoder.state();
  out.head_status = decoder.headStatus();
  if (out.end == State::kMessage && !streaming) {
    // It all came in one decode() call: complete, no need to stream.
    out.head = decoder.take();
    out.length = std::nullopt;  // (a Content-Length over the limit always streams)
    out.body = out.head.body;
    out.keep_alive = out.head.keep_alive;
  } else if (out.end == State::kMessage) {
    const Response rest = decoder.take();
    out.body += rest.body;
    out.keep_alive = rest.keep_alive;
  }
  if (out.end == State::kError) out.error = decoder.error();
  return out;
}

std::string chunked(const std::string& body, size_t piece) {
  std::string out;
  for (size_t at = 0; at < body.size(); at += piece) {
    const std::string part = body.substr(at, piece);
    char size[16];
    std::snprintf(size, sizeof(size), "%zx", part.size());
    out += std::string(size) + "\r\n" + part + "\r\n";
  }
  return out + "0\r\n\r\n";
}

TEST(ResponseDecoderStreaming, StreamsBodiesOverTheLimitInEveryFraming) {
  std::string big;
  for (int i = 0; big.size() < 1000; ++i) big += std::to_string(i) + ",";
  const struct {
    const char* name;
    std::string input;
    bool eof;
    std::optional<uint64_t> length;
    bool keep_alive;
  } cases[] = {
      {"content-length",
       "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big.size()) + "\r\nX-A: 1\r\n\r\n" +
           big,
       false, big.size(), true},
      {"chunked",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n" + chunked(big, 100), false,
       std::nullopt, true},
      {"until close", "HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n" + big, true, std::nullopt, false},
      {"connection close",
       "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: " + std::to_string(big.size()) +
           "\r\nX-A: 1\r\n\r\n" + big,
       false, big.size(), false},
  };
  for (const auto& c : cases) {
    for (size_t step : kSteps) {
      SCOPED_TRACE(std::string(c.name) + ", step " + std::to_string(step));
      const Streamed out = stream(c.input, step, c.eof);
      ASSERT_EQ(out.end, State::kMessage) << out.error;
      EXPECT_EQ(out.head.status, 200);
      ASSERT_NE(out.head.headers.find("X-A"), nullptr);
      EXPECT_LE(out.head.body.size(), kMaxBody + (step == kWhole ? c.input.size() : step));
      EXPECT_EQ(out.length, c.length);
      EXPECT_EQ(out.body, big);
      EXPECT_EQ(out.keep_alive, c.keep_alive);
      EXPECT_EQ(out.head_status, 200);
    }
  }
}

TEST(ResponseDecoderStreaming, ContentLengthOverTheLimitStopsAtTheHead) {
  ResponseDecoder decoder(kMaxHeader, kMaxBody);
  const std::string head = "HTTP/1.1 201 Created\r\nContent-Length: 1000000000\r\n\r\n";
  EXPECT_EQ(decoder.decode(head + "abc"), head.size()) << "no body byte before takeHead()";
  ASSERT_EQ(decoder.state(), State::kHead);
  EXPECT_EQ(decoder.headStatus(), 201);
  const Response taken = decoder.takeHead();
  EXPECT_EQ(taken.status, 201);
  EXPECT_EQ(taken.body, "");
  EXPECT_EQ(decoder.bodyLength(), std::optional<uint64_t>(1000000000));
  EXPECT_EQ(decoder.decode("abc"), 3u);
  EXPECT_EQ(decoder.streamedBody(), "abc");
  EXPECT_EQ(decoder.state(), State::kNeedMore);
}

TEST(ResponseDecoderStreaming, BodiesWithinTheLimitAreStillWhole) {
  const std::string body(kMaxBody, 'b');
  for (const std::string& input :
       {"HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kMaxBody) + "\r\n\r\n" + body,
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body, 7)}) {
    for (size_t step : kSteps) {
      const Outcome out = decodeOne(input, step);
      ASSERT_EQ(out.state, State::kMessage);
      EXPECT_EQ(out.response.body, body);
    }
  }
}

TEST(ResponseDecoderStreaming, BreakingOffMidBodyIsAnErrorThatKeepsTheStatus) {
  for (const std::string& input :
       {std::string("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n") + std::string(900, 'x'),
        std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") +
            chunked(std::string(900, 'x'), 300).substr(0, 700),
        std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")}) {
    for (size_t step : kSteps) {
      const Streamed out = stream(input, step, /*eof=*/true);
      ASSERT_EQ(out.end, State::kError);
      EXPECT_NE(out.error.find("truncated"), std::string::npos) << out.error;
      EXPECT_EQ(out.head_status, 200) << "the status line was the app's ack";
    }
  }
  EXPECT_EQ(stream("HTTP/1.1 200 O", kWhole, true).head_status, 0);
  EXPECT_EQ(stream("HTTP/1.1 100 Continue\r\n\r\n", kWhole, true).head_status, 0);
}

}  // namespace
}  // namespace dedup::http1
