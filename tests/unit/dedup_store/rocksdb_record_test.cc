#include "dedup_store/rocksdb_record.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace dedup {
namespace {

using std::chrono::milliseconds;
using Outcome = BeginResult::Outcome;

Fingerprint fingerprintOf(uint8_t byte) {
  Fingerprint fp{};
  fp.fill(byte);
  return fp;
}

CommittedRecord committed(int64_t expires_at_ms, std::string content_type, std::string body,
                          Fingerprint fp = {}) {
  CommittedRecord r;
  r.expires_at_ms = expires_at_ms;
  r.attempt = 3;
  r.fingerprint = fp;
  r.response = StoredResponse{201, std::move(content_type), std::move(body)};
  return r;
}

// --- encoding ---------------------------------------------------------------

TEST(RocksDbRecordTest, RecordsRoundTrip) {
  const std::vector<StoredRecord> cases = {
      LeaseRecord{1, 1, {}, 0},
      LeaseRecord{std::numeric_limits<uint32_t>::max(), std::numeric_limits<uint64_t>::max(),
                  fingerprintOf(0xab), -5},
      committed(0, "", ""),
      committed(1'700'000'000'000, "application/json", "{\"ok\":true}", fingerprintOf(7)),
      committed(std::numeric_limits<int64_t>::max(), "text/plain", std::string("a\0b\xff", 4)),
      committed(-1, std::string(70000, 'c'), std::string(1 << 20, 'x')),
      ReleasedRecord{0, 1},
      ReleasedRecord{std::numeric_limits<int64_t>::max(), std::numeric_limits<uint32_t>::max()},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    StatusOr<StoredRecord> decoded = decodeRecord(encodeRecord(cases[i]));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_TRUE(*decoded == cases[i]);
  }
}

TEST(RocksDbRecordTest, ReplayedHeadersRoundTripAndCostNothingWhenAbsent) {
  CommittedRecord plain = committed(1'700'000'000'000, "application/json", "{}", fingerprintOf(7));
  CommittedRecord with = plain;
  with.response.headers = {
      {"Location", "/orders/1842"}, {"ETag", "\"v1\""},    {"X-Empty", ""},
      {"Set-Cookie", "a=1"},        {"Set-Cookie", "b=2"}, {"X-Long", std::string(300, 'v')}};
  const std::string plain_bytes = encodeRecord(plain);
  // Without headers: the layout as it always was (header, content type, body).
  EXPECT_EQ(plain_bytes.size(), 1 + 8 + 4 + 32 + 2 + 4 + 16 + 2);
  EXPECT_EQ(static_cast<uint8_t>(plain_bytes[1 + 8 + 4 + 32 + 2 + 3]), 0);
  const std::string with_bytes = encodeRecord(with);
  // With: a varint-sized section, each header varint name size, name,
  // varint value size, value; flagged by bit 31 of the content type length.
  size_t section = 0;
  for (const auto& [name, value] : with.response.headers) {
    section += 1 + name.size() + (value.size() < 128 ? 1 : 2) + value.size();
  }
  EXPECT_EQ(with_bytes.size(), plain_bytes.size() + 2 + section);
  EXPECT_EQ(static_cast<uint8_t>(with_bytes[1 + 8 + 4 + 32 + 2 + 3]), 0x80);
  for (const CommittedRecord& r : {plain, with}) {
    StatusOr<StoredRecord> decoded = decodeRecord(encodeRecord(r));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_TRUE(std::get<CommittedRecord>(*decoded) == r);
  }
  // Every truncation inside the header section is caught.
  const size_t section_start = plain_bytes.size() - 2;
  for (size_t size = section_start; size < section_start + 2 + section; ++size) {
    EXPECT_FALSE(decodeRecord(with_bytes.substr(0, size)).ok()) << size;
  }
}

TEST(RocksDbRecordTest, LeaseLayoutIsLittleEndianFixedWidth) {
  LeaseRecord r{0x01020304, 0x1112131415161718, fingerprintOf(0xee), 0x2122232425262728};
  const std::string bytes = encodeRecord(r);
  std::string want;
  want += '\x01';
  want += std::string("\x04\x03\x02\x01", 4);
  want += std::string("\x18\x17\x16\x15\x14\x13\x12\x11", 8);
  want += std::string(32, '\xee');
  want += std::string("\x28\x27\x26\x25\x24\x23\x22\x21", 8);
  EXPECT_EQ(bytes, want);
}

TEST(RocksDbRecordTest, ReleasedLayoutIsLittleEndianFixedWidth) {
  const std::string bytes = encodeRecord(ReleasedRecord{0x2122232425262728, 0x01020304});
  std::string want;
  want += '\x03';
  want += std::string("\x28\x27\x26\x25\x24\x23\x22\x21", 8);
  want += std::string("\x04\x03\x02\x01", 4);
  EXPECT_EQ(bytes, want);
  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_FALSE(decodeRecord(bytes.substr(0, size)).ok()) << size;
  }
  EXPECT_FALSE(decodeRecord(bytes + "x").ok());
}

