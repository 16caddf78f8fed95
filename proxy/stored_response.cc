#include "proxy/stored_response.h"

namespace dedup {

StoredResponse storedResponse(const ReplayHeaders& replay, const Response& app,
                              uint64_t max_stored) {
  StoredResponse stored;
  stored.status = app.status;
  uint64_t header_bytes = 0;
  for (const Header& header : app.headers.entries()) {
    if (equalsIgnoreCase(header.name, "Content-Type") || !replay.replays(header.name)) continue;
    header_bytes += header.name.size() + header.value.size() + 4;
    stored.headers.emplace_back(header.name, header.value);
  }
  if (header_bytes > max_stored) {
    stored.headers.clear();
    header_bytes = 0;
  }
  if (app.body.size() <= max_stored - header_bytes) {
    const std::string* content_type = app.headers.find("Content-Type");
    if (content_type != nullptr) stored.content_type = *content_type;
    stored.body = app.body;
  }
  return stored;
}

}  // namespace dedup
