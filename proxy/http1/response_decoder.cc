// The status line is parsed here, the header section by http-parser (through
// HeaderSectionParser), the body by BodyDecoder. Framing (RFC 9112 §6.3):
// HEAD, 1xx, 204 and 304 have no body; then chunked; then Content-Length;
// otherwise the body runs until the connection closes (and the connection is
// not reused). Errors: duplicate Content-Length, Content-Length with
// Transfer-Encoding, any transfer coding but a single final chunked, 101
// (upgrades are not proxied), anything malformed. A body over the buffering
// limit is streamed, never an error.
#include "proxy/http1/response_decoder.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "proxy/http1/body_decoder.h"
#include "proxy/http1/header_section_parser.h"
#include "proxy/http1/invariant.h"

namespace dedup::http1 {
namespace {

enum class Phase { kVersion, kSpace, kStatus, kAfterStatus, kReason, kLineLf, kHeaders, kBody };

constexpr size_t kVersionLength = 8;  // "HTTP/1.1"

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
bool isReasonChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return c == '\t' || (u >= 0x20 && u != 0x7f);
}

}  // namespace

class ResponseDecoder::Impl {
 public:
  Impl(size_t max_header_bytes, size_t max_buffered_body)
      : max_header_bytes_(max_header_bytes), max_buffered_body_(max_buffered_body) {
    reset();
  }

  void expectNoBody() { no_body_ = true; }
  size_t decode(std::string_view data);
  void decodeEof();
  State state() const { return state_; }
  Response take();
  Response takeHead();
  std::string& streamedBody() { return response_.body; }
  std::optional<uint64_t> bodyLength() const { return body_length_; }
  int headStatus() const { return phase_ == Phase::kBody ? response_.status : 0; }
  const std::string& error() const { return error_; }

 private:
  size_t parseStatusLine(std::string_view data);
  void parseVersion();
  void startHeaders();
  size_t parseHeaders(std::string_view data);
  void headersDone();
  size_t parseBody(std::string_view data);
  void fail(std::string_view reason);
  void startMessage();
  void reset();

  const size_t max_header_bytes_;
  const size_t max_buffered_body_;
  HeaderSectionParser header_parser_{HTTP_RESPONSE};
  BodyDecoder body_;
  State state_ = State::kNeedMore;
  Phase phase_ = Phase::kVersion;
  Response response_;
  size_t line_bytes_ = 0;
  char version_[kVersionLength] = {};
  size_t version_length_ = 0;
  int status_digits_ = 0;
  bool no_body_ = false;    // the request was HEAD
  bool streaming_ = false;  // takeHead() was called
  std::optional<uint64_t> body_length_;
  std::string error_;
};

