// The request line is parsed here, the header section by http-parser (through
// HeaderSectionParser), the body by BodyDecoder. Rejections and their status:
//   400  malformed request line, target or version ("HTTP/1.12" too); bare CR
//        or LF, obs-fold, whitespace before a colon, NUL or other control
//        bytes in the header section; missing Host in HTTP/1.1, more than one
//        Host; invalid or duplicate Content-Length (even if equal); both
//        Content-Length and Transfer-Encoding; Transfer-Encoding in HTTP/1.0;
//        Transfer-Encoding whose final coding is not chunked, or with chunked
//        twice; malformed chunked framing; bytes after a Connection: close
//        request.
//   413  Content-Length over max_body_bytes (before the body is read), or a
//        chunked body growing past it (checked at each chunk size).
//   417  an Expect other than 100-continue.
//   431  request line + header section over max_header_bytes (http-parser
//        also caps it at its compiled-in 80 KiB), or trailers over it.
//   501  CONNECT; a transfer coding other than chunked before the final
//        chunked ("gzip, chunked": understood framing, unsupported coding).
//   505  a well-formed version other than HTTP/1.0 and HTTP/1.1 (the HTTP/2
//        preface "PRI * HTTP/2.0" included), and HTTP/0.9 ("GET /").
// When several apply, the first one met in that order of parsing wins; after
// the header section: 400, 501, 413, 417.
#include "proxy/http1/request_decoder.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "proxy/http1/body_decoder.h"
#include "proxy/http1/header_section_parser.h"
#include "proxy/http1/invariant.h"
#include "proxy/http1/syntax.h"

namespace dedup::http1 {
namespace {

enum class Phase { kIdle, kMethod, kTarget, kVersion, kLineCr, kLineLf, kHeaders, kBody };

constexpr size_t kVersionLength = 8;  // "HTTP/1.1"

// Visible ASCII and obs-text: a target is forwarded as received.
bool isTargetChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

class RequestDecoder::Impl {
 public:
  explicit Impl(const DecodeLimits& limits) : limits_(limits) { reset(); }

  size_t decode(std::string_view data);
  State state() const { return state_; }
  Request take();
  const DecodeError& error() const { return error_; }
  bool expectsContinue() const {
    return state_ == State::kNeedMore && phase_ == Phase::kBody && expect_continue_ &&
           !continue_sent_ && !body_.started();
  }
  void continueSent() { continue_sent_ = true; }
  bool headersComplete() const { return phase_ == Phase::kBody; }
  bool midMessage() const { return state_ == State::kNeedMore && phase_ != Phase::kIdle; }

 private:
  size_t parseRequestLine(std::string_view data);
  void parseVersion();
  void startHeaders();
  size_t parseHeaders(std::string_view data);
  void headersDone();
  size_t parseBody(std::string_view data);
  void fail(int status, std::string_view reason);
  void reset();

