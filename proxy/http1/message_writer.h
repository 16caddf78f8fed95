// Serialises requests and responses to HTTP/1.1 bytes: whole messages with
// Content-Length framing, or a response head whose body the caller streams
// (Content-Length, chunked, or until close). Hop-by-hop handling is the
// caller's business (see hop_by_hop.h). Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/http_message.h"

namespace dedup::http1 {

// Framing is the writer's: Content-Length, Transfer-Encoding and Connection
// fields of the message are never copied.
//
// Appends "METHOD target HTTP/1.1", the headers, Content-Length (for a body
// or a method that carries one), "Connection: close" when
// !request.keep_alive, and the body.
void writeRequest(const Request& request, std::string& out);
// Appends the status line, headers, Content-Length (except for 1xx, 204 and
// 304, and when `head_request` is set the body is left out), and the body.
// Adds "Connection: close" when !response.keep_alive.
void writeResponse(const Response& response, bool head_request, std::string& out);

// How a streamed response body is delimited on the wire.
enum class BodyFraming { kContentLength, kChunked, kUntilClose };
// Appends the status line and headers of a response whose body (not
// `response.body`) the caller sends after it: "Content-Length:
// `content_length`", or "Transfer-Encoding: chunked" (body through
// appendChunk / appendLastChunk), or neither (the connection's close ends
// it: the caller must set !response.keep_alive). Adds "Connection: close"
// when !response.keep_alive.
void writeResponseHead(const Response& response, BodyFraming framing, uint64_t content_length,
                       std::string& out);
// One chunk of a chunked body (nothing for empty data: that would end it).
void appendChunk(std::string_view data, std::string& out);
// The end of a chunked body (no trailers).
void appendLastChunk(std::string& out);

}  // namespace dedup::http1
