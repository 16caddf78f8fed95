// Delivery, driven through every row of DESIGN.md's HTTP table with a fake
// store and a fake app: which store calls happen, in which order, and what
// the sender is told.
#include "proxy/delivery.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <optional>

#include "adapters/key_extractor.h"
#include "adapters/preset.h"
#include "adapters/signature_verifier.h"
#include "adapters/signing_key_file.h"
#include "common/hmac.h"

namespace dedup {
namespace {

// Records each call; the test decides when and how it completes.
class FakeStore : public DedupStore {
 public:
  struct Call {
    std::string op;
    StoreKey key;
    LeaseToken token = 0;
    StoredResponse stored;
    BeginCallback begin_done;
    CommitCallback commit_done;
    ReleaseCallback release_done;
  };
  void begin(const BeginRequest& request, BeginCallback done) override {
    fingerprints.push_back(request.fingerprint);
    calls.push_back({"begin", request.key, 0, {}, std::move(done), nullptr, nullptr});
  }
  void commit(const StoreKey& key, LeaseToken token, StoredResponse response,
              std::chrono::milliseconds, CommitCallback done) override {
    calls.push_back({"commit", key, token, std::move(response), nullptr, std::move(done), nullptr});
  }
  void release(const StoreKey& key, LeaseToken token, std::chrono::milliseconds ttl,
               ReleaseCallback done) override {
    release_ttls.push_back(ttl);
    calls.push_back({"release", key, token, {}, nullptr, nullptr, std::move(done)});
  }
  std::deque<Call> calls;
  std::vector<Fingerprint> fingerprints;
  std::vector<std::chrono::milliseconds> release_ttls;
};

class FakeUpstream : public Upstream {
 public:
  void send(Request request, UpstreamCallback done) override {
    requests.push_back(std::move(request));
    pending.push_back(std::move(done));
  }
  void answer(UpstreamResult result) {
    auto done = std::move(pending.front());
    pending.pop_front();
    done(std::move(result));
  }
  void answer(int status, std::string body, std::string content_type = "application/json") {
    UpstreamResult result;
    result.response.status = status;
    result.response.body = std::move(body);
    result.response.headers.add("Content-Type", std::move(content_type));
    result.response.headers.add("Connection", "keep-alive");
    answer(std::move(result));
  }
  std::vector<Request> requests;
  std::deque<UpstreamCallback> pending;
};

class RecordingSink : public ResponseSink {
 public:
  void respond(uint64_t, Response response) override { responses.push_back(std::move(response)); }
  std::vector<Response> responses;
};

BeginResult began(BeginResult::Outcome outcome, uint32_t attempt = 1) {
  BeginResult result;
  result.outcome = outcome;
  result.token = 77;
  result.attempt = attempt;
  return result;
}

class DeliveryTest : public ::testing::Test {
 protected:
  DeliveryTest() : metrics_("test") {
    route_.extractor = std::move(makeKeyExtractor("header:Idempotency-Key").value());
    route_.metrics = &metrics_.route("default");
  }

  Request post(std::string key, std::string body = "{\"n\":1}") {
    Request request;
    request.method = "POST";
    request.target = "/hook";
    if (!key.empty()) request.headers.add("Idempotency-Key", std::move(key));
    request.headers.add("Host", "app");
    request.body = std::move(body);
    return request;
  }

  void deliver(Request request) {
    auto delivery =
        std::make_shared<Delivery>(context_, route_, std::move(request), sink_, 0, "10.0.0.9");
    delivery->start();
  }

  int outcomeCount(std::string_view outcome) {
    const std::string text = metrics_.serialize();
    const std::string needle = "outcome=\"" + std::string(outcome) + "\",route=\"default\"} ";
    const size_t at = text.find(needle);
    return at == std::string::npos ? -1 : std::stoi(text.substr(at + needle.size()));
  }

  const Response& onlyResponse() {
    EXPECT_EQ(sink_->responses.size(), 1u);
    return sink_->responses.back();
  }

