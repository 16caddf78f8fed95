// Fuzzes RequestDecoder: every input is decoded whole, in two pieces and byte
// by byte, as a connection would (unconsumed bytes stay buffered); all must
// agree. Checks the state machine's invariants on the way and that every
// decoded request survives writeRequest → decode unchanged.
#include <string>
#include <utility>
#include <vector>

#include "proxy/http1/message_writer.h"
#include "proxy/http1/request_decoder.h"
#include "tests/fuzz/fuzz_input.h"

namespace dedup::fuzz {
namespace {

using http1::DecodeError;
using http1::DecodeLimits;
using http1::RequestDecoder;
using State = RequestDecoder::State;

struct Trace {
  std::vector<Request> requests;
  bool failed = false;
  DecodeError error;
  size_t consumed = 0;
};

DecodeLimits limitsFor(uint8_t control) {
  static constexpr size_t kHeader[] = {32, 200, 4096, 64 * 1024};
  static constexpr size_t kBody[] = {0, 16, 1024, 8 * 1024 * 1024};
  return DecodeLimits{kHeader[control & 3], kBody[(control >> 2) & 3]};
}

bool sameRequest(const Request& a, const Request& b) {
  return a.method == b.method && a.target == b.target && a.version_minor == b.version_minor &&
         sameHeaders(a.headers, b.headers) && a.body == b.body && a.keep_alive == b.keep_alive;
}

void checkRequest(const Request& r, const DecodeLimits& limits) {
  FUZZ_CHECK(!r.method.empty());
  FUZZ_CHECK(r.method != "CONNECT");
  FUZZ_CHECK(!r.target.empty());
  FUZZ_CHECK(r.version_minor == 0 || r.version_minor == 1);
  FUZZ_CHECK(r.body.size() <= limits.max_body_bytes);
  FUZZ_CHECK(r.headers.count("Content-Length") <= 1);
  FUZZ_CHECK(r.headers.count("Content-Length") == 0 || r.headers.count("Transfer-Encoding") == 0);
  FUZZ_CHECK(r.version_minor == 0 || r.headers.count("Host") == 1);
  for (const Header& h : r.headers.entries()) {
    FUZZ_CHECK(!h.name.empty());
    FUZZ_CHECK(h.name.find_first_of(" \t\r\n:") == std::string::npos);
    FUZZ_CHECK(h.value.find_first_of("\r\n") == std::string::npos);
    FUZZ_CHECK(h.value.find('\0') == std::string::npos);
  }
}

void checkError(const DecodeError& e) {
  const int s = e.status;
  FUZZ_CHECK(s == 400 || s == 413 || s == 417 || s == 431 || s == 501 || s == 505);
  FUZZ_CHECK(!e.reason.empty());
}

Trace decode(std::string_view stream, const std::vector<size_t>& cuts, const DecodeLimits& limits) {
  RequestDecoder decoder(limits);
  Trace trace;
  std::string buffer;
  size_t fed = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(stream.size());
  for (size_t end : ends) {
    buffer.append(stream.substr(fed, end - fed));
    fed = end;
    while (!buffer.empty()) {
      const size_t n = decoder.decode(buffer);
      FUZZ_CHECK(n <= buffer.size());
      trace.consumed += n;
      buffer.erase(0, n);
      const State state = decoder.state();
      if (state == State::kError) {
        trace.failed = true;
        trace.error = decoder.error();
        checkError(trace.error);
        FUZZ_CHECK(!decoder.expectsContinue());
        FUZZ_CHECK(decoder.decode(buffer) == 0);
        FUZZ_CHECK(decoder.decode("GET / HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
        FUZZ_CHECK(decoder.state() == State::kError);
        return trace;
      }
      if (state == State::kNeedMore) {
        FUZZ_CHECK(buffer.empty());
        if (decoder.expectsContinue()) {
          FUZZ_CHECK(decoder.headersComplete());
          FUZZ_CHECK(decoder.midMessage());
          decoder.continueSent();
          FUZZ_CHECK(!decoder.expectsContinue());
        }
        if (decoder.headersComplete()) FUZZ_CHECK(decoder.midMessage());
        break;
      }
      FUZZ_CHECK(decoder.headersComplete());
      FUZZ_CHECK(!decoder.midMessage());
      FUZZ_CHECK(!decoder.expectsContinue());
      FUZZ_CHECK(decoder.decode(buffer) == 0);  // one message at a time
      Request request = decoder.take();
      FUZZ_CHECK(decoder.state() == State::kNeedMore);
      FUZZ_CHECK(!decoder.headersComplete());
      checkRequest(request, limits);
      trace.requests.push_back(std::move(request));
    }
  }
  return trace;
}

void checkRoundTrip(const Request& original) {
  std::string bytes;
  http1::writeRequest(original, bytes);
  RequestDecoder decoder(DecodeLimits{1 << 20, 16 << 20});
  FUZZ_CHECK(decoder.decode(bytes) == bytes.size());
  FUZZ_CHECK(decoder.state() == State::kMessage);
  Request again = decoder.take();
  FUZZ_CHECK(again.method == original.method);
  FUZZ_CHECK(again.target == original.target);
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
  const dedup::http1::DecodeLimits limits = limitsFor(in.control);
  const std::vector<std::vector<size_t>> patterns = cutPatterns(in);
  const Trace reference = decode(in.stream, patterns[0], limits);
  FUZZ_CHECK(reference.consumed <= in.stream.size());
  for (size_t i = 1; i < patterns.size(); ++i) {
    const Trace trace = decode(in.stream, patterns[i], limits);
    FUZZ_CHECK(trace.requests.size() == reference.requests.size());
    for (size_t r = 0; r < trace.requests.size(); ++r) {
      FUZZ_CHECK(sameRequest(trace.requests[r], reference.requests[r]));
    }
    FUZZ_CHECK(trace.failed == reference.failed);
    FUZZ_CHECK(trace.error.status == reference.error.status);
    FUZZ_CHECK(trace.error.reason == reference.error.reason);
    if (!reference.failed) FUZZ_CHECK(trace.consumed == reference.consumed);
  }
  for (const dedup::Request& request : reference.requests) {
    // HTTP/1.0 without Host would not be a valid HTTP/1.1 request.
    if (request.headers.count("Host") == 1 && !hasTransferEncodingLookalike(request.headers)) {
      checkRoundTrip(request);
    }
  }
  return 0;
}
