// The h2c client codec (to the app) against the proxy's own HTTP/2 server
// codec, wired back to back in memory: requests arrive whole, answers come
// back to the right callback exactly once, and failures have the same kinds
// as over HTTP/1.1.
#include "proxy/upstream/http2/http2_client_codec.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proxy/downstream/http2/http2_server_codec.h"

namespace dedup::http2 {
namespace {

class App : public CodecHandler {
 public:
  void onRequest(uint64_t slot, Request request) override {
    requests.emplace_back(slot, std::move(request));
  }
  Response onRejected(int status, std::string_view) override {
    Response response;
    response.status = status;
    return response;
  }
  std::vector<std::pair<uint64_t, Request>> requests;
};

Status pump(Http2ClientCodec& client, Http2ServerCodec& server) {
  for (int round = 0; round < 10000; ++round) {
    std::string to_server, to_client;
    if (Status s = client.produce(to_server, 1 << 20); !s.ok()) return s;
    if (!to_server.empty()) {
      if (Status s = server.receive(to_server); !s.ok()) return s;
    }
    if (Status s = server.produce(to_client, 1 << 20); !s.ok()) return s;
    if (!to_client.empty()) {
      if (Status s = client.receive(to_client); !s.ok()) return s;
    }
    if (to_server.empty() && to_client.empty()) return Status::OK();
  }
  return Status::IOError("pump did not settle");
}

struct Pair {
  explicit Pair(Http2ClientLimits limits = {}) {
    client = std::move(Http2ClientCodec::create(limits).value());
    server = std::move(Http2ServerCodec::create(app, Http2Limits{}).value());
  }
  App app;
  std::unique_ptr<Http2ClientCodec> client;
  std::unique_ptr<Http2ServerCodec> server;
};

Request post(std::string target, std::string body) {
  Request request;
  request.method = "POST";
  request.target = std::move(target);
  request.headers.add("Host", "app:3000");
  request.headers.add("Dedup-Key", "k1");
  request.headers.add("Connection", "keep-alive");
  request.body = std::move(body);
  return request;
}

TEST(Http2ClientCodec, RequestArrivesWholeAndTheAnswerComesBack) {
  Pair pair;
  std::optional<UpstreamResult> got;
  ASSERT_TRUE(pair.client
                  ->submit(post("/hook?a=1", "payload"),
                           [&](UpstreamResult r) {
                             EXPECT_FALSE(got.has_value());
                             got = std::move(r);
                           })
                  .ok());
  ASSERT_TRUE(pump(*pair.client, *pair.server).ok());
  ASSERT_EQ(pair.app.requests.size(), 1u);
  const Request& at_app = pair.app.requests[0].second;
  EXPECT_EQ(at_app.method, "POST");
  EXPECT_EQ(at_app.target, "/hook?a=1");
  EXPECT_EQ(at_app.body, "payload");
  EXPECT_EQ(*at_app.headers.find("Host"), "app:3000");
  EXPECT_EQ(*at_app.headers.find("Dedup-Key"), "k1");
  EXPECT_EQ(at_app.headers.find("Connection"), nullptr);
  EXPECT_EQ(*at_app.headers.find("Content-Length"), "7");

  Response answer;
  answer.status = 201;
  answer.headers.add("Content-Type", "application/json");
  answer.body = "{\"ok\":true}";
  pair.server->respond(pair.app.requests[0].first, answer);
  ASSERT_TRUE(pump(*pair.client, *pair.server).ok());
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->kind, UpstreamResult::Kind::kResponse);
  EXPECT_EQ(got->response.status, 201);
  EXPECT_EQ(got->response.body, "{\"ok\":true}");
  EXPECT_EQ(*got->response.headers.find("Content-Type"), "application/json");
  EXPECT_EQ(pair.client->activeStreams(), 0u);
}

TEST(Http2ClientCodec, MoreStreamsThanTheAppAllowsWaitTheirTurn) {
  Pair pair;
  std::map<std::string, std::string> answers;
  for (int i = 0; i < 150; ++i) {
    const std::string body = "m" + std::to_string(i);
    ASSERT_TRUE(
        pair.client
            ->submit(post("/", body),
                     [&answers, body](UpstreamResult r) { answers[body] = r.response.body; })
            .ok());
  }
  for (int round = 0; round < 5 && answers.size() < 150; ++round) {
    ASSERT_TRUE(pump(*pair.client, *pair.server).ok());
    EXPECT_LE(pair.app.requests.size(), 100u);  // the server's SETTINGS_MAX_CONCURRENT_STREAMS
    auto taken = std::move(pair.app.requests);
    pair.app.requests.clear();
    for (auto& [slot, request] : taken) {
      Response response;
      response.body = "re:" + request.body;
      pair.server->respond(slot, std::move(response));
    }
    ASSERT_TRUE(pump(*pair.client, *pair.server).ok());
  }
  ASSERT_EQ(answers.size(), 150u);
  for (const auto& [body, answer] : answers) EXPECT_EQ(answer, "re:" + body);
}

TEST(Http2ClientCodec, OversizedAnswerIsABadResponse) {
  Http2ClientLimits limits;
  limits.max_body_bytes = 10;
  Pair pair(limits);
  std::optional<UpstreamResult> got;
  ASSERT_TRUE(
      pair.client->submit(post("/", "x"), [&](UpstreamResult r) { got = std::move(r); }).ok());
  ASSERT_TRUE(pump(*pair.client, *pair.server).ok());
  Response big;
  big.body = std::string(100, 'b');
  pair.server->respond(pair.app.requests[0].first, big);
  ASSERT_TRUE(pump(*pair.client, *pair.server).ok());
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->kind, UpstreamResult::Kind::kBadResponse);
}

