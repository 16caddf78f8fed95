#include "proxy/delivery.h"

#include <algorithm>

#include "common/log.h"
#include "proxy/http1/hop_by_hop.h"
#include "proxy/local_response.h"
#include "proxy/profile_response.h"
#include "proxy/signature_check.h"
#include "proxy/stored_response.h"

namespace dedup {
namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The key as the app sees it in Dedup-Key: visible ASCII as-is, every other
// byte and '%' itself percent-encoded (RFC 3986), so a derived key (CloudEvents
// source and id, composites) can never break the header, and two different
// keys never look the same ("é" is %C3%A9, the text "%C3%A9" is %25C3%25A9).
std::string headerSafeKey(const std::string& key) {
  const auto unsafe = [](unsigned char c) { return c < 0x20 || c >= 0x7f || c == '%'; };
  if (std::none_of(key.begin(), key.end(), unsafe)) return key;
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(key.size() * 3);
  for (unsigned char c : key) {
    if (unsafe(c)) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string_view upstreamErrorName(UpstreamResult::Kind kind) {
  switch (kind) {
    case UpstreamResult::Kind::kTimeout:
      return "timeout";
    case UpstreamResult::Kind::kBadResponse:
      return "bad_response";
    case UpstreamResult::Kind::kOverloaded:
      return "overloaded";
    default:
      return "unreachable";
  }
}

}  // namespace

Delivery::Delivery(DeliveryContext& context, const Route& route, Request request,
                   std::weak_ptr<ResponseSink> sink, uint64_t slot, std::string peer_address)
    : context_(context),
      route_(route),
      request_(std::move(request)),
      sink_(std::move(sink)),
      slot_(slot),
      peer_address_(std::move(peer_address)) {
  context_.active_deliveries.fetch_add(1, std::memory_order_relaxed);
}

Delivery::~Delivery() { context_.active_deliveries.fetch_sub(1, std::memory_order_relaxed); }

void Delivery::start() {
  // Before the key: a forged request must not lease or commit it.
  if (std::optional<Response> refused = refuseBadSignature(route_, request_, peer_address_)) {
    answer(DeliveryOutcome::kBadSignature, std::move(*refused));
    return;
  }
  if (!route_.deduplicates(request_)) {
    forward();
    return;
  }
  ExtractedKey extracted = route_.extractor->extract(request_);
  switch (extracted.kind) {
    case ExtractedKey::Kind::kInvalid:
      answer(DeliveryOutcome::kRejected, problemResponse(400, extracted.error));
      return;
    case ExtractedKey::Kind::kMissing:
      if (route_.require_key) {
        answer(DeliveryOutcome::kMissingKey,
               profileResponse(route_.profile.missing_key,
                               "this route requires a key (" + route_.extractor->spec() + ")"));
      } else {
        forward();
      }
      return;
    case ExtractedKey::Kind::kFound:
      break;
  }
  key_ = std::move(extracted.key);
  store_key_ = StoreKey::of(route_.scope, key_);
  begin_.key = store_key_;
  // Without a fingerprint every delivery of a key carries the same (zero) one.
  if (route_.profile.fingerprint) begin_.fingerprint = route_.extractor->fingerprint(request_);
  begin_.lease = route_.lease;
  askStore();
}

void Delivery::askStore() {
  begin_pending_ = true;
  const Clock::time_point started = Clock::now();
  // Most begins are decided on this thread, without a store round trip.
  if (std::optional<StatusOr<BeginResult>> decided = context_.store.beginNow(begin_)) {
    context_.store_metrics.observe(StoreOp::kBegin, secondsSince(started));
    onBegin(std::move(*decided));
    return;
  }
  context_.store.begin(begin_, [self = shared_from_this(), started](StatusOr<BeginResult> result) {
    self->context_.store_metrics.observe(StoreOp::kBegin, secondsSince(started));
    self->onBegin(std::move(result));
  });
}

void Delivery::onBegin(StatusOr<BeginResult> result) {
  begin_pending_ = false;
  if (result.ok() && result->outcome == BeginResult::Outcome::kInFlight &&
      route_.profile.in_flight_waits && context_.waiters != nullptr && !wait_over_) {
    waitForInFlight(result->retry_after);
    return;
  }
  stopWaiting();
  if (!result.ok()) {
    context_.store_metrics.error(StoreOp::kBegin);
    const bool fail_open = route_.store_error_forwards;
    LOG_ERROR("dedup store failed", {"route", route_.name}, {"key", key_}, {"op", "begin"},
              {"error", result.status().ToString()},
              {"answer", fail_open ? std::string("forwarded without dedup")
                                   : std::to_string(route_.profile.store_error.status)});
    if (fail_open) {
      store_failed_open_ = true;
      forward();
    } else {
      answer(DeliveryOutcome::kStoreError,
             profileRetryLater(route_.profile.store_error, "the dedup store is unavailable",
                               std::chrono::seconds(1)));
    }
    return;
  }
  BeginResult& begun = result.value();
  switch (begun.outcome) {
    case BeginResult::Outcome::kCommitted:
      answer(DeliveryOutcome::kReplayed, duplicateResponse(route_.profile, *begun.response));
      return;
    case BeginResult::Outcome::kInFlight:
      in_flight_retry_after_ = begun.retry_after;
      answerInFlight();
      return;
    case BeginResult::Outcome::kMismatch:
      answer(DeliveryOutcome::kMismatch,
             profileResponse(route_.profile.mismatch,
                             "this key was already used with a different payload"));
      return;
    case BeginResult::Outcome::kNew:
      break;
  }
  holds_lease_ = true;
  token_ = begun.token;
  attempt_ = begun.attempt;
  route_.metrics->inFlight().Increment();
  if (attempt_ > 1) {
    route_.metrics->leaseExpired();
    LOG_WARN("redelivery after an expired lease: the app may have seen this key before",
             {"route", route_.name}, {"key", key_}, {"attempt", std::to_string(attempt_)});
  }
  forward();
}

void Delivery::prepareForApp() {
  http1::stripHopByHopHeaders(request_.headers);
  request_.headers.remove("Dedup-Key");
  request_.headers.remove("Dedup-Attempt");
  if (holds_lease_) {
    request_.headers.add("Dedup-Key", headerSafeKey(key_));
    request_.headers.add("Dedup-Attempt", std::to_string(attempt_));
  }
  const std::string* forwarded_for = request_.headers.find("X-Forwarded-For");
  if (forwarded_for != nullptr) {
    request_.headers.set("X-Forwarded-For", *forwarded_for + ", " + peer_address_);
  } else {
    request_.headers.add("X-Forwarded-For", peer_address_);
  }
  request_.headers.set("X-Forwarded-Proto", "http");
  request_.version_minor = 1;
  request_.keep_alive = true;
}

void Delivery::forward() {
  prepareForApp();
  upstream_start_ = Clock::now();
  context_.upstream.send(std::move(request_), [self = shared_from_this()](UpstreamResult result) {
    self->onUpstream(std::move(result));
  });
}

void Delivery::onUpstream(UpstreamResult result) {
  route_.metrics->observeUpstream(secondsSince(upstream_start_));
  if (result.kind == UpstreamResult::Kind::kOverloaded) {
    // The app never saw it: release the key so the retry is forwarded.
    static log::RateLimit overloaded_lines(1);
    LOG_LIMITED(overloaded_lines, log::Level::kWarn, "upstream queue full: request refused",
                {"route", route_.name}, {"answer", "503"});
    releaseAndAnswer(DeliveryOutcome::kAppUnreachable,
                     retryLaterResponse(503, result.error, std::chrono::seconds(1)));
    return;
  }
  if (result.kind != UpstreamResult::Kind::kResponse && holds_lease_ && result.head_status >= 200 &&
      route_.profile.acknowledges(result.head_status)) {
    // The status line is the ack: the app processed the message, so it is
    // committed (status only); the sender, which cannot get the whole body,
    // sees its stream cut and its redelivery gets the replay.
    LOG_WARN("app acknowledged, then broke off its answer's body", {"route", route_.name},
             {"key", key_}, {"status", std::to_string(result.head_status)},
             {"error", result.error});
    cut_answer_ = true;
    Response acked;
    acked.status = result.head_status;
    commit(std::move(acked));
    return;
  }
  if (result.kind != UpstreamResult::Kind::kResponse) {
    const bool timed_out = result.kind == UpstreamResult::Kind::kTimeout;
    LOG_WARN("app did not answer", {"route", route_.name}, {"key", key_},
             {"reason", upstreamErrorName(result.kind)}, {"error", result.error},
             {"answer", timed_out ? "504" : "502"});
    const bool keep_lease =
        timed_out && context_.config.upstream_timeout_policy == UpstreamTimeoutPolicy::kHold;
    releaseAndAnswer(timed_out ? DeliveryOutcome::kAppTimeout : DeliveryOutcome::kAppUnreachable,
                     problemResponse(timed_out ? 504 : 502, result.error), keep_lease);
    return;
  }
  Response& response = result.response;
  http1::stripHopByHopHeaders(response.headers);
  body_ = std::move(result.body);
  body_length_ = result.body_length;
  if (!holds_lease_) {
    answer(store_failed_open_ ? DeliveryOutcome::kStoreError : DeliveryOutcome::kPassthrough,
           std::move(response));
    return;
  }
  if (!route_.profile.acknowledges(response.status)) {
    releaseAndAnswer(DeliveryOutcome::kAppError, std::move(response));
    return;
  }
  commit(std::move(response));
}

void Delivery::commit(Response app_response) {
  StoredResponse stored =
      storedResponse(route_.profile.replay_headers, app_response, context_.config.max_stored_body);
  if (body_ || cut_answer_) {
    // A streamed body (body_) is over the limit by construction, a cut one is
    // not whole: status and headers only.
    stored.content_type.clear();
    stored.body.clear();
  }
  const Clock::time_point started = Clock::now();
  context_.store.commit(
      store_key_, token_, std::move(stored), route_.ttl,
      [self = shared_from_this(), started,
       response = std::move(app_response)](StatusOr<CommitOutcome> outcome) mutable {
        self->context_.store_metrics.observe(StoreOp::kCommit, secondsSince(started));
        self->holds_lease_ = false;
        self->route_.metrics->inFlight().Decrement();
        self->wakeWaiters();
        if (!outcome.ok()) {
          // The app did acknowledge, but the key is not durably remembered:
          // the sender is not told it was done (fail-closed), so it delivers
          // again, and the app sees a repeat marked with a higher attempt.
          self->context_.store_metrics.error(StoreOp::kCommit);
          const bool fail_open = self->route_.store_error_forwards;
          LOG_ERROR(
              "commit failed after the app acknowledged", {"route", self->route_.name},
              {"key", self->key_}, {"error", outcome.status().ToString()},
              {"answer", fail_open ? std::to_string(response.status)
                                   : std::to_string(self->route_.profile.store_error.status)});
          self->answer(DeliveryOutcome::kCommitFailed,
                       fail_open ? std::move(response)
                                 : profileRetryLater(self->route_.profile.store_error,
                                                     "the dedup store could not record the answer",
                                                     std::chrono::seconds(1)));
          return;
        }
        if (*outcome == CommitOutcome::kLeaseLost) {
          self->route_.metrics->leaseLost();
          LOG_WARN("lease lost before commit: another delivery of this key took over",
                   {"route", self->route_.name}, {"key", self->key_});
          self->answer(DeliveryOutcome::kLeaseLost, std::move(response));
          return;
        }
        self->answer(DeliveryOutcome::kForwarded, std::move(response));
      });
}

void Delivery::releaseAndAnswer(DeliveryOutcome outcome, Response response, bool keep_lease) {
  if (!holds_lease_ || keep_lease) {
    if (holds_lease_) {
      route_.metrics->inFlight().Decrement();
      wakeWaiters();  // they wait on, up to their deadline, or take over an expired lease
    }
    holds_lease_ = false;
    answer(outcome, std::move(response));
    return;
  }
  const Clock::time_point started = Clock::now();
  context_.store.release(
      store_key_, token_, route_.ttl,
      [self = shared_from_this(), started, outcome,
       response = std::move(response)](Status status) mutable {
        self->context_.store_metrics.observe(StoreOp::kRelease, secondsSince(started));
        self->holds_lease_ = false;
        self->route_.metrics->inFlight().Decrement();
        self->wakeWaiters();
        if (!status.ok()) {
          self->context_.store_metrics.error(StoreOp::kRelease);
          LOG_ERROR("release failed; the lease will expire instead", {"route", self->route_.name},
                    {"key", self->key_}, {"error", status.ToString()});
        }
        self->answer(outcome, std::move(response));
      });
}

void Delivery::answer(DeliveryOutcome outcome, Response response) {
  route_.metrics->count(outcome);
  std::shared_ptr<ResponseSink> sink = sink_.lock();
  if (body_) {
    streamAnswer(sink, std::move(response));
  } else if (sink && cut_answer_) {
    sink->abort(slot_);
  } else if (sink) {
    sink->respond(slot_, std::move(response));
  } else if (!key_.empty()) {
    LOG_DEBUG("sender left before the answer", {"route", route_.name}, {"key", key_},
              {"outcome", outcomeName(outcome)});
  }
}

void Delivery::streamAnswer(const std::shared_ptr<ResponseSink>& sink, Response head) {
  if (!sink) {
    cancelBody();  // the sender left: stop reading the app
    return;
  }
  if (sink->streamsBodies()) {
    std::weak_ptr<Delivery> weak = weak_from_this();
    sink->respondHead(slot_, std::move(head), body_length_, [weak] {
      if (auto self = weak.lock(); self && self->body_) self->body_->resume();
    });
  } else {
    collected_ = std::move(head);
  }
  // The handler holds this delivery until the body ends; it is dropped then.
  auto self = shared_from_this();
  body_->start({[self](std::string_view bytes) { self->onBodyData(bytes); },
                [self] { self->onBodyEnd(); },
                [self](std::string error) { self->onBodyError(std::move(error)); }});
}

void Delivery::onBodyData(std::string_view bytes) {
  std::shared_ptr<ResponseSink> sink = sink_.lock();
  if (!sink) {
    cancelBody();
    return;
  }
  if (collected_) {
    if (collected_->body.size() + bytes.size() > context_.config.max_body_bytes) {
      cancelBody();
      collected_.reset();
      sink->abort(slot_);
      return;
    }
    collected_->body.append(bytes);
    return;
  }
  if (!sink->sendBody(slot_, bytes)) body_->pause();
}

void Delivery::onBodyEnd() {
  body_.reset();
  std::shared_ptr<ResponseSink> sink = sink_.lock();
  if (!sink) return;
  if (collected_) {
    sink->respond(slot_, std::move(*collected_));
    collected_.reset();
  } else {
    sink->finishBody(slot_);
  }
}

void Delivery::onBodyError(std::string error) {
  body_.reset();
  collected_.reset();
  LOG_WARN("app broke off its answer's body; the sender's stream is cut", {"route", route_.name},
           {"key", key_}, {"error", error});
  if (std::shared_ptr<ResponseSink> sink = sink_.lock()) sink->abort(slot_);
}

void Delivery::cancelBody() {
  UpstreamBodyPtr body = std::move(body_);
  if (body) body->cancel();
}

}  // namespace dedup
