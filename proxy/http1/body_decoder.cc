#include "proxy/http1/body_decoder.h"

#include <algorithm>

#include "proxy/http1/invariant.h"
#include "proxy/http1/syntax.h"

namespace dedup::http1 {
namespace {

// A chunk-size line (size and extensions) longer than this is abuse.
constexpr size_t kMaxChunkLineBytes = 4096;
// Content-Length is a promise, not a proof: reserve at most this up front.
constexpr uint64_t kMaxReserve = 1 << 20;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// field-vchar / SP / HTAB, obs-text included (RFC 9110 §5.5).
bool isFieldValueChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return c == '\t' || (u >= 0x20 && u != 0x7f);
}

}  // namespace

void BodyDecoder::start(Framing framing, uint64_t length, std::string* body, const Limits& limits) {
  framing_ = framing;
  body_ = body;
  limits_ = limits;
  remaining_ = 0;
  chunk_ = Chunk::kSize;
  size_digits_ = 0;
  line_bytes_ = 0;
  trailer_bytes_ = 0;
  started_ = false;
  state_ = State::kNeedMore;
  error_ = DecodeError{};
  if (framing != Framing::kLength) return;
  if (length > limits_.max_body_bytes - std::min(limits_.max_body_bytes, body_->size())) {
    failTooLarge();
    return;
  }
  remaining_ = length;
  if (length == 0) {
    state_ = State::kDone;
    return;
  }
  body_->reserve(body_->size() + static_cast<size_t>(std::min(length, kMaxReserve)));
}

size_t BodyDecoder::decode(std::string_view data) {
  if (state_ != State::kNeedMore || data.empty()) return 0;
  started_ = true;
  switch (framing_) {
    case Framing::kLength: {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
      body_->append(data.data(), n);
      remaining_ -= n;
      if (remaining_ == 0) state_ = State::kDone;
      return n;
    }
    case Framing::kUntilClose:
      return appendData(data);
    case Framing::kChunked:
      return decodeChunked(data);
  }
  return 0;
}

void BodyDecoder::finishAtEof() {
  if (state_ != State::kNeedMore) return;
  switch (framing_) {
    case Framing::kUntilClose:
      state_ = State::kDone;
      break;
    case Framing::kLength:
      fail(400,
           "connection closed with " + std::to_string(remaining_) + " body bytes still missing");
      break;
    case Framing::kChunked:
      fail(400, "connection closed inside a chunked body");
      break;
  }
}

size_t BodyDecoder::appendData(std::string_view data) {
  if (data.size() > limits_.max_body_bytes - std::min(limits_.max_body_bytes, body_->size())) {
    failTooLarge();
    return 0;
  }
  body_->append(data);
  return data.size();
}

size_t BodyDecoder::decodeChunked(std::string_view data) {
  size_t i = 0;
  while (i < data.size() && state_ == State::kNeedMore) {
    if (chunk_ == Chunk::kData) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - i));
      body_->append(data.data() + i, n);
      i += n;
      remaining_ -= n;
      if (remaining_ == 0) chunk_ = Chunk::kDataCr;
      continue;
    }
    if (!chunkByte(data[i])) break;  // the offending byte is not consumed
    ++i;
  }
  return i;
}

bool BodyDecoder::chunkByte(char c) {
  if (chunk_ == Chunk::kSize || chunk_ == Chunk::kSizeSpace || chunk_ == Chunk::kExtension) {
    if (++line_bytes_ > kMaxChunkLineBytes) {
      fail(400, "chunk size line too long");
      return false;
    }
  } else if (chunk_ >= Chunk::kTrailerStart) {
    if (++trailer_bytes_ > limits_.max_trailer_bytes) {
      fail(431, "trailer section too large");
      return false;
    }
  }
  switch (chunk_) {
    case Chunk::kSize: {
      const int digit = hexValue(c);
      if (digit >= 0) {
        // The chunk must fit in what is left of the body limit (which also
        // keeps the size far from overflowing).
        const uint64_t room =
            limits_.max_body_bytes - std::min(limits_.max_body_bytes, body_->size());
        if (static_cast<uint64_t>(digit) > room || remaining_ > (room - digit) / 16) {
          failTooLarge();
          return false;
        }
        remaining_ = remaining_ * 16 + static_cast<uint64_t>(digit);
        ++size_digits_;
        return true;
      }
      if (size_digits_ == 0) {
        fail(400, "invalid chunk size");
      } else if (c == ';') {
        chunk_ = Chunk::kExtension;
      } else if (isOws(c)) {
        chunk_ = Chunk::kSizeSpace;
      } else if (c == '\r') {
        chunk_ = Chunk::kSizeLf;
      } else {
        fail(400, "invalid chunk size");
      }
      break;
    }
    case Chunk::kSizeSpace:
      if (c == ';') {
        chunk_ = Chunk::kExtension;
      } else if (c == '\r') {
        chunk_ = Chunk::kSizeLf;
      } else if (!isOws(c)) {
        fail(400, "invalid chunk size");
      }
      break;
    case Chunk::kExtension:
      if (c == '\r') {
        chunk_ = Chunk::kSizeLf;
      } else if (!isFieldValueChar(c)) {
        fail(400, "invalid character in chunk extension");
      }
      break;
    case Chunk::kSizeLf:
      if (c != '\n') {
        fail(400, "bare CR in chunk size line");
        break;
      }
      chunk_ = remaining_ == 0 ? Chunk::kTrailerStart : Chunk::kData;
      size_digits_ = 0;
      line_bytes_ = 0;
      break;
    case Chunk::kData:  // handled in bulk by decodeChunked()
      invariantFailed("chunk data decoded byte by byte", __FILE__, __LINE__);
    case Chunk::kDataCr:
      if (c == '\r') {
        chunk_ = Chunk::kDataLf;
      } else {
        fail(400, "chunk data not followed by CRLF");
      }
      break;
    case Chunk::kDataLf:
      if (c == '\n') {
        chunk_ = Chunk::kSize;
      } else {
        fail(400, "chunk data not followed by CRLF");
      }
      break;
    case Chunk::kTrailerStart:
      if (c == '\r') {
        chunk_ = Chunk::kEndLf;
      } else if (isTokenChar(c)) {
        chunk_ = Chunk::kTrailerName;
      } else {
        fail(400, "malformed trailer field");
      }
      break;
    case Chunk::kTrailerName:
      if (c == ':') {
        chunk_ = Chunk::kTrailerValue;
      } else if (!isTokenChar(c)) {
        fail(400, "malformed trailer field");
      }
      break;
    case Chunk::kTrailerValue:
      if (c == '\r') {
        chunk_ = Chunk::kTrailerLf;
      } else if (!isFieldValueChar(c)) {
        fail(400, "invalid character in trailer field");
      }
      break;
    case Chunk::kTrailerLf:
      if (c == '\n') {
        chunk_ = Chunk::kTrailerStart;
      } else {
        fail(400, "bare CR in trailer section");
      }
      break;
    case Chunk::kEndLf:
      if (c == '\n') {
        state_ = State::kDone;
      } else {
        fail(400, "bare CR at the end of a chunked body");
      }
      break;
  }
  return state_ != State::kError;
}

void BodyDecoder::fail(int status, std::string reason) {
  state_ = State::kError;
  error_.status = status;
  error_.reason = std::move(reason);
}

void BodyDecoder::failTooLarge() {
  fail(413, "body larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
}

}  // namespace dedup::http1
