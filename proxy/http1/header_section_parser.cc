#include "proxy/http1/header_section_parser.h"

#include <array>
#include <limits>

#include "proxy/http1/invariant.h"
#include "proxy/http1/syntax.h"

namespace dedup::http1 {
namespace {

HeaderSectionParser* self(http_parser* parser) {
  return static_cast<HeaderSectionParser*>(parser->data);
}

bool parseContentLength(std::string_view value, uint64_t& out) {
  if (value.empty()) return false;
  uint64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (n > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    n = n * 10 + digit;
  }
  out = n;
  return true;
}

}  // namespace

int HeaderSectionParser::onHeaderField(http_parser* parser, const char* at, size_t length) {
  return self(parser)->fieldName(std::string_view(at, length));
}

int HeaderSectionParser::onHeaderValue(http_parser* parser, const char* at, size_t length) {
  return self(parser)->fieldValue(std::string_view(at, length));
}

int HeaderSectionParser::onHeadersComplete(http_parser* parser) {
  return self(parser)->headersComplete();
}

HeaderSectionParser::HeaderSectionParser(http_parser_type type) : type_(type) {
  http_parser_settings_init(&settings_);
  settings_.on_header_field = &HeaderSectionParser::onHeaderField;
  settings_.on_header_value = &HeaderSectionParser::onHeaderValue;
  settings_.on_headers_complete = &HeaderSectionParser::onHeadersComplete;
}

void HeaderSectionParser::start(std::string_view start_line, Headers* headers, size_t max_bytes) {
  http_parser_init(&parser_, type_);
  parser_.data = this;
  headers_ = headers;
  // One allocation for a typical header section instead of five doublings.
  headers_->entries().reserve(16);
  max_bytes_ = max_bytes;
  used_ = 0;
  previous_ = '\n';
  field_open_ = false;
  in_value_ = false;
  field_finished_ = false;
  keep_alive_ = false;
  state_ = State::kNeedMore;
  summary_ = HeaderSummary{};
  error_ = DecodeError{};
  const size_t fed =
      http_parser_execute(&parser_, &settings_, start_line.data(), start_line.size());
  HTTP1_INVARIANT(fed == start_line.size() && HTTP_PARSER_ERRNO(&parser_) == HPE_OK);
}

size_t HeaderSectionParser::parse(std::string_view data) {
  if (state_ != State::kNeedMore || data.empty()) return 0;
  const size_t room = max_bytes_ - used_;
  if (room == 0) {
    fail(431, "header section too large");
    return 0;
  }
  const std::string_view slice = data.substr(0, room);
  input_end_ = slice.data() + slice.size();
  size_t consumed = http_parser_execute(&parser_, &settings_, slice.data(), slice.size());
  const http_errno err = HTTP_PARSER_ERRNO(&parser_);
  // Paused in on_headers_complete, http-parser stands on the byte that ended
  // the section (the LF of the final CRLF, or, non-strict, any byte there).
  if (err == HPE_PAUSED && consumed < slice.size()) ++consumed;
  // Bytes are checked over what http-parser accepted; a problem found
  // there explains the message better than what it caused downstream (a
  // folded line seen as a field name with a space), so it wins, and the
  // reason does not depend on how the bytes were split.
  const char* line_error = checkBytes(slice.substr(0, consumed));
  if (line_error != nullptr) {
    state_ = State::kError;
    error_ = DecodeError{400, line_error};
    return consumed;
  }
  if (state_ == State::kError) return consumed;  // a callback failed
  if (err == HPE_PAUSED) {
    HTTP1_INVARIANT(slice[consumed - 1] == '\n');
    used_ += consumed;
    state_ = State::kDone;
    return consumed;
  }
  if (err != HPE_OK) {
    failFromParser();
    return consumed;
  }
  used_ += consumed;
  if (used_ == max_bytes_) fail(431, "header section too large");
  return consumed;
}

int HeaderSectionParser::fieldName(std::string_view piece) {
  // A name arrives in several pieces when it spans parse() calls; a value
  // (even an empty one: http-parser reports it with length 0) ends it.
  if (!field_open_ || in_value_) {
    if (field_open_ && !field_finished_ && !finishField()) return -1;
    headers_->entries().emplace_back();
    field_open_ = true;
    in_value_ = false;
    field_finished_ = false;
  }
  // Non-strict http-parser lets spaces through. Checked piece by piece, with
  // http-parser's own words for other bad bytes, so that the error does not
  // depend on where the bytes were split.
  for (char c : piece) {
    if (!isTokenChar(c)) {
      fail(400, "invalid character in header section");
      return -1;
    }
  }
  headers_->entries().back().name.append(piece);
  return 0;
}

int HeaderSectionParser::fieldValue(std::string_view piece) {
  if (!field_open_) {
    fail(400, "header value without a name");
    return -1;
  }
  in_value_ = true;
  headers_->entries().back().value.append(piece);
  // A piece that stops short of the end of the input stopped at the end of
  // its line: the field is finished and checked now, at the same byte
  // however the input was split (not when the next name shows up).
  if (!field_finished_ && piece.data() + piece.size() < input_end_) {
    field_finished_ = true;
    if (!finishField()) return -1;
  }
  return 0;
}

int HeaderSectionParser::headersComplete() {
  if (field_open_) {
    if (!field_finished_ && !finishField()) return -1;
    field_open_ = false;
  }
  keep_alive_ = http_should_keep_alive(&parser_) != 0;
  // Stop here: the decoders frame the body themselves.
  http_parser_pause(&parser_, 1);
  return 0;
}

bool HeaderSectionParser::finishField() {
  Header& field = headers_->entries().back();
  std::string& value = field.value;
  size_t end = value.size();
  while (end > 0 && isOws(value[end - 1])) --end;
  value.resize(end);
  size_t begin = 0;
  while (begin < value.size() && isOws(value[begin])) ++begin;
  if (begin > 0) value.erase(0, begin);

  if (field.name.empty()) {
    fail(400, "invalid header field name");
    return false;
  }
  switch (field.name.size()) {
    case 4:
      if (equalsLower(field.name, "host")) ++summary_.host_count;
      break;
    case 6:
      if (equalsLower(field.name, "expect")) {
        if (equalsLower(value, "100-continue")) {
          summary_.expect_continue = true;
        } else {
          summary_.expect_other = true;
        }
      }
      break;
    case 14:
      if (equalsLower(field.name, "content-length")) {
        if (++summary_.content_length_count > 1) {
          fail(400, "duplicate Content-Length");
          return false;
        }
        if (!parseContentLength(value, summary_.content_length)) {
          fail(400, "invalid Content-Length");
          return false;
        }
      }
      break;
    case 17:
      if (equalsLower(field.name, "transfer-encoding")) {
        summary_.transfer_encoding = true;
        forEachListElement(value, [this](std::string_view coding) {
          if (summary_.chunked) summary_.chunked_not_last = true;
          if (equalsLower(coding, "chunked")) {
            summary_.chunked = true;
          } else {
            summary_.other_coding = true;
          }
        });
      }
      break;
    default:
      break;
  }
  return true;
}

namespace {

// Bytes that need no check of their own after a byte that is not CR or LF:
// visible ASCII, space, tab and obs-text.
constexpr std::array<bool, 256> kPlainBytes = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x100; ++c) table[c] = c != 0x7f;
  table['\t'] = true;
  return table;
}();

}  // namespace