  const DecodeLimits limits_;
  HeaderSectionParser header_parser_{HTTP_REQUEST};
  BodyDecoder body_;
  State state_ = State::kNeedMore;
  Phase phase_ = Phase::kIdle;
  Request request_;
  size_t line_bytes_ = 0;  // request line so far, counted against max_header_bytes
  char version_[kVersionLength] = {};
  size_t version_length_ = 0;
  bool expect_continue_ = false;
  bool continue_sent_ = false;
  bool closed_ = false;  // a request asked to close the connection
  DecodeError error_;
};

size_t RequestDecoder::Impl::decode(std::string_view data) {
  if (state_ != State::kNeedMore) return 0;
  if (closed_) {
    if (!data.empty()) fail(400, "request after Connection: close");
    return 0;
  }
  size_t used = 0;
  while (used < data.size() && state_ == State::kNeedMore) {
    const std::string_view rest = data.substr(used);
    size_t n = 0;
    if (phase_ < Phase::kHeaders) {
      n = parseRequestLine(rest);
    } else if (phase_ == Phase::kHeaders) {
      n = parseHeaders(rest);
    } else {
      n = parseBody(rest);
    }
    HTTP1_INVARIANT(n > 0 || state_ != State::kNeedMore);
    used += n;
  }
  return used;
}

Request RequestDecoder::Impl::take() {
  HTTP1_INVARIANT(state_ == State::kMessage);
  Request request = std::move(request_);
  closed_ = !request.keep_alive;
  reset();
  return request;
}

size_t RequestDecoder::Impl::parseRequestLine(std::string_view data) {
  const size_t room = limits_.max_header_bytes - line_bytes_;
  if (room == 0) {
    fail(431, "request line too large");
    return 0;
  }
  const std::string_view view = data.substr(0, room);
  size_t i = 0;
  while (i < view.size() && state_ == State::kNeedMore && phase_ < Phase::kHeaders) {
    switch (phase_) {
      case Phase::kIdle:
        // RFC 9112 §2.2: empty lines before a request line are ignored.
        if (view[i] == '\r' || view[i] == '\n') {
          ++i;
        } else {
          phase_ = Phase::kMethod;
        }
        break;
      case Phase::kMethod: {
        const size_t begin = i;
        while (i < view.size() && isTokenChar(view[i])) ++i;
        request_.method.append(view.data() + begin, i - begin);
        if (i == view.size()) break;
        if (view[i] != ' ' || request_.method.empty()) {
          fail(400, "malformed request method");
          break;
        }
        ++i;
        if (request_.method == "CONNECT") {
          fail(501, "CONNECT is not supported");
          break;
        }
        phase_ = Phase::kTarget;
        break;
      }
      case Phase::kTarget: {
        const size_t begin = i;
        while (i < view.size() && isTargetChar(view[i])) ++i;
        request_.target.append(view.data() + begin, i - begin);
        if (i == view.size()) break;
        if (request_.target.empty()) {
          fail(400, "malformed request target");
        } else if (view[i] == ' ') {
          ++i;
          phase_ = Phase::kVersion;
        } else if (view[i] == '\r' || view[i] == '\n') {
          fail(505, "HTTP/0.9 is not supported");
        } else {
          fail(400, "invalid character in request target");
        }
        break;
      }
      case Phase::kVersion: {
        const size_t n = std::min(kVersionLength - version_length_, view.size() - i);
        std::memcpy(version_ + version_length_, view.data() + i, n);
        version_length_ += n;
        i += n;
        if (version_length_ == kVersionLength) parseVersion();
        break;
      }
      case Phase::kLineCr:
        if (view[i] != '\r') {
          fail(400, "malformed request line");
          break;
        }
        ++i;
        phase_ = Phase::kLineLf;
        break;
      case Phase::kLineLf:
        if (view[i] != '\n') {
          fail(400, "bare CR in request line");
          break;
        }
        ++i;
        phase_ = Phase::kHeaders;
        break;
      case Phase::kHeaders:
      case Phase::kBody:
        break;
    }
  }
  line_bytes_ += i;
  if (state_ != State::kNeedMore) return i;
  if (phase_ == Phase::kHeaders) {
    startHeaders();
  } else if (line_bytes_ == limits_.max_header_bytes) {
    fail(431, "request line too large");
  }
  return i;
}

void RequestDecoder::Impl::parseVersion() {
  const std::string_view v(version_, kVersionLength);
  if (v.substr(0, 5) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' || !isDigit(v[7])) {
    fail(400, "malformed HTTP version");
    return;
  }
  if (v[5] != '1' || v[7] > '1') {
    fail(505, "HTTP version not supported");
    return;
  }
  request_.version_minor = v[7] - '0';
  phase_ = Phase::kLineCr;
}

void RequestDecoder::Impl::startHeaders() {
  // http-parser sees a request line of the same version, so that
  // http_should_keep_alive() applies the HTTP/1.0 or HTTP/1.1 default.
  char line[] = "GET / HTTP/1.1\r\n";
  line[13] = static_cast<char>('0' + request_.version_minor);
  request_.headers.entries().reserve(16);
  header_parser_.start(std::string_view(line, sizeof(line) - 1), &request_.headers,
                       limits_.max_header_bytes - line_bytes_);
}

size_t RequestDecoder::Impl::parseHeaders(std::string_view data) {
  const size_t n = header_parser_.parse(data);
  switch (header_parser_.state()) {
    case HeaderSectionParser::State::kError:
      fail(header_parser_.error().status, header_parser_.error().reason);
      break;
    case HeaderSectionParser::State::kDone:
      headersDone();
      break;
    case HeaderSectionParser::State::kNeedMore:
      break;
  }
  return n;
}

void RequestDecoder::Impl::headersDone() {
  phase_ = Phase::kBody;
  const HeaderSummary& fields = header_parser_.summary();
  request_.keep_alive = header_parser_.keepAlive();
  if (fields.host_count == 0 && request_.version_minor == 1) {
    return fail(400, "missing Host header");
  }
  if (fields.host_count > 1) return fail(400, "more than one Host header");

  BodyDecoder::Framing framing = BodyDecoder::Framing::kLength;
  uint64_t length = 0;
  if (fields.transfer_encoding) {
    if (fields.content_length_count > 0) {
      return fail(400, "both Content-Length and Transfer-Encoding");
    }
    if (request_.version_minor == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (!fields.chunkedFraming()) return fail(400, "Transfer-Encoding does not end with chunked");
    if (fields.other_coding) return fail(501, "unsupported transfer coding");
    framing = BodyDecoder::Framing::kChunked;
  } else if (fields.content_length_count > 0) {
    length = fields.content_length;
    if (length > limits_.max_body_bytes) {
      return fail(
          413, "Content-Length larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
    }
  }
  if (fields.expect_other) return fail(417, "unsupported Expect");
  // RFC 9110 §10.1.1: a 100-continue in an HTTP/1.0 request is ignored.
  expect_continue_ = fields.expect_continue && request_.version_minor == 1;

  body_.start(framing, length, &request_.body,
              BodyDecoder::Limits{limits_.max_body_bytes, limits_.max_header_bytes});
  if (body_.state() == BodyDecoder::State::kDone) state_ = State::kMessage;
}

size_t RequestDecoder::Impl::parseBody(std::string_view data) {
  const size_t n = body_.decode(data);
  switch (body_.state()) {
    case BodyDecoder::State::kError:
      fail(body_.error().status, body_.error().reason);
      break;
    case BodyDecoder::State::kDone:
      state_ = State::kMessage;
      break;
    case BodyDecoder::State::kNeedMore:
      break;
  }
  return n;
}

void RequestDecoder::Impl::fail(int status, std::string_view reason) {
  state_ = State::kError;
  error_.status = status;
  error_.reason.assign(reason);
}

void RequestDecoder::Impl::reset() {
  request_ = Request{};
  state_ = State::kNeedMore;
  phase_ = Phase::kIdle;
  line_bytes_ = 0;
  version_length_ = 0;
  expect_continue_ = false;
  continue_sent_ = false;
}

RequestDecoder::RequestDecoder(const DecodeLimits& limits)
    : impl_(std::make_unique<Impl>(limits)) {}
RequestDecoder::~RequestDecoder() = default;

size_t RequestDecoder::decode(std::string_view data) { return impl_->decode(data); }
RequestDecoder::State RequestDecoder::state() const { return impl_->state(); }
Request RequestDecoder::take() { return impl_->take(); }
const DecodeError& RequestDecoder::error() const { return impl_->error(); }
bool RequestDecoder::expectsContinue() const { return impl_->expectsContinue(); }
void RequestDecoder::continueSent() { impl_->continueSent(); }
bool RequestDecoder::headersComplete() const { return impl_->headersComplete(); }
bool RequestDecoder::midMessage() const { return impl_->midMessage(); }

}  // namespace dedup::http1
