// RequestDecoder: parses HTTP/1.x requests from a downstream byte stream, one
// message at a time, with the limits and anti-smuggling rules of the proxy.
// http-parser splits the header fields and decides keep-alive; the request
// line, field checks and body framing are our own strict code, because
// Debian's http-parser is built lenient (see request_decoder.cc).
//
// Usage: feed bytes with decode(); it consumes up to the end of one complete
// request and stops there (pipelined bytes after it stay unconsumed). When
// state() is kMessage, take() the request; the decoder is then ready for the
// next one. kError is final for the connection: answer error().status and
// close. Thread-safety: one connection, one thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/http_message.h"

namespace dedup::http1 {

struct DecodeLimits {
  size_t max_header_bytes = 64 * 1024;      // request line + headers; over → 431
  size_t max_body_bytes = 8 * 1024 * 1024;  // decoded body; over → 413
};

struct DecodeError {
  int status = 400;    // 400, 413, 417, 431, 501, 505
  std::string reason;  // for logs and the error body: "duplicate Content-Length"
};

class RequestDecoder {
 public:
  enum class State {
    kNeedMore,  // feed more bytes
    kMessage,   // a whole request is ready: take() it
    kError,     // the stream is unusable: see error()
  };

  explicit RequestDecoder(const DecodeLimits& limits);
  ~RequestDecoder();
  RequestDecoder(const RequestDecoder&) = delete;
  RequestDecoder& operator=(const RequestDecoder&) = delete;

  // Consumes bytes; returns how many were consumed (all of `data`, or up to
  // the end of one message or the error).
  size_t decode(std::string_view data);
  State state() const;
  // The finished request; state returns to kNeedMore.
  Request take();
  const DecodeError& error() const;

  // True once the headers of the current request are complete, they carry
  // `Expect: 100-continue`, and its body has not started: the connection
  // should send "100 Continue" once (see continueSent()).
  bool expectsContinue() const;
  void continueSent();
  // True once the headers of the current request have been parsed (for the
  // header-read timeout: the body has its own, idle, timeout).
  bool headersComplete() const;
  // True when some bytes of a request have been consumed but it is not complete.
  bool midMessage() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dedup::http1
