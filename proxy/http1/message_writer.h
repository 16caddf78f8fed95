// Serialises requests and responses to HTTP/1.1 bytes (always with
// Content-Length framing: bodies are fully buffered). Hop-by-hop handling is
// the caller's business (see hop_by_hop.h). Thread-safety: free functions.
#pragma once

#include <string>

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

}  // namespace dedup::http1
