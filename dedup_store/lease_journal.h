// LeaseJournal: the crash record of the leases a RocksDB store granted, so a
// lease never has to be written through the LSM only to be overwritten by its
// commit a moment later.
//
// Each grant appends one fixed 40-byte record (key digest, attempt, creation
// time, checksum) to the current file of its lane, with one write() and no
// fsync (a lane per worker and one for the store thread, so workers' appends
// share no lock: LeaseJournalLanes):
// it survives a crash of the process (the page cache keeps it), which is what
// DESIGN.md asks of the attempt count. The store thread syncs the journal at
// most every `sync_interval` when it syncs the WAL anyway (syncIfDue), so a
// lease older than that also survives a power cut.
//
// A lease is settled once its key's state is in the database for good (its
// commit synced, its release or its abandonment written); a journal file
// whose every lease settled, and that is no longer the current one, is
// deleted. Files roll over at `rotate_bytes`. Each lease holds its file's
// count of unsettled leases (FileRef), so settling takes no lock unless the
// file goes.
//
// At open, the records every earlier process left are read back: the store
// writes them into the database as lease records "left by a process that
// died" (so the next delivery is marked attempt + 1), syncs, and then calls
// dropRecovered().
//
// A failed write fails the store for good (store_failure.h), as a failed WAL
// write does: the caller gets the error.
//
// Thread-safety: every method from any thread; appends are serialized.
#pragma once

#include <rocksdb/file_system.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "dedup_store/dedup_store.h"

namespace dedup {

class StoreFailure;

struct JournaledLease {
  StoreKey key;
  uint32_t attempt = 1;
  int64_t created_ms = 0;
};

struct LeaseJournalOptions {
  size_t rotate_bytes = size_t{1} << 20;
  std::chrono::milliseconds sync_interval{100};
};

class LeaseJournal {
 public:
  using Generation = uint64_t;
  // A journal file's count of unsettled leases; null: no crash record.
  class FileLeases;
  using FileRef = std::shared_ptr<FileLeases>;

  // Opens `dir` (created if missing), reads back what earlier processes
  // left into `left` (for each key, its highest attempt), and starts lane 0.
  static StatusOr<std::unique_ptr<LeaseJournal>> open(std::shared_ptr<rocksdb::FileSystem> fs,
                                                      std::string dir, StoreFailure& failure,
                                                      std::vector<JournaledLease>* left,
                                                      LeaseJournalOptions options = {});
  // Another lane beside this one, in the same directory.
  StatusOr<std::unique_ptr<LeaseJournal>> openLane(unsigned lane) const;
  ~LeaseJournal();
  LeaseJournal(const LeaseJournal&) = delete;
  LeaseJournal& operator=(const LeaseJournal&) = delete;

  // Deletes the files read back by open(); call once what they held is
  // durable in the database.
  Status dropRecovered();

  // Appends the crash record of a grant; what to settle it with.
  StatusOr<FileRef> record(const JournaledLease& lease);
  // The lease recorded in `file` (of whichever lane) no longer needs its
  // crash record.
  static void settle(const FileRef& file);
  // Syncs the current file if it was written since its last sync and the
  // last sync is `sync_interval` old. A failed sync fails the store.
  Status syncIfDue(std::chrono::steady_clock::time_point now);
  // Syncs whatever is unsynced.
  Status sync();
  // At close, once the database holds every lease still held: deletes every
  // journal file; nothing is recorded after it.
  Status dropAll();

  // Files on disk now (for tests).
  size_t files() const;

 private:
  LeaseJournal(std::shared_ptr<rocksdb::FileSystem> fs, std::string dir, StoreFailure& failure,
               LeaseJournalOptions options, unsigned lane, Generation first_generation);
  void settleFile(const FileRef& file);
  Status startFile(Generation generation) REQUIRES(mutex_);
  // Deletes `file` once (whoever sees it rolled over with no lease left).
  void removeFile(const FileRef& file);
  // Syncs the current file (and closes those it replaced) if anything was
  // written since the last sync and, unless `force`, that sync is old enough.
  Status syncUnsynced(bool force, std::chrono::steady_clock::time_point now);

  const std::shared_ptr<rocksdb::FileSystem> fs_;
  const std::string dir_;
  StoreFailure& failure_;
  const LeaseJournalOptions options_;
  const unsigned lane_;
  // Every lane's first file: above anything an earlier process left.
  const Generation first_generation_;
  std::vector<std::string> recovered_;  // files read at open, deleted by dropRecovered()

  // Held across a sync, which never holds mutex_ (appends go on meanwhile);
  // taken before mutex_.
  Mutex sync_mutex_;
  mutable Mutex mutex_;
  std::map<Generation, FileRef> files_ GUARDED_BY(mutex_);
  std::unique_ptr<rocksdb::FSWritableFile> writer_ GUARDED_BY(mutex_);  // the current file's
  // Writers of files rolled over: synced and closed by the next sync, so a
  // sync in progress never sees its writer destroyed.
  std::vector<std::unique_ptr<rocksdb::FSWritableFile>> retired_ GUARDED_BY(mutex_);
  Generation current_ GUARDED_BY(mutex_) = 0;
  uint64_t current_bytes_ GUARDED_BY(mutex_) = 0;
  bool dirty_ GUARDED_BY(mutex_) = false;
  std::optional<std::chrono::steady_clock::time_point> last_sync_ GUARDED_BY(mutex_);
};

// The lanes of one store's journal: the first (the store thread's) and one
// per worker. Thread-safety: every method from any thread.
class LeaseJournalLanes {
 public:
  explicit LeaseJournalLanes(std::unique_ptr<LeaseJournal> first);
  LeaseJournal& first() { return *first_; }
  // A new lane, or the first one if its file cannot be created (the error
  // is logged; appends then share the first lane's lock).
  LeaseJournal& add();
  // LeaseJournal::syncIfDue() of every lane.
  Status syncIfDue(std::chrono::steady_clock::time_point now);
  // LeaseJournal::dropAll() of every lane.
  Status dropAll();

 private:
  const std::unique_ptr<LeaseJournal> first_;
  Mutex lanes_mutex_;
  std::vector<std::unique_ptr<LeaseJournal>> lanes_ GUARDED_BY(lanes_mutex_);
};

}  // namespace dedup