  Config config_;
  Metrics metrics_;
  Route route_;
  FakeStore store_;
  FakeUpstream upstream_;
  DeliveryContext context_{store_, upstream_, metrics_.store("fake"), config_};
  std::shared_ptr<RecordingSink> sink_ = std::make_shared<RecordingSink>();
};

TEST_F(DeliveryTest, FirstDeliveryIsCommittedBeforeTheSenderIsAnswered) {
  deliver(post("k1"));
  ASSERT_EQ(store_.calls.size(), 1u);
  EXPECT_EQ(store_.calls[0].op, "begin");
  EXPECT_EQ(store_.calls[0].key, StoreKey::of("default", "k1"));
  store_.calls[0].begin_done(began(BeginResult::Outcome::kNew));

  ASSERT_EQ(upstream_.requests.size(), 1u);
  const Request& sent = upstream_.requests[0];
  EXPECT_EQ(*sent.headers.find("Dedup-Key"), "k1");
  EXPECT_EQ(*sent.headers.find("Dedup-Attempt"), "1");
  EXPECT_EQ(*sent.headers.find("X-Forwarded-For"), "10.0.0.9");
  EXPECT_EQ(*sent.headers.find("X-Forwarded-Proto"), "http");
  upstream_.answer(201, "{\"ok\":true}");

  ASSERT_EQ(store_.calls.size(), 2u);
  EXPECT_EQ(store_.calls[1].op, "commit");
  EXPECT_EQ(store_.calls[1].token, 77u);
  EXPECT_EQ(store_.calls[1].stored, (StoredResponse{201, "application/json", "{\"ok\":true}"}));
  EXPECT_TRUE(sink_->responses.empty()) << "answered before the commit was durable";
  store_.calls[1].commit_done(CommitOutcome::kCommitted);

  const Response& answer = onlyResponse();
  EXPECT_EQ(answer.status, 201);
  EXPECT_EQ(answer.body, "{\"ok\":true}");
  EXPECT_EQ(answer.headers.find("Connection"), nullptr) << "hop-by-hop header leaked";
  EXPECT_EQ(outcomeCount("forwarded"), 1);
}

TEST_F(DeliveryTest, DuplicateOfCommittedKeyIsReplayedWithoutTheApp) {
  deliver(post("k1"));
  BeginResult result = began(BeginResult::Outcome::kCommitted);
  result.response = StoredResponse{200, "text/plain", "stored"};
  store_.calls[0].begin_done(result);
  EXPECT_TRUE(upstream_.requests.empty());
  const Response& answer = onlyResponse();
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, "stored");
  EXPECT_EQ(*answer.headers.find("Content-Type"), "text/plain");
  EXPECT_EQ(*answer.headers.find("Idempotent-Replayed"), "true");
  EXPECT_EQ(outcomeCount("replayed"), 1);
}

TEST_F(DeliveryTest, DuplicateInFlightGets409WithRetryAfterRoundedUp) {
  deliver(post("k1"));
  BeginResult result = began(BeginResult::Outcome::kInFlight);
  result.retry_after = std::chrono::milliseconds(2100);
  store_.calls[0].begin_done(result);
  EXPECT_TRUE(upstream_.requests.empty());
  EXPECT_EQ(onlyResponse().status, 409);
  EXPECT_EQ(*onlyResponse().headers.find("Retry-After"), "3");
  EXPECT_EQ(outcomeCount("in_flight"), 1);
}

TEST_F(DeliveryTest, DifferentPayloadForCommittedKeyGets422) {
  deliver(post("k1"));
  store_.calls[0].begin_done(began(BeginResult::Outcome::kMismatch));
  EXPECT_EQ(onlyResponse().status, 422);
  EXPECT_EQ(outcomeCount("mismatch"), 1);
}

TEST_F(DeliveryTest, AppFailureReleasesTheKeyThenPassesTheAnswerOn) {
  deliver(post("k1"));
  store_.calls[0].begin_done(began(BeginResult::Outcome::kNew));
  upstream_.answer(500, "boom");
  ASSERT_EQ(store_.calls.size(), 2u);
  EXPECT_EQ(store_.calls[1].op, "release");
  EXPECT_EQ(store_.calls[1].token, 77u);
  EXPECT_TRUE(sink_->responses.empty());
  store_.calls[1].release_done(Status::OK());
  EXPECT_EQ(onlyResponse().status, 500);
  EXPECT_EQ(onlyResponse().body, "boom");
  EXPECT_EQ(outcomeCount("app_error"), 1);
}

TEST_F(DeliveryTest, UnreachableAndTimeoutReleaseAndAnswer502And504) {
  struct Case {
    UpstreamResult::Kind kind;
    int status;
    const char* outcome;
  };
  for (const Case& c : {Case{UpstreamResult::Kind::kUnreachable, 502, "app_unreachable"},
                        Case{UpstreamResult::Kind::kBadResponse, 502, "app_unreachable"},
                        Case{UpstreamResult::Kind::kTimeout, 504, "app_timeout"}}) {
    store_.calls.clear();
    sink_->responses.clear();
    deliver(post("k1"));
    store_.calls[0].begin_done(began(BeginResult::Outcome::kNew));
    UpstreamResult result;
    result.kind = c.kind;
    result.error = "nope";
    upstream_.answer(result);
    ASSERT_EQ(store_.calls.size(), 2u);
    EXPECT_EQ(store_.calls[1].op, "release");
    store_.calls[1].release_done(Status::OK());
    EXPECT_EQ(onlyResponse().status, c.status);
  }
  EXPECT_EQ(outcomeCount("app_unreachable"), 2);
  EXPECT_EQ(outcomeCount("app_timeout"), 1);
}

TEST_F(DeliveryTest, HoldPolicyKeepsTheLeaseOnTimeout) {
  config_.upstream_timeout_policy = UpstreamTimeoutPolicy::kHold;
  deliver(post("k1"));
  store_.calls[0].begin_done(began(BeginResult::Outcome::kNew));
  UpstreamResult result;
  result.kind = UpstreamResult::Kind::kTimeout;
  upstream_.answer(result);
  EXPECT_EQ(store_.calls.size(), 1u) << "the lease must not be released";
  EXPECT_EQ(onlyResponse().status, 504);
}

TEST_F(DeliveryTest, StoreErrorFailsClosedWith503ByDefault) {
  deliver(post("k1"));
  store_.calls[0].begin_done(Status::IOError("disk gone"));
  EXPECT_TRUE(upstream_.requests.empty());
  EXPECT_EQ(onlyResponse().status, 503);
  EXPECT_NE(onlyResponse().headers.find("Retry-After"), nullptr);
  EXPECT_EQ(outcomeCount("store_error"), 1);
}

TEST_F(DeliveryTest, StoreErrorFailsOpenWhenConfigured) {
  route_.store_error_forwards = true;  // buildRoutes() sets it from --on-store-error
  deliver(post("k1"));
  store_.calls[0].begin_done(Status::IOError("disk gone"));
  ASSERT_EQ(upstream_.requests.size(), 1u);
  EXPECT_EQ(upstream_.requests[0].headers.find("Dedup-Key"), nullptr);
  upstream_.answer(200, "ok");
  EXPECT_EQ(store_.calls.size(), 1u) << "nothing to commit without a lease";
  EXPECT_EQ(onlyResponse().status, 200);
  EXPECT_EQ(outcomeCount("store_error"), 1);
}

TEST_F(DeliveryTest, MissingKeyIsForwardedUntouchedOrRejectedWhenRequired) {
  deliver(post(""));
  EXPECT_TRUE(store_.calls.empty());
  ASSERT_EQ(upstream_.requests.size(), 1u);
  upstream_.answer(200, "ok");
  EXPECT_EQ(outcomeCount("passthrough"), 1);

  route_.require_key = true;
  sink_->responses.clear();
  deliver(post(""));
  EXPECT_EQ(upstream_.requests.size(), 1u);
  EXPECT_EQ(onlyResponse().status, 400);
  EXPECT_EQ(outcomeCount("missing_key"), 1);
}

TEST_F(DeliveryTest, InvalidKeyIsRejected) {
  deliver(post(std::string(kMaxKeyLength + 1, 'k')));
  EXPECT_TRUE(store_.calls.empty());
  EXPECT_EQ(onlyResponse().status, 400);
  EXPECT_EQ(outcomeCount("rejected"), 1);
}

TEST_F(DeliveryTest, OtherMethodsPassStraightThrough) {
  Request get = post("k1");
  get.method = "GET";
  deliver(get);
  EXPECT_TRUE(store_.calls.empty());
  ASSERT_EQ(upstream_.requests.size(), 1u);
  EXPECT_EQ(upstream_.requests[0].headers.find("Dedup-Key"), nullptr);
}

TEST_F(DeliveryTest, SenderCannotSpoofTheAttemptHeader) {
  Request request = post("k1");
  request.headers.add("Dedup-Attempt", "9");
  deliver(request);
  store_.calls[0].begin_done(began(BeginResult::Outcome::kNew, 3));
  EXPECT_EQ(upstream_.requests[0].headers.count("Dedup-Attempt"), 1u);
  EXPECT_EQ(*upstream_.requests[0].headers.find("Dedup-Attempt"), "3");
}

TEST_F(DeliveryTest, DerivedKeysArePercentEncodedInTheDedupKeyHeader) {
  route_.extractor = std::move(makeKeyExtractor("cloudevents").value());
  Request request = post("");
  request.headers.add("ce-source", "/orders%");
  request.headers.add("ce-id", "42");
  deliver(request);
  ASSERT_EQ(store_.calls.size(), 1u);
  EXPECT_EQ(store_.calls[0].key, StoreKey::of("default", "/orders%\n42"));
  store_.calls[0].begin_done(began(BeginResult::Outcome::kNew));
  EXPECT_EQ(*upstream_.requests[0].headers.find("Dedup-Key"), "/orders%25%0A42");
}

TEST_F(DeliveryTest, PercentIsAlwaysEncodedSoDifferentKeysNeverLookTheSame) {
  route_.extractor = std::move(makeKeyExtractor("json:/id").value());
  const struct {
    std::string body;
    std::string header;
  } cases[] = {
      {R"({"id":"plain-42"})", "plain-42"}, {R"({"id":"\u00e9"})", "%C3%A9"},
      {R"({"id":"%C3%A9"})", "%25C3%25A9"},  // visible ASCII, but a '%' alone must not pass as-is
      {R"({"id":"100%"})", "100%25"},       {R"({"id":123})", "#123"},
      {R"({"id":"123"})", "123"},
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    SCOPED_TRACE(cases[i].body);
    deliver(post("", cases[i].body));
    ASSERT_EQ(store_.calls.size(), 1u);
    store_.calls[0].begin_done(began(BeginResult::Outcome::kNew));
    ASSERT_EQ(upstream_.requests.size(), 1u);
    EXPECT_EQ(*upstream_.requests[0].headers.find("Dedup-Key"), cases[i].header);
    store_.calls.clear();
    upstream_.requests.clear();
    upstream_.pending.clear();
  }
}

TEST_F(DeliveryTest, SenderHangingUpDoesNotStopTheCommit) {
  deliver(post("k1"));
  store_.calls[0].begin_done(began(BeginResult::Outcome::kNew));
  sink_.reset();  // the connection is gone
  upstream_.answer(200, "ok");
  ASSERT_EQ(store_.calls.size(), 2u);
  EXPECT_EQ(store_.calls[1].op, "commit");
  store_.calls[1].commit_done(CommitOutcome::kCommitted);
  EXPECT_EQ(outcomeCount("forwarded"), 1);
}

TEST_F(DeliveryTest, LostLeaseIsCountedAndTheAppsAnswerStillGoesOut) {
  deliver(post("k1"));
  store_.calls[0].begin_done(began(BeginResult::Outcome::kNew, 2));
  upstream_.answer(200, "ok");
  store_.calls[1].commit_done(CommitOutcome::kLeaseLost);
  EXPECT_EQ(onlyResponse().status, 200);
  const std::string text = metrics_.serialize();
  EXPECT_NE(text.find("dedup_proxy_lease_lost_total{route=\"default\"} 1"), std::string::npos);
  EXPECT_NE(text.find("dedup_proxy_leases_expired_total{route=\"default\"} 1"), std::string::npos);
  EXPECT_EQ(outcomeCount("lease_lost"), 1);
  EXPECT_EQ(outcomeCount("forwarded"), 0) << "a lost lease is not a clean forward";
}

TEST_F(DeliveryTest, FailedCommitIsAStoreErrorAnswerNeverAnAck) {
  deliver(post("k1"));
  store_.calls[0].begin_done(began(BeginResult::Outcome::kNew));
  upstream_.answer(200, "ok");
  ASSERT_EQ(store_.calls.size(), 2u);
  store_.calls[1].commit_done(Status::IOError("rocksdb wal sync: EIO"));
  EXPECT_EQ(onlyResponse().status, 503) << "the commit is not durable: the sender must retry";
  EXPECT_NE(onlyResponse().headers.find("Retry-After"), nullptr);
  EXPECT_EQ(outcomeCount("commit_failed"), 1);
  EXPECT_EQ(outcomeCount("forwarded"), 0);
  EXPECT_NE(
      metrics_.serialize().find("dedup_proxy_store_errors_total{op=\"commit\",store=\"fake\"} 1"),
      std::string::npos);
}

TEST_F(DeliveryTest, FailedCommitOnAFailOpenRouteGivesTheAppsAnswer) {
  route_.store_error_forwards = true;
  deliver(post("k1"));
  store_.calls[0].begin_done(began(BeginResult::Outcome::kNew));
  upstream_.answer(200, "ok");
  store_.calls[1].commit_done(Status::Timeout("dedup store commit took longer than 5000ms"));
  EXPECT_EQ(onlyResponse().status, 200);
  EXPECT_EQ(outcomeCount("commit_failed"), 1);
}

TEST_F(DeliveryTest, ReleaseKeepsTheAttemptCountForTheRoutesTtl) {
  route_.ttl = std::chrono::hours(3);
  deliver(post("k1"));
  store_.calls[0].begin_done(began(BeginResult::Outcome::kNew));
  upstream_.answer(503, "busy");
  ASSERT_EQ(store_.release_ttls.size(), 1u);
  EXPECT_EQ(store_.release_ttls[0], std::chrono::hours(3));
}

TEST_F(DeliveryTest, BodiesOverTheLimitAreCommittedWithoutBody) {
  config_.max_stored_body = 4;
  deliver(post("k1"));
  store_.calls[0].begin_done(began(BeginResult::Outcome::kNew));
  upstream_.answer(200, "too long");
  EXPECT_EQ(store_.calls[1].stored, (StoredResponse{200, "", ""}));
}

// Streamed answers (a body over --max-stored-body): the app's body is an
// UpstreamBody the test drives; the sink records what it is sent.
class FakeBody : public UpstreamBody {
 public:
  void start(Handler h) override {
    handler = std::move(h);
    started = true;
  }
  void pause() override { paused = true; }
  void resume() override { paused = false; }
  void cancel() override {
    cancelled = true;
    handler = {};
  }
  Handler handler;
  bool started = false;
  bool paused = false;
  bool cancelled = false;
};

class StreamingSink : public ResponseSink {
 public:
  void respond(uint64_t, Response response) override { whole.push_back(std::move(response)); }
  bool streamsBodies() const override { return true; }
  void respondHead(uint64_t, Response h, std::optional<uint64_t> length,
                   std::function<void()> r) override {
    head = std::move(h);
    body_length = length;
    resume = std::move(r);
  }
  bool sendBody(uint64_t, std::string_view bytes) override {
    body.append(bytes);
    return room;
  }
  void finishBody(uint64_t) override { finished = true; }
  void abort(uint64_t) override { aborted = true; }
  std::vector<Response> whole;
  std::optional<Response> head;
  std::optional<uint64_t> body_length;
  std::function<void()> resume;
  std::string body;
  bool room = true;
  bool finished = false;
  bool aborted = false;
};

class DeliveryStreamingTest : public DeliveryTest {
 protected:
  void deliverTo(std::shared_ptr<ResponseSink> sink) {
    auto delivery = std::make_shared<Delivery>(context_, route_, post("k1"), sink, 0, "10.0.0.9");
    delivery->start();
    store_.calls[0].begin_done(began(BeginResult::Outcome::kNew));
  }
  void answerStreamed(int status, std::string first_bytes) {
    UpstreamResult result;
    result.response.status = status;
    result.response.body = std::move(first_bytes);
    result.response.headers.add("Content-Type", "text/plain");
    result.body = body_;
    result.body_length = 9;
    upstream_.answer(std::move(result));
  }
  std::shared_ptr<FakeBody> body_ = std::make_shared<FakeBody>();
  std::shared_ptr<StreamingSink> streaming_ = std::make_shared<StreamingSink>();
};

TEST_F(DeliveryStreamingTest, AckIsCommittedStatusOnlyBeforeAnyByteStreams) {
  deliverTo(streaming_);
  answerStreamed(200, "abc");
  ASSERT_EQ(store_.calls.size(), 2u);
  EXPECT_EQ(store_.calls[1].op, "commit");
  EXPECT_EQ(store_.calls[1].stored, (StoredResponse{200, "", ""}));
  EXPECT_FALSE(streaming_->head.has_value()) << "the sender saw the answer before the commit";
  EXPECT_FALSE(body_->started) << "the app's body was read before the commit";
  store_.calls[1].commit_done(CommitOutcome::kCommitted);

  ASSERT_TRUE(streaming_->head.has_value());
  EXPECT_EQ(streaming_->head->status, 200);
  EXPECT_EQ(streaming_->head->body, "abc");
  EXPECT_EQ(streaming_->body_length, std::optional<uint64_t>(9));
  ASSERT_TRUE(body_->started);

  streaming_->room = false;
  body_->handler.on_data("def");
  EXPECT_EQ(streaming_->body, "def");
  EXPECT_TRUE(body_->paused) << "a full sink must pause the app";
  streaming_->resume();
  EXPECT_FALSE(body_->paused);
  streaming_->room = true;
  body_->handler.on_data("ghi");
  auto on_end = body_->handler.on_end;
  body_->handler = {};  // as UpstreamConnection does: the handler goes with the end
  on_end();
  EXPECT_EQ(streaming_->body, "defghi");
  EXPECT_TRUE(streaming_->finished);
  EXPECT_FALSE(streaming_->aborted);
  EXPECT_EQ(outcomeCount("forwarded"), 1);
}

TEST_F(DeliveryStreamingTest, AppBreakingOffMidBodyCutsTheSenderAndTheCommitStands) {
  deliverTo(streaming_);
  answerStreamed(200, "abc");
  store_.calls[1].commit_done(CommitOutcome::kCommitted);
  auto on_error = body_->handler.on_error;
  body_->handler = {};
  on_error("truncated response");
  EXPECT_TRUE(streaming_->aborted);
  EXPECT_FALSE(streaming_->finished);
  ASSERT_EQ(store_.calls.size(), 2u) << "no release after an ack";
}

TEST_F(DeliveryStreamingTest, AckStatusThenFailureBeforeTheBodyIsStillCommitted) {
  deliverTo(streaming_);
  UpstreamResult result;
  result.kind = UpstreamResult::Kind::kUnreachable;
  result.head_status = 204;
  result.error = "the app closed the connection without a complete answer";
  upstream_.answer(std::move(result));
  ASSERT_EQ(store_.calls.size(), 2u);
  EXPECT_EQ(store_.calls[1].op, "commit");
  EXPECT_EQ(store_.calls[1].stored, (StoredResponse{204, "", ""}));
  store_.calls[1].commit_done(CommitOutcome::kCommitted);
  EXPECT_TRUE(streaming_->aborted);
  EXPECT_TRUE(streaming_->whole.empty());
}

TEST_F(DeliveryStreamingTest, NonAckStatusBeforeABrokenBodyIsReleased) {
  deliverTo(streaming_);
  UpstreamResult result;
  result.kind = UpstreamResult::Kind::kUnreachable;
  result.head_status = 500;
  upstream_.answer(std::move(result));
  ASSERT_EQ(store_.calls.size(), 2u);
  EXPECT_EQ(store_.calls[1].op, "release");
}

TEST_F(DeliveryStreamingTest, SenderGoneBeforeTheCommitStopsReadingTheApp) {
  deliverTo(streaming_);
  answerStreamed(200, "abc");
  streaming_.reset();
  store_.calls[1].commit_done(CommitOutcome::kCommitted);
  EXPECT_TRUE(body_->cancelled);
}

TEST_F(DeliveryStreamingTest, SinkWithoutStreamingGetsTheBodyWhole) {
  deliverTo(sink_);
  answerStreamed(200, "abc");
  store_.calls[1].commit_done(CommitOutcome::kCommitted);
  ASSERT_TRUE(body_->started);
  body_->handler.on_data("defghi");
  EXPECT_TRUE(sink_->responses.empty());
  auto on_end = body_->handler.on_end;
  body_->handler = {};
  on_end();
  EXPECT_EQ(onlyResponse().body, "abcdefghi");
}

// Profiles: each preset's answers come out of the same pipeline.
class DeliveryProfileTest : public DeliveryTest {
 protected:
  void usePreset(std::string_view name) {
    const Preset* preset = findPreset(name);
    ASSERT_NE(preset, nullptr);
    route_.preset = preset->name;
    route_.profile = preset->profile;
  }
};

TEST_F(DeliveryProfileTest, KnativeDuplicateIsABare202) {
  usePreset("knative");
  deliver(post("k1"));
  BeginResult result = began(BeginResult::Outcome::kCommitted);
  result.response = StoredResponse{200, "application/json", "{\"reply\":1}"};
  store_.calls[0].begin_done(result);
  EXPECT_EQ(onlyResponse().status, 202);
  EXPECT_EQ(onlyResponse().body, "");
  EXPECT_EQ(onlyResponse().headers.find("Content-Type"), nullptr);
  EXPECT_EQ(*onlyResponse().headers.find("Idempotent-Replayed"), "true");
}

TEST_F(DeliveryProfileTest, DaprInFlightIsA200RetryNeverA4xx) {
  usePreset("dapr");
  deliver(post("k1"));
  BeginResult result = began(BeginResult::Outcome::kInFlight);
  result.retry_after = std::chrono::milliseconds(500);
  store_.calls[0].begin_done(result);
  EXPECT_EQ(onlyResponse().status, 200);
  EXPECT_EQ(onlyResponse().body, "{\"status\":\"RETRY\"}");
  EXPECT_EQ(*onlyResponse().headers.find("Content-Type"), "application/json");
  EXPECT_EQ(*onlyResponse().headers.find("Retry-After"), "1");
  EXPECT_EQ(outcomeCount("in_flight"), 1);
}

TEST_F(DeliveryProfileTest, SnsNeverAnswersA4xxForInFlightOrMismatch) {
  usePreset("aws-sns");
  deliver(post("k1"));
  store_.calls[0].begin_done(began(BeginResult::Outcome::kInFlight));
  deliver(post("k1"));
  store_.calls[1].begin_done(began(BeginResult::Outcome::kMismatch));
  ASSERT_EQ(sink_->responses.size(), 2u);
  EXPECT_EQ(sink_->responses[0].status, 503);
  EXPECT_EQ(sink_->responses[1].status, 500);
}

TEST_F(DeliveryProfileTest, SnsSubscriptionHandshakeIsNeverDeduplicated) {
  usePreset("aws-sns");
  Request request = post("k1");
  request.headers.add("x-amz-sns-message-type", "SubscriptionConfirmation");
  deliver(std::move(request));
  EXPECT_TRUE(store_.calls.empty());
  ASSERT_EQ(upstream_.requests.size(), 1u);
  EXPECT_EQ(upstream_.requests[0].headers.find("Dedup-Key"), nullptr);
}

TEST_F(DeliveryProfileTest, PubSubNonAckStatusReleasesAndSkipsTheFingerprint) {
  usePreset("gcp-pubsub");
  deliver(post("k1"));
  EXPECT_EQ(store_.fingerprints.at(0), Fingerprint{}) << "redeliveries change deliveryAttempt";
  store_.calls[0].begin_done(began(BeginResult::Outcome::kNew));
  upstream_.answer(203, "not an ack for Pub/Sub");
  ASSERT_EQ(store_.calls.size(), 2u);
  EXPECT_EQ(store_.calls[1].op, "release");
}

TEST_F(DeliveryProfileTest, KeysAreCountedInTheRoutesScope) {
  route_.scope = "payments";
  deliver(post("k1"));
  EXPECT_EQ(store_.calls[0].key, StoreKey::of("payments", "k1"));
}

TEST_F(DeliveryProfileTest, OverriddenStoreErrorAnswerCarriesRetryAfter) {
  ProfileOverride change;
  change.store_error.status = 500;
  change.store_error.retry_after = std::chrono::seconds(30);
  route_.profile = applyOverride(route_.profile, change);
  deliver(post("k1"));
  store_.calls[0].begin_done(Status::IOError("disk gone"));
  EXPECT_EQ(onlyResponse().status, 500);
  EXPECT_EQ(*onlyResponse().headers.find("Retry-After"), "30");
}

// Signatures: a request that fails the route's check is answered 401 before
// its key is looked at, so the store never sees it.
class DeliverySignatureTest : public DeliveryTest {
 protected:
  void SetUp() override {
    char path[] = "/tmp/delivery-secrets-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "s3cret\n", 7), 7);
    close(fd);
    path_ = path;
    route_.signature = makeSignatureVerifier("github", kDefaultSignatureTolerance).value();
    route_.signing_keys = std::make_shared<SigningKeyFile>(
        path_, "github",
        [](std::string_view secret) { return StatusOr<std::string>(std::string(secret)); });
    ASSERT_TRUE(route_.signing_keys->load().ok());
  }
  void TearDown() override { std::remove(path_.c_str()); }

