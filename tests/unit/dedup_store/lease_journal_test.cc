// LeaseJournal: what a grant records is read back by the next process (the
// highest attempt per key), a torn tail is skipped, settled files go away,
// and a power cut keeps only what was synced.
#include "dedup_store/lease_journal.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "dedup_store/store_failure.h"
#include "fault_injection_fs.h"
#include "store_test_support.h"

namespace dedup {
namespace {

using testing::FaultInjectionFs;
using testing::TempDir;

JournaledLease lease(const std::string& key, uint32_t attempt, int64_t created_ms = 1000) {
  return JournaledLease{StoreKey::of("test", key), attempt, created_ms};
}

class LeaseJournalTest : public ::testing::Test {
 protected:
  std::vector<JournaledLease> reopen(LeaseJournalOptions options = {}) {
    journal.reset();
    std::vector<JournaledLease> left;
    StatusOr<std::unique_ptr<LeaseJournal>> opened =
        LeaseJournal::open(fs, dir.path() + "/leases", failure, &left, options);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (opened.ok()) journal = std::move(*opened);
    std::sort(left.begin(), left.end(), [](const JournaledLease& a, const JournaledLease& b) {
      return a.key.bytes() < b.key.bytes();
    });
    return left;
  }
  std::optional<JournaledLease> find(const std::vector<JournaledLease>& left,
                                     const std::string& key) {
    for (const JournaledLease& l : left) {
      if (l.key == StoreKey::of("test", key)) return l;
    }
    return std::nullopt;
  }
  size_t filesOnDisk() {
    size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path() + "/leases")) {
      files += entry.path().filename().string().rfind("LEASES-", 0) == 0;
    }
    return files;
  }

  TempDir dir;
  std::shared_ptr<FaultInjectionFs> fs = std::make_shared<FaultInjectionFs>();
  StoreFailure failure;
  std::unique_ptr<LeaseJournal> journal;
};

TEST_F(LeaseJournalTest, TheNextProcessReadsBackTheHighestAttemptPerKey) {
  EXPECT_TRUE(reopen().empty());
  ASSERT_TRUE(journal->record(lease("a", 1, 111)).ok());
  ASSERT_TRUE(journal->record(lease("b", 1)).ok());
  ASSERT_TRUE(journal->record(lease("a", 3, 333)).ok());  // a takeover
  ASSERT_TRUE(journal->record(lease("a", 2)).ok());

  const std::vector<JournaledLease> left = reopen();  // no sync, no close: a crashed process
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(find(left, "a")->attempt, 3u);
  EXPECT_EQ(find(left, "a")->created_ms, 333);
  EXPECT_EQ(find(left, "b")->attempt, 1u);

  ASSERT_TRUE(journal->dropRecovered().ok());
  EXPECT_TRUE(reopen().empty()) << "what the database took over is not read again";
}

TEST_F(LeaseJournalTest, ATornOrCorruptRecordIsSkippedNotTrusted) {
  reopen();
  ASSERT_TRUE(journal->record(lease("whole", 1)).ok());
  ASSERT_TRUE(journal->record(lease("flipped", 1)).ok());
  journal.reset();
  std::string file;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() + "/leases")) {
    file = entry.path();
  }
  ASSERT_FALSE(file.empty());
  {
    std::FILE* f = std::fopen(file.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 40 + 21, SEEK_SET);  // inside the second record's attempt
    std::fputc(0x7f, f);
    std::fseek(f, 0, SEEK_END);
    std::fputs("torn-record", f);  // a crash in the middle of an append
    std::fclose(f);
  }
  const std::vector<JournaledLease> left = reopen();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_TRUE(find(left, "whole").has_value());
}

TEST_F(LeaseJournalTest, AFileGoesOnceRolledOverAndEveryLeaseInItSettled) {
  LeaseJournalOptions small;
  small.rotate_bytes = 3 * 40;  // three records a file
  reopen(small);
  std::vector<LeaseJournal::FileRef> files;
  for (int i = 0; i < 7; ++i) {
    StatusOr<LeaseJournal::FileRef> file = journal->record(lease("k" + std::to_string(i), 1));
    ASSERT_TRUE(file.ok());
    files.push_back(*file);
  }
  EXPECT_EQ(files.front(), files[2]);
  EXPECT_NE(files[2], files[3]);
  EXPECT_EQ(filesOnDisk(), 3u);

  for (int i = 0; i < 3; ++i) journal->settle(files[i]);
  EXPECT_EQ(filesOnDisk(), 2u) << "the first file's leases all settled";
  journal->settle(files[6]);  // the current file stays, settled or not
  EXPECT_EQ(filesOnDisk(), 2u);

  const std::vector<JournaledLease> left = reopen(small);
  EXPECT_EQ(left.size(), 4u) << "k3, k4, k5 and k6 (its file was still current)";
  EXPECT_FALSE(find(left, "k0").has_value());
}

TEST_F(LeaseJournalTest, APowerCutKeepsWhatWasSyncedAndNothingElse) {
  LeaseJournalOptions options;
  options.sync_interval = std::chrono::hours(1);
  reopen(options);
  ASSERT_TRUE(journal->record(lease("synced", 1)).ok());
  ASSERT_TRUE(journal->syncIfDue(std::chrono::steady_clock::now()).ok())
      << "the first sync is due at once";
  ASSERT_TRUE(journal->record(lease("unsynced", 1)).ok());
  ASSERT_TRUE(journal->syncIfDue(std::chrono::steady_clock::now()).ok());  // not due: no sync

  fs->cutPower();
  journal.reset();
  fs->applyPowerCut();
  const std::vector<JournaledLease> left = reopen(options);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_TRUE(find(left, "synced").has_value());
}

TEST_F(LeaseJournalTest, LanesKeepFilesOfTheirOwnAndAreAllReadBack) {
  reopen();
  StatusOr<std::unique_ptr<LeaseJournal>> lane = journal->openLane(1);
  ASSERT_TRUE(lane.ok()) << lane.status().ToString();
  ASSERT_TRUE(journal->record(lease("first", 1)).ok());
  ASSERT_TRUE((*lane)->record(lease("second", 2)).ok());
  EXPECT_EQ(filesOnDisk(), 2u);
  lane->reset();

  const std::vector<JournaledLease> left = reopen();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(find(left, "second")->attempt, 2u);
}

TEST_F(LeaseJournalTest, ANewProcessNeverWritesOverTheFilesItReadBack) {
  reopen();
  ASSERT_TRUE(journal->record(lease("old", 1)).ok());
  ASSERT_EQ(reopen().size(), 1u);
  // Crashed again before the database took the old lease over: both count.
  ASSERT_TRUE(journal->record(lease("new", 1)).ok());
  StatusOr<std::unique_ptr<LeaseJournal>> lane = journal->openLane(1);
  ASSERT_TRUE(lane.ok());
  ASSERT_TRUE((*lane)->record(lease("newer", 1)).ok());
  lane->reset();
  EXPECT_EQ(reopen().size(), 3u);
}

TEST_F(LeaseJournalTest, AFailedWriteFailsTheStoreForGood) {
  reopen();
  fs->failAppends(FaultInjectionFs::Error::kNoSpace, ".log");
  StatusOr<LeaseJournal::FileRef> failed = journal->record(lease("full", 1));
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(failure.failed());
  fs->failAppends(FaultInjectionFs::Error::kNone);
  EXPECT_FALSE(journal->record(lease("after", 1)).ok()) << "nothing is recorded after a failure";
}

}  // namespace
}  // namespace dedup
