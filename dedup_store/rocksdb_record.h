// What the RocksDB store keeps per key, and the pure per-key state machine
// (DESIGN.md "The key's life") that decides each operation. Nothing here
// touches RocksDB or a clock: the store thread feeds in what it knows (the
// in-memory lease, the stored record, the time) and applies the decision, so
// every transition is unit-testable on its own.
//
// Stored value layout (little-endian, fixed width, one type byte first; the
// type byte also versions the layout, so a new layout takes a new type):
//   LEASE      0x01 | attempt u32 | token u64 | fingerprint 32B | created_ms i64
//   COMMITTED  0x02 | expires_at_ms i64 | attempt u32 | fingerprint 32B |
//              status u16 | content_type_len u32 | content_type |
//              [headers: stored_headers.h section, present iff bit 31 of
//              content_type_len is set] | body (rest)
//   RELEASED   0x03 | expires_at_ms i64 | attempt u32
// Times in records are wall-clock milliseconds since the Unix epoch.
//
// Thread-safety: free functions on values; TokenSource is not thread-safe
// (one per store thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/status.h"
#include "dedup_store/dedup_store.h"

namespace dedup {

// A lease left by a delivery in flight. Persisted so that the attempt number
// survives a crash: a lease found on disk but not in memory was left by a
// process that died.
struct LeaseRecord {
  uint32_t attempt = 1;
  LeaseToken token = 0;
  Fingerprint fingerprint{};
  int64_t created_ms = 0;
  bool operator==(const LeaseRecord&) const = default;
};

// A key the app acknowledged; visible while now < expires_at_ms.
struct CommittedRecord {
  int64_t expires_at_ms = 0;
  uint32_t attempt = 1;
  Fingerprint fingerprint{};
  StoredResponse response;  // response.status must fit in 16 bits
  bool operator==(const CommittedRecord&) const = default;
};

// A key whose delivery reached the app (or may have) without an ack: only the
// attempt count is kept, so the next delivery is told it is a repeat. Visible
// while now < expires_at_ms (the key's TTL from the release).
struct ReleasedRecord {
  int64_t expires_at_ms = 0;
  uint32_t attempt = 1;
  bool operator==(const ReleasedRecord&) const = default;
};

using StoredRecord = std::variant<LeaseRecord, CommittedRecord, ReleasedRecord>;

std::string encodeRecord(const LeaseRecord& record);
std::string encodeRecord(const CommittedRecord& record);
std::string encodeRecord(const ReleasedRecord& record);
std::string encodeRecord(const StoredRecord& record);
// Corruption (never a crash) when `value` is not exactly one valid record.
StatusOr<StoredRecord> decodeRecord(std::string_view value);

// Both payloads were fingerprinted, and differently: a Mismatch.
bool payloadDiffers(const Fingerprint& request, const Fingerprint& stored);

// Lease records carry the attempt count for crash recovery, so they are kept
// much longer than any lease; past this horizon one can only be garbage.
inline constexpr std::chrono::milliseconds kLeaseRecordHorizon = std::chrono::hours(24 * 7);

// For the compaction filter: true when `value` is an expired COMMITTED or
// RELEASED record, or a LEASE record created more than `lease_horizon` before `now_ms`.
// Undecodable values are kept (the read path reports them).
bool isDroppableRecord(std::string_view value, int64_t now_ms,
                       std::chrono::milliseconds lease_horizon = kLeaseRecordHorizon);

// The store thread's view of a lease it granted. Deadlines use the steady
// clock, so lease expiry does not jump with the wall clock.
struct LeaseEntry {
  LeaseToken token = 0;
  std::chrono::steady_clock::time_point deadline{};
  uint32_t attempt = 1;
  Fingerprint fingerprint{};
  int64_t created_ms = 0;                           // wall clock, for its lease record
  std::chrono::steady_clock::time_point granted{};  // for the time a delivery spends at the app
};

struct Now {
  int64_t wall_ms = 0;                           // for record expiry
  std::chrono::steady_clock::time_point steady;  // for lease deadlines
};

// Lease tokens: a random start, then +1 each time, skipping 0.
class TokenSource {
 public:
  TokenSource();  // seeded from std::random_device
  explicit TokenSource(uint64_t start) : next_(start) {}
  LeaseToken next();

 private:
  uint64_t next_;
};

struct BeginDecision {
  BeginResult result;
  // Set iff result.outcome == kNew: the lease to keep in memory and persist.
  std::optional<LeaseEntry> granted;
};

// `lease`: the in-memory lease for the key, if any. `stored`: what the
// database holds for it; consulted only when there is no in-memory lease
// (which is the source of truth while present).
BeginDecision decideBegin(const BeginRequest& request, const LeaseEntry* lease,
                          const StoredRecord* stored, const Now& now, TokenSource& tokens);

struct CommitDecision {
  CommitOutcome outcome = CommitOutcome::kLeaseLost;
  // Set iff outcome == kCommitted: the record to persist (with sync), after
  // which the in-memory lease is dropped.
  std::optional<CommittedRecord> record;
};

// A lease with `token` commits whether or not its deadline passed, as long as
// no one took it over. `ttl` is saturated, never overflows.
CommitDecision decideCommit(const LeaseEntry* lease, LeaseToken token, StoredResponse response,
                            std::chrono::milliseconds ttl, int64_t now_ms);

// Set when the token holds the lease: the record that replaces it, keeping
// the attempt count for `ttl` (saturated). nullopt: the release changes nothing.
std::optional<ReleasedRecord> decideRelease(const LeaseEntry* lease, LeaseToken token,
                                            std::chrono::milliseconds ttl, int64_t now_ms);

LeaseRecord toRecord(const LeaseEntry& lease, int64_t created_ms);

}  // namespace dedup
