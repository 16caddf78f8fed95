#include "dedup_store/rocksdb_record.h"

#include <cstring>
#include <limits>
#include <random>
#include <type_traits>

#include "dedup_store/stored_headers.h"

namespace dedup {
namespace {

constexpr uint8_t kLeaseType = 0x01;
constexpr uint8_t kCommittedType = 0x02;
constexpr uint8_t kReleasedType = 0x03;
constexpr size_t kReleasedSize = 1 + 8 + 4;
constexpr size_t kLeaseSize = 1 + 4 + 8 + 32 + 8;
constexpr size_t kCommittedHeaderSize = 1 + 8 + 4 + 32 + 2 + 4;  // up to content_type
// In content_type_len: a header section (stored_headers.h) follows the
// content type. Clear in records without replayed headers.
constexpr uint32_t kHeadersFollow = 0x80000000u;

template <typename T>
void putFixed(std::string& out, T value) {
  using U = std::make_unsigned_t<T>;
  const U bits = static_cast<U>(value);
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

// Reads fixed-width fields off the front of a value; every read is bounds
// checked, and a short read leaves the reader failed instead of crashing.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  template <typename T>
  T fixed() {
    using U = std::make_unsigned_t<T>;
    if (!has(sizeof(T))) return T{};
    U bits = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      bits |= static_cast<U>(static_cast<uint8_t>(data_[i])) << (8 * i);
    }
    data_.remove_prefix(sizeof(T));
    return static_cast<T>(bits);
  }
  Fingerprint fingerprint() {
    Fingerprint out{};
    if (!has(out.size())) return out;
    std::memcpy(out.data(), data_.data(), out.size());
    data_.remove_prefix(out.size());
    return out;
  }
  std::string bytes(size_t size) {
    if (!has(size)) return {};
    std::string out(data_.substr(0, size));
    data_.remove_prefix(size);
    return out;
  }
  std::string rest() { return bytes(data_.size()); }

  bool failed() const { return failed_; }
  size_t remaining() const { return data_.size(); }

 private:
  bool has(size_t size) {
    if (failed_ || data_.size() < size) failed_ = true;
    return !failed_;
  }

  std::string_view data_;
  bool failed_ = false;
};

int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return sum;
}

uint32_t nextAttempt(uint32_t attempt) {
  return attempt == std::numeric_limits<uint32_t>::max() ? attempt : attempt + 1;
}

bool fingerprinted(const Fingerprint& fp) {
  for (uint8_t b : fp) {
    if (b != 0) return true;
  }
  return false;
}

BeginDecision grant(const BeginRequest& request, uint32_t attempt, const Now& now,
                    TokenSource& tokens) {
  LeaseEntry lease;
  lease.token = tokens.next();
  lease.granted = now.steady;
  lease.deadline = now.steady + request.lease;
  lease.attempt = attempt;
  lease.fingerprint = request.fingerprint;
  lease.created_ms = now.wall_ms;

  BeginDecision decision;
  decision.result.outcome = BeginResult::Outcome::kNew;
  decision.result.token = lease.token;
  decision.result.attempt = attempt;
  decision.granted = lease;
  return decision;
}

}  // namespace

bool payloadDiffers(const Fingerprint& request, const Fingerprint& stored) {
  return fingerprinted(request) && fingerprinted(stored) && request != stored;
}

std::string encodeRecord(const LeaseRecord& record) {
  std::string out;
  out.reserve(kLeaseSize);
  out.push_back(static_cast<char>(kLeaseType));
  putFixed<uint32_t>(out, record.attempt);
  putFixed<uint64_t>(out, record.token);
  out.append(reinterpret_cast<const char*>(record.fingerprint.data()), record.fingerprint.size());
  putFixed<int64_t>(out, record.created_ms);
  return out;
}

