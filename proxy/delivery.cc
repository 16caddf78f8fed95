#include "proxy/delivery.h"

#include <algorithm>

#include "common/log.h"
#include "proxy/http1/hop_by_hop.h"
#include "proxy/local_response.h"
#include "proxy/profile_response.h"
#include "proxy/stored_response.h"

namespace dedup {
namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The key as the app sees it in Dedup-Key: as-is when it is visible ASCII
// (the common case), otherwise percent-encoded (RFC 3986), so a derived key
// (CloudEvents source and id, composites) can never break the header.
std::string headerSafeKey(const std::string& key) {
  const auto unsafe = [](unsigned char c) { return c < 0x20 || c >= 0x7f; };
  if (std::none_of(key.begin(), key.end(), unsafe)) return key;
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(key.size() * 3);
  for (unsigned char c : key) {
    if (unsafe(c) || c == '%') {
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
  // A durable commit is replayed on this thread, without a store round trip.
  if (std::optional<BeginResult> replay = context_.store.replayNow(begin_)) {
    context_.store_metrics.observe(StoreOp::kBegin, secondsSince(started));
    onBegin(std::move(*replay));
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
          // The app did acknowledge: the sender gets its answer. The key is not
          // remembered, so a later duplicate may reach the app again.
          self->context_.store_metrics.error(StoreOp::kCommit);
          LOG_ERROR("commit failed after the app acknowledged", {"route", self->route_.name},
                    {"key", self->key_}, {"error", outcome.status().ToString()},
                    {"answer", std::to_string(response.status)});
        } else if (*outcome == CommitOutcome::kLeaseLost) {
          self->route_.metrics->leaseLost();
          LOG_WARN("lease lost before commit: another delivery of this key took over",
                   {"route", self->route_.name}, {"key", self->key_});
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
      store_key_, token_,
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
  if (auto sink = sink_.lock()) {
    sink->respond(slot_, std::move(response));
  } else if (!key_.empty()) {
    LOG_DEBUG("sender left before the answer", {"route", route_.name}, {"key", key_},
              {"outcome", outcomeName(outcome)});
  }
}

}  // namespace dedup