size_t ResponseDecoder::Impl::decode(std::string_view data) {
  size_t used = 0;
  while (used < data.size() && state_ == State::kNeedMore) {
    const std::string_view rest = data.substr(used);
    size_t n = 0;
    if (phase_ < Phase::kHeaders) {
      n = parseStatusLine(rest);
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

void ResponseDecoder::Impl::decodeEof() {
  if (state_ != State::kNeedMore) return;
  if (phase_ == Phase::kBody) {
    body_.finishAtEof();
    if (body_.state() == BodyDecoder::State::kDone) {
      state_ = State::kMessage;
    } else {
      fail("truncated response: " + body_.error().reason);
    }
  } else if (phase_ == Phase::kVersion && version_length_ == 0) {
    fail("connection closed before a response");
  } else {
    fail("truncated response: connection closed inside the status line or headers");
  }
}

Response ResponseDecoder::Impl::takeHead() {
  HTTP1_INVARIANT(state_ == State::kHead);
  Response head = std::move(response_);
  // The body decoder keeps appending to response_.body, now the stream buffer.
  response_.body.clear();
  response_.status = head.status;
  response_.keep_alive = head.keep_alive;
  streaming_ = true;
  state_ = body_.state() == BodyDecoder::State::kDone ? State::kMessage : State::kNeedMore;
  return head;
}

Response ResponseDecoder::Impl::take() {
  HTTP1_INVARIANT(state_ == State::kMessage);
  Response response = std::move(response_);
  reset();
  return response;
}

size_t ResponseDecoder::Impl::parseStatusLine(std::string_view data) {
  const size_t room = max_header_bytes_ - line_bytes_;
  if (room == 0) {
    fail("status line too large");
    return 0;
  }
  const std::string_view view = data.substr(0, room);
  size_t i = 0;
  while (i < view.size() && state_ == State::kNeedMore && phase_ < Phase::kHeaders) {
    const char c = view[i];
    switch (phase_) {
      case Phase::kVersion: {
        const size_t n = std::min(kVersionLength - version_length_, view.size() - i);
        std::memcpy(version_ + version_length_, view.data() + i, n);
        version_length_ += n;
        i += n;
        if (version_length_ == kVersionLength) parseVersion();
        break;
      }
      case Phase::kSpace:
        if (c != ' ') {
          fail("malformed status line");
          break;
        }
        ++i;
        phase_ = Phase::kStatus;
        break;
      case Phase::kStatus:
        if (!isDigit(c)) {
          fail("malformed status code");
          break;
        }
        ++i;
        response_.status = response_.status * 10 + (c - '0');
        if (++status_digits_ == 3) {
          if (response_.status < 100) {
            fail("malformed status code");
          } else if (response_.status == 101) {
            fail("upgrade not supported (101 Switching Protocols)");
          } else {
            phase_ = Phase::kAfterStatus;
          }
        }
        break;
      case Phase::kAfterStatus:
        // RFC 9112 §4: the SP before an empty reason is sometimes missing.
        if (c == ' ') {
          phase_ = Phase::kReason;
        } else if (c == '\r') {
          phase_ = Phase::kLineLf;
        } else {
          fail("malformed status line");
          break;
        }
        ++i;
        break;
      case Phase::kReason: {
        const size_t begin = i;
        while (i < view.size() && isReasonChar(view[i])) ++i;
        response_.reason.append(view.data() + begin, i - begin);
        if (i == view.size()) break;
        if (view[i] != '\r') {
          fail("invalid character in reason phrase");
          break;
        }
        ++i;
        phase_ = Phase::kLineLf;
        break;
      }
      case Phase::kLineLf:
        if (c != '\n') {
          fail("bare CR in status line");
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
  } else if (line_bytes_ == max_header_bytes_) {
    fail("status line too large");
  }
  return i;
}

void ResponseDecoder::Impl::parseVersion() {
  const std::string_view v(version_, kVersionLength);
  if (v.substr(0, 5) != "HTTP/" || v[5] != '1' || v[6] != '.' || (v[7] != '0' && v[7] != '1')) {
    fail("malformed or unsupported HTTP version in status line");
    return;
  }
  response_.version_minor = v[7] - '0';
  response_.status = 0;
  phase_ = Phase::kSpace;
}

void ResponseDecoder::Impl::startHeaders() {
  // A 204 start line keeps http_should_keep_alive() to the version and
  // Connection: the framing (and so "until close") is decided here.
  char line[] = "HTTP/1.1 204\r\n";
  line[7] = static_cast<char>('0' + response_.version_minor);
  response_.headers.entries().reserve(16);
  header_parser_.start(std::string_view(line, sizeof(line) - 1), &response_.headers,
                       max_header_bytes_ - line_bytes_);
}

size_t ResponseDecoder::Impl::parseHeaders(std::string_view data) {
  const size_t n = header_parser_.parse(data);
  switch (header_parser_.state()) {
    case HeaderSectionParser::State::kError:
      fail(header_parser_.error().reason);
      break;
    case HeaderSectionParser::State::kDone:
      headersDone();
      break;
    case HeaderSectionParser::State::kNeedMore:
      break;
  }
  return n;
}

void ResponseDecoder::Impl::headersDone() {
  const int status = response_.status;
  if (status < 200) {
    // 100 Continue, 102, 103: interim; the final response follows.
    startMessage();
    return;
  }
  phase_ = Phase::kBody;
  const HeaderSummary& fields = header_parser_.summary();
  if (fields.transfer_encoding && fields.content_length_count > 0) {
    return fail("both Content-Length and Transfer-Encoding");
  }
  BodyDecoder::Framing framing = BodyDecoder::Framing::kLength;
  uint64_t length = 0;
  if (fields.transfer_encoding) {
    if (response_.version_minor == 0) return fail("Transfer-Encoding in an HTTP/1.0 response");
    if (!fields.chunkedFraming() || fields.other_coding) {
      return fail("unsupported Transfer-Encoding (only chunked is)");
    }
  }
  const bool no_body = no_body_ || status == 204 || status == 304;
  if (no_body) {
    // Framing headers describe the body a GET would have had: ignored.
  } else if (fields.transfer_encoding) {
    framing = BodyDecoder::Framing::kChunked;
  } else if (fields.content_length_count > 0) {
    length = fields.content_length;
    body_length_ = length;
  } else {
    framing = BodyDecoder::Framing::kUntilClose;
  }
  response_.keep_alive = header_parser_.keepAlive() && framing != BodyDecoder::Framing::kUntilClose;
  // No size limit on the body itself: past max_buffered_body_ it is streamed.
  body_.start(framing, length, &response_.body, BodyDecoder::Limits{SIZE_MAX, max_header_bytes_});
  if (body_.state() == BodyDecoder::State::kDone) {
    state_ = State::kMessage;
  } else if (framing == BodyDecoder::Framing::kLength && length > max_buffered_body_) {
    response_.body.shrink_to_fit();  // drop what start() reserved: nothing is buffered
    state_ = State::kHead;
  }
}

size_t ResponseDecoder::Impl::parseBody(std::string_view data) {
  const size_t n = body_.decode(data);
  switch (body_.state()) {
    case BodyDecoder::State::kError:
      fail(body_.error().reason);
      break;
    case BodyDecoder::State::kDone:
      state_ = State::kMessage;
      break;
    case BodyDecoder::State::kNeedMore:
      if (!streaming_ && response_.body.size() > max_buffered_body_) state_ = State::kHead;
      break;
  }
  return n;
}

void ResponseDecoder::Impl::fail(std::string_view reason) {
  state_ = State::kError;
  error_.assign(reason);
}

void ResponseDecoder::Impl::startMessage() {
  response_ = Response{};
  state_ = State::kNeedMore;
  phase_ = Phase::kVersion;
  line_bytes_ = 0;
  version_length_ = 0;
  status_digits_ = 0;
}

void ResponseDecoder::Impl::reset() {
  startMessage();
  no_body_ = false;
  streaming_ = false;
  body_length_.reset();
}

ResponseDecoder::ResponseDecoder(size_t max_header_bytes, size_t max_buffered_body)
    : impl_(std::make_unique<Impl>(max_header_bytes, max_buffered_body)) {}
ResponseDecoder::~ResponseDecoder() = default;

void ResponseDecoder::expectNoBody() { impl_->expectNoBody(); }
size_t ResponseDecoder::decode(std::string_view data) { return impl_->decode(data); }
void ResponseDecoder::decodeEof() { impl_->decodeEof(); }
ResponseDecoder::State ResponseDecoder::state() const { return impl_->state(); }
Response ResponseDecoder::take() { return impl_->take(); }
Response ResponseDecoder::takeHead() { return impl_->takeHead(); }
std::string& ResponseDecoder::streamedBody() { return impl_->streamedBody(); }
std::optional<uint64_t> ResponseDecoder::bodyLength() const { return impl_->bodyLength(); }
int ResponseDecoder::headStatus() const { return impl_->headStatus(); }
const std::string& ResponseDecoder::error() const { return impl_->error(); }

}  // namespace dedup::http1
