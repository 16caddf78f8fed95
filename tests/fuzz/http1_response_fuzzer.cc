// Fuzzes ResponseDecoder: every input is decoded whole, in two pieces and
// byte by byte, optionally followed by the upstream closing; all must agree.
// Checks the state machine's invariants and that every decoded response
// survives writeResponse → decode unchanged.
#include <string>
#include <vector>

#include "proxy/http1/message_writer.h"
#include "proxy/http1/response_decoder.h"
#include "tests/fuzz/fuzz_input.h"

namespace dedup::fuzz {
namespace {

using http1::ResponseDecoder;
using State = ResponseDecoder::State;

struct Options {
  size_t max_header_bytes;
  size_t max_body_bytes;
  bool head;  // the request was HEAD
  bool eof;   // the upstream closes after the stream
};

Options optionsFor(uint8_t control) {
  static constexpr size_t kHeader[] = {32, 200, 4096, 64 * 1024};
  static constexpr size_t kBody[] = {0, 16, 1024, 8 * 1024 * 1024};
  return Options{kHeader[control & 3], kBody[(control >> 2) & 3], (control & 0x10) != 0,
                 (control & 0x20) != 0};
}

struct Trace {
  State state = State::kNeedMore;
  Response response;
  std::string error;
  size_t consumed = 0;
};

Trace decode(std::string_view stream, const std::vector<size_t>& cuts, const Options& options) {
  ResponseDecoder decoder(options.max_header_bytes, options.max_body_bytes);
  if (options.head) decoder.expectNoBody();
  Trace trace;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  size_t fed = 0;
  std::string buffer;
  // A body over the limit streams: the head is taken at kHead and the body
  // drained after every call; the pieces are put back together for the
  // comparison between cut patterns.
  bool streaming = false;
  Response head;
  std::string streamed;
  auto drain = [&] {
    if (!streaming) return;
    streamed += decoder.streamedBody();
    decoder.streamedBody().clear();
  };
  for (size_t end : ends) {
    buffer.append(stream.substr(fed, end - fed));
    fed = end;
    while (true) {
      const size_t n = decoder.decode(buffer);
      FUZZ_CHECK(n <= buffer.size());
      trace.consumed += n;
      buffer.erase(0, n);
      drain();
      if (decoder.state() != State::kHead) break;
      FUZZ_CHECK(!streaming);
      FUZZ_CHECK(decoder.headStatus() >= 200);
      head = decoder.takeHead();
      FUZZ_CHECK(!options.head && head.status != 204 && head.status != 304);
      streaming = true;
      streamed = head.body;
    }
    if (decoder.state() != State::kNeedMore) break;
    FUZZ_CHECK(buffer.empty());
  }
  if (options.eof) decoder.decodeEof();
  drain();
  trace.state = decoder.state();
  if (trace.state == State::kNeedMore) FUZZ_CHECK(!options.eof);
  if (trace.state == State::kError) {
    trace.error = decoder.error();
    FUZZ_CHECK(!trace.error.empty());
    FUZZ_CHECK(decoder.decode("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") == 0);
    decoder.decodeEof();
    FUZZ_CHECK(decoder.state() == State::kError);
  }
  if (trace.state == State::kMessage) {
    FUZZ_CHECK(decoder.decode(buffer) == 0);  // one message at a time
    trace.response = decoder.take();
    FUZZ_CHECK(decoder.state() == State::kNeedMore);
    if (streaming) {
      FUZZ_CHECK(trace.response.body.empty());  // drained above
      const bool keep_alive = trace.response.keep_alive;
      trace.response = std::move(head);
      trace.response.body = std::move(streamed);
      trace.response.keep_alive = keep_alive;
    }
    const Response& r = trace.response;
    FUZZ_CHECK(r.status >= 200 && r.status <= 999);
    FUZZ_CHECK(r.version_minor == 0 || r.version_minor == 1);
    if (!streaming) FUZZ_CHECK(r.body.size() <= options.max_body_bytes + stream.size());
    if (options.head || r.status == 204 || r.status == 304) FUZZ_CHECK(r.body.empty());
    FUZZ_CHECK(r.headers.count("Content-Length") <= 1);
    FUZZ_CHECK(r.reason.find_first_of("\r\n") == std::string::npos);
  }
  return trace;
}

bool sameResponse(const Response& a, const Response& b) {
  return a.status == b.status && a.reason == b.reason && a.version_minor == b.version_minor &&
         sameHeaders(a.headers, b.headers) && a.body == b.body && a.keep_alive == b.keep_alive;
}

void checkRoundTrip(const Response& original, bool head) {
  std::string bytes;
  http1::writeResponse(original, head, bytes);
  ResponseDecoder decoder(1 << 20, 16 << 20);
  if (head) decoder.expectNoBody();
  FUZZ_CHECK(decoder.decode(bytes) == bytes.size());
  FUZZ_CHECK(decoder.state() == State::kMessage);
  const Response again = decoder.take();
  FUZZ_CHECK(again.status == original.status);
  if (!original.reason.empty()) FUZZ_CHECK(again.reason == original.reason);
  FUZZ_CHECK(again.body == original.body);
  FUZZ_CHECK(again.keep_alive == original.keep_alive);
  FUZZ_CHECK(sameHeaders(withoutFraming(again.headers), withoutFraming(original.headers)));
}

}  // namespace
}  // namespace dedup::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dedup::fuzz;
  FuzzInput in;
  if (!readInput(data, size, in)) return 0;
  const Options options = optionsFor(in.control);
  const std::vector<std::vector<size_t>> patterns = cutPatterns(in);
  const Trace reference = decode(in.stream, patterns[0], options);
  for (size_t i = 1; i < patterns.size(); ++i) {
    const Trace trace = decode(in.stream, patterns[i], options);
    FUZZ_CHECK(trace.state == reference.state);
    FUZZ_CHECK(trace.error == reference.error);
    if (reference.state == ResponseDecoder::State::kMessage) {
      FUZZ_CHECK(sameResponse(trace.response, reference.response));
      FUZZ_CHECK(trace.consumed == reference.consumed);
    }
  }
  if (reference.state == ResponseDecoder::State::kMessage &&
      !hasTransferEncodingLookalike(reference.response.headers)) {
    checkRoundTrip(reference.response, options.head);
  }
  return 0;
}
