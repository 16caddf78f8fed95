#include "proxy/http1/message_writer.h"

#include <charconv>
#include <string_view>

#include "proxy/http1/syntax.h"

namespace dedup::http1 {
namespace {

// The writer owns framing and connection management: these fields are never
// copied from the message.
bool isFramingHeader(std::string_view name) {
  switch (name.size()) {
    case 10:
      return equalsLower(name, "connection");
    case 14:
      return equalsLower(name, "content-length");
    case 17:
      return equalsLower(name, "transfer-encoding");
    default:
      return false;
  }
}

size_t headersSize(const Headers& headers) {
  size_t size = 0;
  for (const Header& h : headers.entries()) size += h.name.size() + h.value.size() + 4;
  return size;
}

void appendNumber(std::string& out, size_t n) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof(digits), n);
  out.append(digits, result.ptr);
}

void appendHeaders(std::string& out, const Headers& headers) {
  for (const Header& h : headers.entries()) {
    if (isFramingHeader(h.name)) continue;
    out.append(h.name);
    out.append(": ");
    out.append(h.value);
    out.append("\r\n");
  }
}

void appendContentLength(std::string& out, size_t length) {
  out.append("Content-Length: ");
  appendNumber(out, length);
  out.append("\r\n");
}

bool methodCarriesBody(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

void appendStatusLineAndHeaders(const Response& response, size_t body_reserve, std::string& out) {
  const std::string_view reason =
      response.reason.empty() ? reasonPhrase(response.status) : std::string_view(response.reason);
  out.reserve(out.size() + reason.size() + headersSize(response.headers) + body_reserve + 64);
  out.append("HTTP/1.1 ");
  appendNumber(out, static_cast<size_t>(response.status));
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n");
  appendHeaders(out, response.headers);
}

}  // namespace

void writeRequest(const Request& request, std::string& out) {
  out.reserve(out.size() + request.method.size() + request.target.size() +
              headersSize(request.headers) + request.body.size() + 64);
  out.append(request.method);
  out.push_back(' ');
  out.append(request.target.empty() ? std::string_view("/") : std::string_view(request.target));
  out.append(" HTTP/1.1\r\n");
  appendHeaders(out, request.headers);
  if (!request.body.empty() || methodCarriesBody(request.method)) {
    appendContentLength(out, request.body.size());
  }
  if (!request.keep_alive) out.append("Connection: close\r\n");
  out.append("\r\n");
  out.append(request.body);
}

void writeResponse(const Response& response, bool head_request, std::string& out) {
  // RFC 9110 §6.4.1: 1xx, 204 and 304 never carry a body (nor its length).
  const bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;
  const bool write_body = !bodiless && !head_request;
  appendStatusLineAndHeaders(response, write_body ? response.body.size() : 0, out);
  if (!bodiless) appendContentLength(out, response.body.size());
  if (!response.keep_alive) out.append("Connection: close\r\n");
  out.append("\r\n");
  if (write_body) out.append(response.body);
}

void writeResponseHead(const Response& response, BodyFraming framing, uint64_t content_length,
                       std::string& out) {
  appendStatusLineAndHeaders(response, 0, out);
  switch (framing) {
    case BodyFraming::kContentLength:
      appendContentLength(out, static_cast<size_t>(content_length));
      break;
    case BodyFraming::kChunked:
      out.append("Transfer-Encoding: chunked\r\n");
      break;
    case BodyFraming::kUntilClose:
      break;
  }
  if (!response.keep_alive) out.append("Connection: close\r\n");
  out.append("\r\n");
}

void appendChunk(std::string_view data, std::string& out) {
  if (data.empty()) return;
  static constexpr char kHex[] = "0123456789abcdef";
  char size[16];
  size_t at = sizeof(size);
  for (size_t n = data.size(); n != 0; n >>= 4) size[--at] = kHex[n & 0xf];
  out.append(size + at, sizeof(size) - at);
  out.append("\r\n");
  out.append(data);
  out.append("\r\n");
}

void appendLastChunk(std::string& out) { out.append("0\r\n\r\n"); }

}  // namespace dedup::http1
