// Fuzzes Http2ServerCodec, the server side of h2c: the input (after the
// client preface, which every input gets for free so the fuzzer starts at the
// frames) is fed in pieces as a socket would; requests are answered at once,
// every other one while the codec is still inside receive(). Checks what the
// codec promises its connection: requests only with a method and a target,
// bodies and header lists within the limits, and that it stops reading when
// it says it is finished.
#include <string>
#include <vector>

#include "proxy/downstream/http2/http2_server_codec.h"
#include "tests/fuzz/fuzz_input.h"

namespace dedup::fuzz {
namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct AnsweringHandler : CodecHandler {
  http2::Http2ServerCodec* codec = nullptr;
  http2::Http2Limits limits;
  std::vector<uint64_t> later;
  size_t requests = 0;

  void onRequest(uint64_t slot, Request request) override {
    FUZZ_CHECK(!request.method.empty());
    FUZZ_CHECK(!request.target.empty());
    FUZZ_CHECK(request.body.size() <= limits.max_body_bytes);
    size_t header_bytes = 0;
    for (const Header& h : request.headers.entries())
      header_bytes += h.name.size() + h.value.size();
    FUZZ_CHECK(header_bytes <= limits.max_header_list_bytes);
    Response response;
    response.status = 200;
    response.body = request.body;
    response.headers.add("X-Echo", "1");
    if (requests++ % 2 == 0) {
      codec->respond(slot, std::move(response));
    } else {
      later.push_back(slot);
    }
  }
  Response onRejected(int status, std::string_view) override {
    FUZZ_CHECK(status == 400 || status == 413 || status == 431);
    Response response;
    response.status = status;
    return response;
  }
};

http2::Http2Limits limitsFor(uint8_t control) {
  static constexpr uint64_t kHeader[] = {64, 1024, 16 * 1024, 64 * 1024};
  static constexpr uint64_t kBody[] = {0, 16, 1024, 8 * 1024 * 1024};
  http2::Http2Limits limits;
  limits.max_header_list_bytes = kHeader[control & 3];
  limits.max_body_bytes = kBody[(control >> 2) & 3];
  limits.held_body_budget = (control & 16) ? 64 : limits.max_body_bytes;
  limits.max_concurrent_streams = (control & 32) ? 2 : 100;
  return limits;
}

void run(const FuzzInput& in, const std::vector<size_t>& cuts) {
  AnsweringHandler handler;
  handler.limits = limitsFor(in.control);
  auto created = http2::Http2ServerCodec::create(handler, handler.limits);
  FUZZ_CHECK(created.ok());
  http2::Http2ServerCodec& codec = *created.value();
  handler.codec = &codec;
  std::string out;
  FUZZ_CHECK(codec.receive(kPreface).ok());
  size_t start = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(in.stream.size());
  for (size_t end : ends) {
    if (end < start) continue;
    if (!codec.receive(in.stream.substr(start, end - start)).ok()) return;
    start = end;
    for (uint64_t slot : handler.later) codec.respond(slot, Response());
    handler.later.clear();
    out.clear();
    if (!codec.produce(out, 1 << 20).ok()) return;
    if (codec.finished()) return;
  }
  if (in.control & 64) codec.drain();
  out.clear();
  (void)codec.produce(out, 1 << 20);
}

}  // namespace
}  // namespace dedup::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dedup::fuzz::FuzzInput in;
  if (!dedup::fuzz::readInput(data, size, in)) return 0;
  for (const auto& cuts : dedup::fuzz::cutPatterns(in)) dedup::fuzz::run(in, cuts);
  return 0;
}
