#include "proxy/http1/hop_by_hop.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http1/syntax.h"

namespace dedup::http1 {
namespace {

bool isAlwaysHopByHop(std::string_view name) {
  switch (name.size()) {
    case 2:
      return equalsLower(name, "te");
    case 7:
      return equalsLower(name, "trailer") || equalsLower(name, "upgrade");
    case 10:
      return equalsLower(name, "connection") || equalsLower(name, "keep-alive");
    case 14:
      return equalsLower(name, "content-length");
    case 16:
      return equalsLower(name, "proxy-connection");
    case 17:
      return equalsLower(name, "transfer-encoding");
    default:
      return false;
  }
}

bool equalsIgnoreCaseAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (asciiLower(a[i]) != asciiLower(b[i])) return false;
  }
  return true;
}

}  // namespace

void stripHopByHopHeaders(Headers& headers) {
  // Copied out first: removing fields moves the strings the names live in.
  std::vector<std::string> listed;
  for (const Header& h : headers.entries()) {
    if (h.name.size() != 10 || !equalsLower(h.name, "connection")) continue;
    forEachListElement(h.value, [&](std::string_view token) {
      if (!isAlwaysHopByHop(token)) listed.emplace_back(token);
    });
  }
  std::vector<Header>& entries = headers.entries();
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [&](const Header& h) {
                                 if (isAlwaysHopByHop(h.name)) return true;
                                 return std::any_of(listed.begin(), listed.end(),
                                                    [&](const std::string& token) {
                                                      return equalsIgnoreCaseAscii(h.name, token);
                                                    });
                               }),
                entries.end());
}

}  // namespace dedup::http1