  Request signed_post(std::string key, std::string secret, std::string body = "{\"n\":1}") {
    Request request = post(std::move(key), body);
    const Sha256Digest mac = hmacSha256(secret, {body});
    request.headers.add("X-Hub-Signature-256", "sha256=" + toHex(mac.data(), mac.size()));
    return request;
  }

  std::string path_;
};

TEST_F(DeliverySignatureTest, ForgeryIsAnswered401WithoutTouchingTheStore) {
  deliver(signed_post("k1", "guessed"));
  EXPECT_TRUE(store_.calls.empty()) << "a forgery reached the store";
  EXPECT_TRUE(upstream_.requests.empty());
  const Response& refused = onlyResponse();
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(*refused.headers.find("Content-Type"), "application/problem+json");
  EXPECT_NE(refused.body.find("signature mismatch (github)"), std::string::npos) << refused.body;
  EXPECT_EQ(refused.body.find("s3cret"), std::string::npos);
  EXPECT_EQ(outcomeCount("bad_signature"), 1);

  deliver(signed_post("k1", "s3cret"));  // the genuine one: processed as usual
  ASSERT_EQ(store_.calls.size(), 1u);
  EXPECT_EQ(store_.calls[0].op, "begin");
  EXPECT_EQ(store_.calls[0].key, StoreKey::of("default", "k1"));
}

TEST_F(DeliverySignatureTest, RequestsWithoutAKeyOrOfOtherMethodsAreVerifiedToo) {
  deliver(post(""));
  Request get = post("");
  get.method = "GET";
  get.body.clear();
  deliver(std::move(get));
  EXPECT_EQ(sink_->responses.size(), 2u);
  for (const Response& r : sink_->responses) EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(upstream_.requests.empty());
  EXPECT_EQ(outcomeCount("bad_signature"), 2);
  deliver(signed_post("", "s3cret"));
  EXPECT_EQ(upstream_.requests.size(), 1u) << "signed, no key: forwarded untouched";
}

// --- wait mode (profile in_flight: wait) -------------------------------------

class WaitModeTest : public DeliveryTest {
 protected:
  WaitModeTest() {
    route_.profile.in_flight_waits = true;
    context_.loop = &loop_;
    context_.waiters = &waiters_;
  }
  // Deliveries hold timers on loop_: they must go before it does.
  ~WaitModeTest() override {
    waiters_.drain();
    runPosted();
    store_.calls.clear();
    upstream_.pending.clear();
  }

