#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "proxy/http1/hop_by_hop.h"

namespace dedup::http1 {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

Fields strip(const Fields& fields) {
  Headers headers;
  for (const auto& [name, value] : fields) headers.add(name, value);
  stripHopByHopHeaders(headers);
  Fields out;
  for (const Header& h : headers.entries()) out.emplace_back(h.name, h.value);
  return out;
}

TEST(StripHopByHopHeaders, RemovesConnectionScopedFields) {
  const struct {
    const char* name;
    Fields in;
    Fields out;
  } cases[] = {
      {"nothing to strip",
       {{"Host", "x"}, {"Content-Type", "a/b"}},
       {{"Host", "x"}, {"Content-Type", "a/b"}}},
      {"the fixed list, any case",
       {{"connection", "close"},
        {"Keep-Alive", "timeout=5"},
        {"PROXY-CONNECTION", "keep-alive"},
        {"TE", "trailers"},
        {"Trailer", "Expires"},
        {"Transfer-Encoding", "chunked"},
        {"Upgrade", "h2c"},
        {"Content-Length", "3"},
        {"Host", "x"}},
       {{"Host", "x"}}},
      {"names listed in Connection",
       {{"Connection", "X-Hop, x-other ,,  close"},
        {"X-Hop", "1"},
        {"x-OTHER", "2"},
        {"X-Hopper", "kept"},
        {"Host", "x"}},
       {{"X-Hopper", "kept"}, {"Host", "x"}}},
      {"several Connection fields",
       {{"Connection", "A"}, {"a", "1"}, {"B", "2"}, {"connection", "b"}, {"C", "3"}},
       {{"C", "3"}}},
      {"Connection listing a fixed name",
       {{"Connection", "keep-alive, TE"}, {"Z", "z"}},
       {{"Z", "z"}}},
      {"order kept",
       {{"A", "1"}, {"Upgrade", "x"}, {"B", "2"}, {"Te", "x"}, {"C", "3"}},
       {{"A", "1"}, {"B", "2"}, {"C", "3"}}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(strip(c.in), c.out) << c.name;
  }
}

}  // namespace
}  // namespace dedup::http1
