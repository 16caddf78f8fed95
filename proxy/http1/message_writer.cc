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
  const std::string_view reason =
      response.reason.empty() ? reasonPhrase(response.status) : std::string_view(response.reason);
  // RFC 9110 §6.4.1: 1xx, 204 and 304 never carry a body (nor its length).
  const bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;
  const bool write_body = !bodiless && !head_request;
  out.reserve(out.size() + reason.size() + headersSize(response.headers) +
              (write_body ? response.body.size() : 0) + 64);
  out.append("HTTP/1.1 ");
  appendNumber(out, static_cast<size_t>(response.status));
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n");
  appendHeaders(out, response.headers);
  if (!bodiless) appendContentLength(out, response.body.size());
  if (!response.keep_alive) out.append("Connection: close\r\n");
  out.append("\r\n");
  if (write_body) out.append(response.body);
}

}  // namespace dedup::http1
