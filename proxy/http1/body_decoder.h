// BodyDecoder: the body of one HTTP/1 message after its header section:
// a fixed length, chunked, or everything until the connection closes.
// Internal to proxy/http1 (http-parser's own chunked parsing is lenient in
// Debian's build; see header_section_parser.h). Chunked is strict: hex size,
// optional extensions (skipped), CRLF after every line and every chunk's data;
// trailer fields are checked and dropped. Decoded bytes are appended to a
// string under a size limit. Thread-safety: one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/http1/request_decoder.h"

namespace dedup::http1 {

class BodyDecoder {
 public:
  enum class Framing { kLength, kChunked, kUntilClose };
  enum class State { kNeedMore, kDone, kError };

  struct Limits {
    size_t max_body_bytes = 0;     // decoded body; over → 413
    size_t max_trailer_bytes = 0;  // chunked trailer section; over → 431
  };

  // `length` is used with kLength only (0: done at once). The caller checks
  // it against the limit first, to answer before reading the body.
  void start(Framing framing, uint64_t length, std::string* body, const Limits& limits);
  size_t decode(std::string_view data);
  // The connection closed: completes an until-close body; anything else
  // unfinished becomes an error.
  void finishAtEof();

  State state() const { return state_; }
  const DecodeError& error() const { return error_; }
  // True once a byte of the body (framing included) has been consumed.
  bool started() const { return started_; }

 private:
  enum class Chunk {
    kSize,
    kSizeSpace,
    kExtension,
    kSizeLf,
    kData,
    kDataCr,
    kDataLf,
    kTrailerStart,
    kTrailerName,
    kTrailerValue,
    kTrailerLf,
    kEndLf,
  };

  size_t decodeChunked(std::string_view data);
  size_t appendData(std::string_view data);
  bool chunkByte(char c);
  void fail(int status, std::string reason);
  void failTooLarge();

  Framing framing_ = Framing::kLength;
  std::string* body_ = nullptr;
  Limits limits_;
  uint64_t remaining_ = 0;  // kLength: body bytes; kChunked: bytes of the current chunk
  Chunk chunk_ = Chunk::kSize;
  size_t size_digits_ = 0;
  size_t line_bytes_ = 0;
  size_t trailer_bytes_ = 0;
  bool started_ = false;
  State state_ = State::kNeedMore;
  DecodeError error_;
};

}  // namespace dedup::http1