std::string encodeRecord(const CommittedRecord& record) {
  const StoredResponse& response = record.response;
  std::string out;
  out.reserve(kCommittedHeaderSize + response.content_type.size() + response.body.size());
  out.push_back(static_cast<char>(kCommittedType));
  putFixed<int64_t>(out, record.expires_at_ms);
  putFixed<uint32_t>(out, record.attempt);
  out.append(reinterpret_cast<const char*>(record.fingerprint.data()), record.fingerprint.size());
  putFixed<uint16_t>(out, static_cast<uint16_t>(response.status));
  const auto content_type_size = static_cast<uint32_t>(response.content_type.size());
  putFixed<uint32_t>(
      out, response.headers.empty() ? content_type_size : content_type_size | kHeadersFollow);
  out.append(response.content_type);
  if (!response.headers.empty()) appendHeaderSection(out, response.headers);
  out.append(response.body);
  return out;
}

std::string encodeRecord(const ReleasedRecord& record) {
  std::string out;
  out.reserve(kReleasedSize);
  out.push_back(static_cast<char>(kReleasedType));
  putFixed<int64_t>(out, record.expires_at_ms);
  putFixed<uint32_t>(out, record.attempt);
  return out;
}

std::string encodeRecord(const StoredRecord& record) {
  return std::visit([](const auto& r) { return encodeRecord(r); }, record);
}

StatusOr<StoredRecord> decodeRecord(std::string_view value) {
  if (value.empty()) return Status::Corruption("empty dedup record");
  Reader in(value.substr(1));
  switch (static_cast<uint8_t>(value[0])) {
    case kLeaseType: {
      if (value.size() != kLeaseSize) {
        return Status::Corruption("lease record has " + std::to_string(value.size()) +
                                  " bytes, want " + std::to_string(kLeaseSize));
      }
      LeaseRecord r;
      r.attempt = in.fixed<uint32_t>();
      r.token = in.fixed<uint64_t>();
      r.fingerprint = in.fingerprint();
      r.created_ms = in.fixed<int64_t>();
      return StoredRecord(r);
    }
    case kCommittedType: {
      if (value.size() < kCommittedHeaderSize) {
        return Status::Corruption("committed record truncated at " + std::to_string(value.size()) +
                                  " bytes");
      }
      CommittedRecord r;
      r.expires_at_ms = in.fixed<int64_t>();
      r.attempt = in.fixed<uint32_t>();
      r.fingerprint = in.fingerprint();
      r.response.status = in.fixed<uint16_t>();
      const uint32_t content_type_field = in.fixed<uint32_t>();
      const uint32_t content_type_size = content_type_field & ~kHeadersFollow;
      if (content_type_size > in.remaining()) {
        return Status::Corruption("committed record: content type length " +
                                  std::to_string(content_type_size) + " exceeds the record");
      }
      r.response.content_type = in.bytes(content_type_size);
      if (content_type_field & kHeadersFollow) {
        std::string rest = in.rest();
        std::string_view section = rest;
        if (!readHeaderSection(section, r.response.headers)) {
          return Status::Corruption("committed record: bad replayed header section");
        }
        r.response.body = std::string(section);
      } else {
        r.response.body = in.rest();
      }
      if (in.failed()) return Status::Corruption("committed record truncated");
      return StoredRecord(std::move(r));
    }
    case kReleasedType: {
      if (value.size() != kReleasedSize) {
        return Status::Corruption("released record has " + std::to_string(value.size()) +
                                  " bytes, want " + std::to_string(kReleasedSize));
      }
      ReleasedRecord r;
      r.expires_at_ms = in.fixed<int64_t>();
      r.attempt = in.fixed<uint32_t>();
      return StoredRecord(r);
    }
    default:
      return Status::Corruption("unknown dedup record type " +
                                std::to_string(static_cast<uint8_t>(value[0])));
  }
}