const char* HeaderSectionParser::checkBytes(std::string_view bytes) {
  char previous = previous_;
  const size_t size = bytes.size();
  size_t i = 0;
  while (i < size) {
    const char c = bytes[i];
    const auto u = static_cast<unsigned char>(c);
    if (kPlainBytes[u] && previous != '\r' && previous != '\n') {
      // A run of plain bytes: none of the rules below can fail inside it.
      do {
        ++i;
      } while (i < size && kPlainBytes[static_cast<unsigned char>(bytes[i])]);
      previous = bytes[i - 1];
      continue;
    }
    // http-parser misses control bytes at the start of a value ("X:\0").
    if ((u < 0x20 && c != '\t' && c != '\r' && c != '\n') || u == 0x7f) {
      return "invalid character in header section";
    }
    if (previous == '\r' && c != '\n') return "bare CR in header section";
    if (c == '\n' && previous != '\r') return "bare LF in header section";
    if (previous == '\n' && isOws(c)) {
      return "obsolete line folding or whitespace before a header name";
    }
    previous = c;
    ++i;
  }
  previous_ = previous;
  return nullptr;
}

void HeaderSectionParser::fail(int status, std::string_view reason) {
  if (state_ == State::kError) return;
  state_ = State::kError;
  error_.status = status;
  error_.reason.assign(reason);
}

void HeaderSectionParser::failFromParser() {
  switch (HTTP_PARSER_ERRNO(&parser_)) {
    case HPE_HEADER_OVERFLOW:
      fail(431, "header section too large");
      break;
    case HPE_INVALID_CONTENT_LENGTH:
      fail(400, "invalid Content-Length");
      break;
    case HPE_UNEXPECTED_CONTENT_LENGTH: {
      // Raised at the second Content-Length name or at the end of the
      // section, before the pending field is finished. http-parser 2.9.4 also
      // raises it for any field whose name merely starts with
      // "Transfer-Encoding" ("Transfer-Encodings: x") next to a
      // Content-Length: such a request is rejected too.
      const std::string* pending = field_open_ ? &headers_->entries().back().name : nullptr;
      if (summary_.transfer_encoding ||
          (pending != nullptr && equalsLower(*pending, "transfer-encoding"))) {
        fail(400, "both Content-Length and Transfer-Encoding");
      } else if (summary_.content_length_count > 0 && pending != nullptr && !field_finished_ &&
                 equalsLower(*pending, "content-length")) {
        fail(400, "duplicate Content-Length");
      } else {
        fail(400, "Content-Length with a field named Transfer-Encoding*");
      }
      break;
    }
    case HPE_INVALID_HEADER_TOKEN:
      fail(400, "invalid character in header section");
      break;
    case HPE_LF_EXPECTED:
      fail(400, "bare CR in header section");
      break;
    default:
      // Callback failures have already recorded their own error.
      fail(400, http_errno_description(HTTP_PARSER_ERRNO(&parser_)));
      break;
  }
}

}  // namespace dedup::http1