TEST(RocksDbRecordTest, CommittedLayoutIsLittleEndianFixedWidth) {
  const std::string bytes = encodeRecord(committed(0x0102, "ct", "body"));
  std::string want;
  want += '\x02';
  want += std::string("\x02\x01\0\0\0\0\0\0", 8);  // expires_at_ms
  want += std::string("\x03\0\0\0", 4);            // attempt
  want += std::string(32, '\0');                   // fingerprint
  want += std::string("\xc9\0", 2);                // status 201
  want += std::string("\x02\0\0\0", 4);            // content type length
  want += "ctbody";
  EXPECT_EQ(bytes, want);
}

TEST(RocksDbRecordTest, CorruptValuesAreRejectedNotTrusted) {
  const std::string lease = encodeRecord(LeaseRecord{2, 9, fingerprintOf(1), 100});
  const std::string commit = encodeRecord(committed(5, "text/plain", "hello"));
  std::string huge_length = commit;
  huge_length.replace(1 + 8 + 4 + 32 + 2, 4, "\xff\xff\xff\xff");
  std::string long_length = commit;
  long_length.replace(1 + 8 + 4 + 32 + 2, 4, std::string("\x10\0\0\0", 4));  // 16 > 15 left

  const struct {
    const char* name;
    std::string value;
  } cases[] = {
      {"empty", ""},
      {"unknown type", std::string("\x07", 1) + lease.substr(1)},
      {"type zero", std::string(1, '\0')},
      {"lease without body", lease.substr(0, 1)},
      {"lease one byte short", lease.substr(0, lease.size() - 1)},
      {"lease with trailing byte", lease + "x"},
      {"committed header cut", commit.substr(0, 20)},
      {"committed without length", commit.substr(0, 1 + 8 + 4 + 32 + 2)},
      {"content type length beyond end", long_length},
      {"content type length overflow", huge_length},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    StatusOr<StoredRecord> decoded = decodeRecord(c.value);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), Status::Code::kCorruption);
  }
}

TEST(RocksDbRecordTest, EveryTruncationOfACommittedRecordIsDetectedOrShorter) {
  const std::string full = encodeRecord(committed(5, "text/plain", "hello"));
  const size_t header_and_type = 1 + 8 + 4 + 32 + 2 + 4 + std::string("text/plain").size();
  for (size_t size = 0; size < full.size(); ++size) {
    SCOPED_TRACE(size);
    StatusOr<StoredRecord> decoded = decodeRecord(full.substr(0, size));
    if (size < header_and_type) {
      EXPECT_FALSE(decoded.ok());
    } else {
      // The body is "the rest": a cut body still decodes, only shorter.
      ASSERT_TRUE(decoded.ok());
      EXPECT_EQ(std::get<CommittedRecord>(*decoded).response.body.size(), size - header_and_type);
    }
  }
}

