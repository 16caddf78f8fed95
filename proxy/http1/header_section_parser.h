// HeaderSectionParser: the field lines of one HTTP/1 message, up to and
// including the empty line, parsed by http-parser. Internal to proxy/http1.
//
// The decoders parse start lines and bodies themselves and hand http-parser a
// synthetic start line: Debian builds libhttp-parser without
// HTTP_PARSER_STRICT, so it accepts "HTTQ/1.1", any two bytes after chunk
// data, "\rX" as the end of the header section and spaces in field names. On
// top of http-parser this class enforces CRLF line ends (no bare CR or LF), no
// obs-fold, token field names, trimmed values, a byte budget, and records what
// the framing and Expect rules need. Thread-safety: one thread.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/http_message.h"
#include "proxy/http1/request_decoder.h"

namespace dedup::http1 {

// What the decoders need from the header fields; filled as fields complete.
struct HeaderSummary {
  size_t content_length_count = 0;
  uint64_t content_length = 0;
  bool transfer_encoding = false;  // at least one Transfer-Encoding field
  bool chunked = false;            // "chunked" appears among the codings
  bool chunked_not_last = false;   // another coding (or chunked again) follows it
  bool other_coding = false;       // a coding other than chunked
  size_t host_count = 0;
  bool expect_continue = false;  // Expect: 100-continue
  bool expect_other = false;     // any other expectation

  // Chunked is the final and only coding applied once: the body can be framed.
  bool chunkedFraming() const { return chunked && !chunked_not_last; }
};

class HeaderSectionParser {
 public:
  enum class State { kNeedMore, kDone, kError };

  explicit HeaderSectionParser(http_parser_type type);
  HeaderSectionParser(const HeaderSectionParser&) = delete;
  HeaderSectionParser& operator=(const HeaderSectionParser&) = delete;

  // Starts a section. `start_line` (e.g. "GET / HTTP/1.1\r\n") sets the
  // version http_should_keep_alive() sees; fields are appended to `headers`;
  // more than `max_bytes` of input without the end of the section is a 431.
  void start(std::string_view start_line, Headers* headers, size_t max_bytes);
  // Consumes up to the end of the section; returns the bytes consumed.
  size_t parse(std::string_view data);

  State state() const { return state_; }
  const DecodeError& error() const { return error_; }
  const HeaderSummary& summary() const { return summary_; }
  // http_should_keep_alive() for the start line and Connection fields; valid once kDone.
  bool keepAlive() const { return keep_alive_; }

 private:
  static int onHeaderField(http_parser* parser, const char* at, size_t length);
  static int onHeaderValue(http_parser* parser, const char* at, size_t length);
  static int onHeadersComplete(http_parser* parser);

  int fieldName(std::string_view piece);
  int fieldValue(std::string_view piece);
  int headersComplete();
  bool finishField();
  // Returns why `bytes` break the CRLF rules or hold a control byte, or nullptr.
  const char* checkBytes(std::string_view bytes);
  void fail(int status, std::string_view reason);
  void failFromParser();

  const http_parser_type type_;
  http_parser parser_;
  http_parser_settings settings_;
  Headers* headers_ = nullptr;
  size_t max_bytes_ = 0;
  size_t used_ = 0;
  char previous_ = '\n';             // the byte before the next one to check, across parse() calls
  const char* input_end_ = nullptr;  // of the bytes given to http-parser now
  bool field_open_ = false;
  bool in_value_ = false;
  bool field_finished_ = false;  // checked; later value pieces are obs-fold
  bool keep_alive_ = false;
  State state_ = State::kNeedMore;
  HeaderSummary summary_;
  DecodeError error_;
};

}  // namespace dedup::http1