bool isDroppableRecord(std::string_view value, int64_t now_ms,
                       std::chrono::milliseconds lease_horizon) {
  // Only the fixed header is needed; decoding the body would copy it.
  if (value.empty()) return false;
  Reader in(value.substr(1));
  switch (static_cast<uint8_t>(value[0])) {
    case kLeaseType: {
      if (value.size() != kLeaseSize) return false;
      in.fixed<uint32_t>();
      in.fixed<uint64_t>();
      in.fingerprint();
      const int64_t created_ms = in.fixed<int64_t>();
      return saturatingAdd(created_ms, lease_horizon.count()) <= now_ms;
    }
    case kCommittedType: {
      if (value.size() < kCommittedHeaderSize) return false;
      return in.fixed<int64_t>() <= now_ms;
    }
    case kReleasedType: {
      if (value.size() != kReleasedSize) return false;
      return in.fixed<int64_t>() <= now_ms;
    }
    default:
      return false;
  }
}

TokenSource::TokenSource() {
  std::random_device random;
  next_ = (static_cast<uint64_t>(random()) << 32) ^ random();
}

LeaseToken TokenSource::next() {
  if (next_ == 0) ++next_;
  return next_++;
}

BeginDecision decideBegin(const BeginRequest& request, const LeaseEntry* lease,
                          const StoredRecord* stored, const Now& now, TokenSource& tokens) {
  if (lease != nullptr) {
    if (lease->deadline > now.steady) {
      BeginDecision decision;
      decision.result.outcome = BeginResult::Outcome::kInFlight;
      // Rounded up: "retry after 0ms" while the lease is still live would
      // invite a busy loop.
      decision.result.retry_after =
          std::chrono::ceil<std::chrono::milliseconds>(lease->deadline - now.steady);
      return decision;
    }
    // The holder ran out of time; the earlier attempt may have reached the app.
    return grant(request, nextAttempt(lease->attempt), now, tokens);
  }
  if (stored == nullptr) return grant(request, 1, now, tokens);

  if (const auto* lease_record = std::get_if<LeaseRecord>(stored)) {
    // On disk but not in memory: left by a process that died mid-flight.
    return grant(request, nextAttempt(lease_record->attempt), now, tokens);
  }
  if (const auto* released = std::get_if<ReleasedRecord>(stored)) {
    // The earlier attempts reached the app (or may have) within the TTL.
    const uint32_t attempt =
        released->expires_at_ms > now.wall_ms ? nextAttempt(released->attempt) : 1;
    return grant(request, attempt, now, tokens);
  }
  const auto& committed = std::get<CommittedRecord>(*stored);
  if (committed.expires_at_ms <= now.wall_ms) return grant(request, 1, now, tokens);

  BeginDecision decision;
  if (payloadDiffers(request.fingerprint, committed.fingerprint)) {
    decision.result.outcome = BeginResult::Outcome::kMismatch;
    return decision;
  }
  decision.result.outcome = BeginResult::Outcome::kCommitted;
  decision.result.attempt = committed.attempt;
  decision.result.response = committed.response;
  return decision;
}

CommitDecision decideCommit(const LeaseEntry* lease, LeaseToken token, StoredResponse response,
                            std::chrono::milliseconds ttl, int64_t now_ms) {
  CommitDecision decision;
  if (lease == nullptr || lease->token != token) return decision;
  decision.outcome = CommitOutcome::kCommitted;
  CommittedRecord record;
  record.expires_at_ms = saturatingAdd(now_ms, ttl.count());
  record.attempt = lease->attempt;
  record.fingerprint = lease->fingerprint;
  record.response = std::move(response);
  decision.record = std::move(record);
  return decision;
}

std::optional<ReleasedRecord> decideRelease(const LeaseEntry* lease, LeaseToken token,
                                            std::chrono::milliseconds ttl, int64_t now_ms) {
  if (lease == nullptr || lease->token != token) return std::nullopt;
  ReleasedRecord record;
  record.expires_at_ms = saturatingAdd(now_ms, ttl.count());
  record.attempt = lease->attempt;
  return record;
}

LeaseRecord toRecord(const LeaseEntry& lease, int64_t created_ms) {
  LeaseRecord record;
  record.attempt = lease.attempt;
  record.token = lease.token;
  record.fingerprint = lease.fingerprint;
  record.created_ms = created_ms;
  return record;
}

}  // namespace dedup