TEST(RocksDbRecordTest, DroppableRecords) {
  const int64_t now = 1'000'000'000;
  const milliseconds horizon{1000};
  const struct {
    const char* name;
    std::string value;
    bool droppable;
  } cases[] = {
      {"committed expired", encodeRecord(committed(now - 1, "", "")), true},
      {"committed expiring now", encodeRecord(committed(now, "", "")), true},
      {"committed live", encodeRecord(committed(now + 1, "", "")), false},
      {"lease within horizon", encodeRecord(LeaseRecord{1, 1, {}, now - 999}), false},
      {"lease past horizon", encodeRecord(LeaseRecord{1, 1, {}, now - 1000}), true},
      {"lease far in the future", encodeRecord(LeaseRecord{1, 1, {}, INT64_MAX}), false},
      {"released expired", encodeRecord(ReleasedRecord{now, 2}), true},
      {"released live", encodeRecord(ReleasedRecord{now + 1, 2}), false},
      {"corrupt is kept", "\x02short", false},
      {"empty is kept", "", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(isDroppableRecord(c.value, now, horizon), c.droppable);
  }
}

// --- the key state machine --------------------------------------------------

class KeyStateTest : public ::testing::Test {
 protected:
  Now now{5'000'000, std::chrono::steady_clock::time_point(std::chrono::hours(10))};
  TokenSource tokens{100};

  LeaseEntry lease(LeaseToken token, milliseconds time_left, uint32_t attempt = 1) {
    return LeaseEntry{token, now.steady + time_left, attempt, fingerprintOf(1)};
  }
  BeginRequest request(Fingerprint fp = {}) {
    BeginRequest r;
    r.key = StoreKey::of("s", "k");
    r.fingerprint = fp;
    r.lease = milliseconds(30000);
    return r;
  }
};

TEST_F(KeyStateTest, BeginDecisions) {
  const LeaseEntry live = lease(7, milliseconds(1500), 2);
  const LeaseEntry expired = lease(7, milliseconds(-1), 2);
  const StoredRecord stored_lease = LeaseRecord{4, 3, {}, 0};
  const StoredRecord stored_live = committed(now.wall_ms + 1, "t", "b", fingerprintOf(9));
  const StoredRecord stored_unfingerprinted = committed(now.wall_ms + 1, "t", "b");
  const StoredRecord stored_expired = committed(now.wall_ms, "t", "b", fingerprintOf(9));
  const StoredRecord released_live = ReleasedRecord{now.wall_ms + 1, 2};
  const StoredRecord released_expired = ReleasedRecord{now.wall_ms, 2};

  const struct {
    const char* name;
    const LeaseEntry* lease;
    const StoredRecord* stored;
    Fingerprint fp;
    Outcome outcome;
    uint32_t attempt;  // checked for kNew
  } cases[] = {
      {"absent", nullptr, nullptr, {}, Outcome::kNew, 1},
      {"live lease", &live, nullptr, {}, Outcome::kInFlight, 0},
      {"memory lease wins over the database", &live, &stored_live, {}, Outcome::kInFlight, 0},
      {"expired lease is taken over", &expired, nullptr, {}, Outcome::kNew, 3},
      {"lease left by a dead process", nullptr, &stored_lease, {}, Outcome::kNew, 5},
      {"committed", nullptr, &stored_live, fingerprintOf(9), Outcome::kCommitted, 0},
      {"committed, request not fingerprinted", nullptr, &stored_live, {}, Outcome::kCommitted, 0},
      {"committed, record not fingerprinted", nullptr, &stored_unfingerprinted, fingerprintOf(2),
       Outcome::kCommitted, 0},
      {"fingerprints differ", nullptr, &stored_live, fingerprintOf(2), Outcome::kMismatch, 0},
      {"committed but expired is absent", nullptr, &stored_expired, fingerprintOf(2), Outcome::kNew,
       1},
      {"released counts the attempts that reached the app",
       nullptr,
       &released_live,
       {},
       Outcome::kNew,
       3},
      {"released but expired is absent", nullptr, &released_expired, {}, Outcome::kNew, 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const BeginDecision d = decideBegin(request(c.fp), c.lease, c.stored, now, tokens);
    EXPECT_EQ(d.result.outcome, c.outcome);
    EXPECT_EQ(d.granted.has_value(), c.outcome == Outcome::kNew);
    if (c.outcome == Outcome::kNew) {
      EXPECT_EQ(d.result.attempt, c.attempt);
      EXPECT_NE(d.result.token, 0u);
      EXPECT_EQ(d.granted->token, d.result.token);
      EXPECT_EQ(d.granted->attempt, c.attempt);
      EXPECT_EQ(d.granted->deadline, now.steady + milliseconds(30000));
      EXPECT_EQ(d.granted->fingerprint, c.fp);
    }
    if (c.outcome == Outcome::kCommitted) {
      ASSERT_TRUE(d.result.response.has_value());
      EXPECT_EQ(*d.result.response, (StoredResponse{201, "t", "b"}));
    } else {
      EXPECT_FALSE(d.result.response.has_value());
    }
  }
}

TEST_F(KeyStateTest, InFlightRetryAfterIsTimeLeftRoundedUp) {
  LeaseEntry l = lease(7, milliseconds(1500));
  EXPECT_EQ(decideBegin(request(), &l, nullptr, now, tokens).result.retry_after,
            milliseconds(1500));
  l.deadline = now.steady + std::chrono::microseconds(10);
  const BeginDecision d = decideBegin(request(), &l, nullptr, now, tokens);
  EXPECT_EQ(d.result.outcome, Outcome::kInFlight);
  EXPECT_EQ(d.result.retry_after, milliseconds(1));
}

TEST_F(KeyStateTest, TakeoverGetsAFreshToken) {
  const LeaseEntry expired = lease(tokens.next(), milliseconds(0), 1);
  const BeginDecision d = decideBegin(request(), &expired, nullptr, now, tokens);
  EXPECT_EQ(d.result.outcome, Outcome::kNew);
  EXPECT_NE(d.result.token, expired.token);
}

TEST_F(KeyStateTest, CommitDecisions) {
  const LeaseEntry live = lease(7, milliseconds(10), 2);
  const LeaseEntry expired = lease(7, milliseconds(-10), 2);
  const struct {
    const char* name;
    const LeaseEntry* lease;
    LeaseToken token;
    CommitOutcome outcome;
  } cases[] = {
      {"holder commits", &live, 7, CommitOutcome::kCommitted},
      {"late holder not taken over commits", &expired, 7, CommitOutcome::kCommitted},
      {"other token", &live, 8, CommitOutcome::kLeaseLost},
      {"no lease", nullptr, 7, CommitOutcome::kLeaseLost},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const CommitDecision d = decideCommit(c.lease, c.token, StoredResponse{200, "t", "body"},
                                          milliseconds(60000), now.wall_ms);
    EXPECT_EQ(d.outcome, c.outcome);
    ASSERT_EQ(d.record.has_value(), c.outcome == CommitOutcome::kCommitted);
    if (d.record) {
      EXPECT_EQ(d.record->expires_at_ms, now.wall_ms + 60000);
      EXPECT_EQ(d.record->attempt, 2u);
      EXPECT_EQ(d.record->fingerprint, fingerprintOf(1));
      EXPECT_EQ(d.record->response, (StoredResponse{200, "t", "body"}));
    }
  }
}

TEST_F(KeyStateTest, CommitTtlSaturates) {
  const LeaseEntry live = lease(7, milliseconds(10));
  const CommitDecision d =
      decideCommit(&live, 7, {}, milliseconds(std::numeric_limits<int64_t>::max()), now.wall_ms);
  ASSERT_TRUE(d.record.has_value());
  EXPECT_EQ(d.record->expires_at_ms, std::numeric_limits<int64_t>::max());
}

TEST_F(KeyStateTest, ReleaseKeepsTheAttemptCountForTheTtl) {
  const LeaseEntry live = lease(7, milliseconds(10), 4);
  const std::optional<ReleasedRecord> released =
      decideRelease(&live, 7, milliseconds(60000), now.wall_ms);
  ASSERT_TRUE(released.has_value());
  EXPECT_EQ(*released, (ReleasedRecord{now.wall_ms + 60000, 4}));
  EXPECT_FALSE(decideRelease(&live, 8, milliseconds(60000), now.wall_ms)) << "wrong token";
  EXPECT_FALSE(decideRelease(nullptr, 7, milliseconds(60000), now.wall_ms)) << "no lease";
  EXPECT_EQ(decideRelease(&live, 7, milliseconds(INT64_MAX), now.wall_ms)->expires_at_ms, INT64_MAX)
      << "saturates";
}

TEST(TokenSourceTest, IncrementsAndSkipsZero) {
  TokenSource tokens(std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(tokens.next(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(tokens.next(), 1u);
  EXPECT_EQ(tokens.next(), 2u);
  TokenSource from_zero(0);
  EXPECT_EQ(from_zero.next(), 1u);
}

TEST(TokenSourceTest, RandomStartsDiffer) {
  // Two sources agreeing on a 64-bit random start would be a broken seed.
  EXPECT_NE(TokenSource().next(), TokenSource().next());
}

}  // namespace
}  // namespace dedup
