// What a commit stores of the app's answer, and what a replay of it carries.
#include "proxy/stored_response.h"

#include <gtest/gtest.h>

#include "proxy/local_response.h"

namespace dedup {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

Response appAnswer() {
  Response app;
  app.status = 201;
  for (const auto& [name, value] : Pairs{{"Location", "/orders/1842"},
                                         {"Content-Type", "application/json"},
                                         {"ETag", "\"v1\""},
                                         {"Date", "Sun, 06 Nov 1994 08:49:37 GMT"},
                                         {"Set-Cookie", "session=abc"},
                                         {"X-Request-Id", "r-7"},
                                         {"Set-Cookie", "theme=dark"},
                                         {"Idempotent-Replayed", "false"}}) {
    app.headers.add(name, value);
  }
  app.body = "{\"id\":1842}";
  return app;
}

ReplayHeaders mode(ReplayHeaders::Mode m, std::vector<std::string> listed = {}) {
  ReplayHeaders r;
  r.mode = m;
  r.listed = std::move(listed);
  return r;
}

TEST(StoredResponse, ReplayHeaderModes) {
  const struct {
    const char* name;
    ReplayHeaders replay;
    Pairs stored;
  } cases[] = {
      {"default: all but Set-Cookie, Date and the proxy's own",
       mode(ReplayHeaders::Mode::kDefault),
       {{"Location", "/orders/1842"}, {"ETag", "\"v1\""}, {"X-Request-Id", "r-7"}}},
      {"all: Set-Cookie too, in order",
       mode(ReplayHeaders::Mode::kAll),
       {{"Location", "/orders/1842"},
        {"ETag", "\"v1\""},
        {"Set-Cookie", "session=abc"},
        {"X-Request-Id", "r-7"},
        {"Set-Cookie", "theme=dark"}}},
      {"none", mode(ReplayHeaders::Mode::kNone), {}},
      {"listed, any case; never Date",
       mode(ReplayHeaders::Mode::kListed, {"location", "SET-COOKIE", "date", "X-Absent"}),
       {{"Location", "/orders/1842"}, {"Set-Cookie", "session=abc"}, {"Set-Cookie", "theme=dark"}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const StoredResponse stored = storedResponse(c.replay, appAnswer(), 64 * 1024);
    EXPECT_EQ(stored.status, 201);
    EXPECT_EQ(stored.content_type, "application/json");
    EXPECT_EQ(stored.body, "{\"id\":1842}");
    EXPECT_EQ(stored.headers, c.stored);
  }
}

TEST(StoredResponse, HeaderBytesCountAgainstTheLimit) {
  // Default mode keeps Location (8+12+4), ETag (4+4+4), X-Request-Id (12+3+4): 55 bytes.
  const Response app = appAnswer();
  const ReplayHeaders replay;
  StoredResponse stored = storedResponse(replay, app, 55 + app.body.size());
  EXPECT_EQ(stored.headers.size(), 3u);
  EXPECT_EQ(stored.body, app.body);

  // One byte less: the headers stay, the body (and its Content-Type) go.
  stored = storedResponse(replay, app, 55 + app.body.size() - 1);
  EXPECT_EQ(stored.headers.size(), 3u);
  EXPECT_EQ(stored.body, "");
  EXPECT_EQ(stored.content_type, "");

  // Headers alone over the limit: none of them; the body if it fits alone.
  stored = storedResponse(replay, app, 54);
  EXPECT_TRUE(stored.headers.empty());
  EXPECT_EQ(stored.body, app.body);
  EXPECT_EQ(stored.status, 201);
}

TEST(StoredResponse, ReplayCarriesTheStoredHeadersAndAFreshDate) {
  const StoredResponse stored = storedResponse(ReplayHeaders(), appAnswer(), 64 * 1024);
  const Response replay = replayResponse(stored);
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.body, "{\"id\":1842}");
  Pairs headers;
  for (const Header& h : replay.headers.entries()) {
    if (h.name != "Date") headers.emplace_back(h.name, h.value);
  }
  EXPECT_EQ(headers, (Pairs{{"Content-Type", "application/json"},
                            {"Location", "/orders/1842"},
                            {"ETag", "\"v1\""},
                            {"X-Request-Id", "r-7"},
                            {"Idempotent-Replayed", "true"}}));
  ASSERT_EQ(replay.headers.count("Date"), 1u);
  EXPECT_NE(*replay.headers.find("Date"), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(httpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
}

}  // namespace
}  // namespace dedup