  void runPosted() {
    loop_.exit();
    loop_.run();
  }
  // The last begin call, answered with `outcome`.
  void beginAnswers(BeginResult result) {
    ASSERT_EQ(store_.calls.back().op, "begin");
    auto done = std::move(store_.calls.back().begin_done);
    done(std::move(result));
  }
  BeginResult inFlight() {
    BeginResult result = began(BeginResult::Outcome::kInFlight);
    result.retry_after = std::chrono::milliseconds(1500);
    return result;
  }

  EventLoop loop_;
  InFlightWaiters waiters_{4, 100};
};

TEST_F(WaitModeTest, DuplicateWaitsThenGetsTheCommittedAnswer) {
  deliver(post("k1"));
  beginAnswers(inFlight());
  // Registered, then asks again: the first may have finished just before.
  ASSERT_EQ(store_.calls.size(), 2u);
  EXPECT_EQ(waiters_.size(), 1u);
  beginAnswers(inFlight());
  EXPECT_TRUE(sink_->responses.empty()) << "a waiter answered while the first is at the app";

  waiters_.finished(StoreKey::of("default", "k1"));
  runPosted();
  ASSERT_EQ(store_.calls.size(), 3u);
  BeginResult committed = began(BeginResult::Outcome::kCommitted);
  committed.response = StoredResponse{201, "text/plain", "first"};
  beginAnswers(committed);
  EXPECT_EQ(onlyResponse().status, 201);
  EXPECT_EQ(onlyResponse().body, "first");
  EXPECT_EQ(waiters_.size(), 0u);
  EXPECT_TRUE(upstream_.requests.empty());
}

TEST_F(WaitModeTest, AfterAFailureTheWaiterIsTheNextAttempt) {
  deliver(post("k1"));
  beginAnswers(inFlight());
  beginAnswers(inFlight());
  waiters_.finished(StoreKey::of("default", "k1"));
  runPosted();
  beginAnswers(began(BeginResult::Outcome::kNew, 2));
  ASSERT_EQ(upstream_.requests.size(), 1u);
  EXPECT_EQ(*upstream_.requests[0].headers.find("Dedup-Attempt"), "2");
  EXPECT_EQ(waiters_.size(), 0u);
  // Its own commit wakes whoever waits for it in turn.
  int woken = 0;
  waiters_.add(StoreKey::of("default", "k1"), loop_, [&](InFlightWaiters::Wake) { ++woken; });
  upstream_.answer(200, "{}");
  store_.calls.back().commit_done(CommitOutcome::kCommitted);
  runPosted();
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(onlyResponse().status, 200);
}

TEST_F(WaitModeTest, WakeDuringAQuestionAsksAgain) {
  deliver(post("k1"));
  beginAnswers(inFlight());
  // The recheck is out when the first finishes: its kInFlight is stale.
  waiters_.finished(StoreKey::of("default", "k1"));
  runPosted();
  ASSERT_EQ(store_.calls.size(), 2u);
  beginAnswers(inFlight());
  ASSERT_EQ(store_.calls.size(), 3u) << "a wake-up during a question was lost";
  BeginResult committed = began(BeginResult::Outcome::kCommitted);
  committed.response = StoredResponse{200, "", "x"};
  beginAnswers(committed);
  EXPECT_EQ(onlyResponse().body, "x");
}

TEST_F(WaitModeTest, OverTheBoundOrDrainingGetsTheInFlightAnswer) {
  for (int i = 0; i < 4; ++i) {
    waiters_.add(StoreKey::of("default", "k1"), loop_, [](InFlightWaiters::Wake) {});
  }
  deliver(post("k1"));
  beginAnswers(inFlight());
  EXPECT_EQ(onlyResponse().status, 409);
  EXPECT_EQ(*onlyResponse().headers.find("Retry-After"), "2");

  sink_->responses.clear();
  deliver(post("k2"));
  beginAnswers(inFlight());
  beginAnswers(inFlight());
  EXPECT_TRUE(sink_->responses.empty());
  waiters_.drain();
  runPosted();
  EXPECT_EQ(onlyResponse().status, 409);
}

}  // namespace
}  // namespace dedup
