// ResponseDecoder: parses one HTTP/1.x response from an upstream connection:
// Content-Length, chunked, or read-until-close bodies; 1xx interim responses
// are skipped; responses to HEAD have no body. Thread-safety: one thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/http_message.h"

namespace dedup::http1 {

class ResponseDecoder {
 public:
  enum class State { kNeedMore, kMessage, kError };

  // `max_body_bytes`: a larger upstream body is an error (the proxy answers 502).
  ResponseDecoder(size_t max_header_bytes, size_t max_body_bytes);
  ~ResponseDecoder();
  ResponseDecoder(const ResponseDecoder&) = delete;
  ResponseDecoder& operator=(const ResponseDecoder&) = delete;

  // Must be called before decoding the response to a HEAD request.
  void expectNoBody();
  size_t decode(std::string_view data);
  // The upstream closed the connection: completes a read-until-close body,
  // or turns a partial message into an error.
  void decodeEof();
  State state() const;
  // The finished response (keep_alive says whether the connection may be
  // reused); the decoder is then ready for the next response.
  Response take();
  const std::string& error() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dedup::http1
