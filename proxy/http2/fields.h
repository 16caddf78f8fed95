// Header fields as both HTTP/2 codecs (downstream/http2, upstream/http2) put
// them into nghttp2: lower-case names, the connection-specific fields that
// HTTP/2 forbids, and nghttp2_nv views. Free functions on values.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/http_message.h"

namespace dedup::http2 {

// HTTP/2 field names are lower case (RFC 9113 §8.2.1).
inline std::string lowerCaseName(std::string_view name) { return toLowerAscii(name); }

// Fields that describe one HTTP/1.1 connection and are forbidden in HTTP/2
// (RFC 9113 §8.2.2), plus Content-Length, which each codec writes itself.
inline bool isConnectionSpecific(std::string_view lower_name) {
  return lower_name == "connection" || lower_name == "keep-alive" ||
         lower_name == "proxy-connection" || lower_name == "transfer-encoding" ||
         lower_name == "upgrade" || lower_name == "te" || lower_name == "content-length";
}

// A view of `name` and `value` for nghttp2_submit_*: they must outlive the call.
inline nghttp2_nv field(std::string_view name, std::string_view value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

}  // namespace dedup::http2