TEST(Http2ClientCodec, StreamsRefusedByAGoawayAreUnreachable) {
  Pair pair;
  std::vector<UpstreamResult::Kind> kinds;
  ASSERT_TRUE(
      pair.client->submit(post("/", "1"), [&](UpstreamResult r) { kinds.push_back(r.kind); }).ok());
  ASSERT_TRUE(pump(*pair.client, *pair.server).ok());
  pair.server->drain();
  // Submitted after the GOAWAY's last stream id: never processed by the app.
  ASSERT_TRUE(
      pair.client->submit(post("/", "2"), [&](UpstreamResult r) { kinds.push_back(r.kind); }).ok());
  ASSERT_TRUE(pump(*pair.client, *pair.server).ok());
  EXPECT_FALSE(pair.client->usable());
  EXPECT_EQ(kinds, std::vector<UpstreamResult::Kind>{UpstreamResult::Kind::kUnreachable});
  pair.server->respond(pair.app.requests[0].first, Response());
  ASSERT_TRUE(pump(*pair.client, *pair.server).ok());
  EXPECT_EQ(kinds, (std::vector<UpstreamResult::Kind>{UpstreamResult::Kind::kUnreachable,
                                                      UpstreamResult::Kind::kResponse}));
  EXPECT_EQ(pair.app.requests.size(), 1u);
}

TEST(Http2ClientCodec, LostConnectionFailsEveryExchangeOnceAndCancelGivesTheCallbackBack) {
  Pair pair;
  int unreachable = 0, cancelled_ran = 0;
  pair.client->submit(post("/", "a"), [&](UpstreamResult r) {
    unreachable += r.kind == UpstreamResult::Kind::kUnreachable;
  });
  auto cancelled = pair.client->submit(post("/", "b"), [&](UpstreamResult) { ++cancelled_ran; });
  ASSERT_TRUE(cancelled.ok());
  UpstreamCallback back = pair.client->cancel(cancelled.value());
  EXPECT_TRUE(static_cast<bool>(back));
  pair.client->failAll(UpstreamResult::Kind::kUnreachable, "gone");
  pair.client->failAll(UpstreamResult::Kind::kUnreachable, "gone again");
  EXPECT_EQ(unreachable, 1);
  EXPECT_EQ(cancelled_ran, 0);
  EXPECT_EQ(pair.client->activeStreams(), 0u);
}

}  // namespace
}  // namespace dedup::http2
