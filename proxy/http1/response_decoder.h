// ResponseDecoder: parses one HTTP/1.x response from an upstream connection:
// Content-Length, chunked, or read-until-close bodies; 1xx interim responses
// are skipped; responses to HEAD have no body.
//
// A body up to `max_buffered_body` bytes is buffered and the response comes
// out whole (kMessage). A larger one is streamed: the decoder stops at kHead
// (Content-Length over the limit, or the buffered body grew past it);
// takeHead() returns the status, headers and the body bytes so far, and
// decode() then appends the rest of the body to streamedBody(), which the
// caller drains, until kMessage (take() then ends the exchange). Memory is
// bounded by the limit plus what one decode() call is given.
// Thread-safety: one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/http_message.h"

namespace dedup::http1 {

class ResponseDecoder {
 public:
  enum class State {
    kNeedMore,  // no complete message yet (while streaming: more body to come)
    kHead,      // the body is too large to buffer: takeHead(), then stream it
    kMessage,   // the response (or, while streaming, its body) is complete: take()
    kError,
  };

  ResponseDecoder(size_t max_header_bytes, size_t max_buffered_body);
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
  // reused); the decoder is then ready for the next response. After
  // takeHead(), its body holds what is left of streamedBody().
  Response take();
  // kHead only: the status line, headers and the body bytes decoded so far;
  // the decoder goes on in streaming mode.
  Response takeHead();
  // Streaming mode: decoded body bytes not yet drained by the caller.
  std::string& streamedBody();
  // The whole body's length when the app framed it with Content-Length.
  std::optional<uint64_t> bodyLength() const;
  // The final status once the head is complete (an error in the body that
  // follows does not reset it); 0 before.
  int headStatus() const;
  const std::string& error() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dedup::http1
