// FaultInjectionFs: a rocksdb::FileSystem for tests that can make the disk
// misbehave on command, to prove what the store promises under faults:
//  - fail: Sync/Fsync or Append of matching files return EIO or ENOSPC;
//  - block: Sync/Fsync or Append of matching files wait at a gate until it
//    opens (a hung disk);
//  - power cut: after cutPower() nothing more becomes durable (writes and
//    syncs still happen, so RocksDB may go on "closing", but count for
//    nothing; renames and deletes are silent no-ops), and applyPowerCut()
//    then leaves on disk only what was synced before the cut: each file
//    written through this file system is truncated to the size it had at its
//    last successful sync, and files never synced are deleted.
//
// Files are matched by name suffix ("" = every file, ".log" = WAL files,
// ".sst" = table files). Only files created or reopened through this file
// system are tracked for the power cut; directory entries are taken as
// durable once the file was synced.
//
// Thread-safety: every method from any thread (RocksDB calls it from its own).
#pragma once

#include <rocksdb/file_system.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace dedup::testing {

class FaultInjectionFs : public rocksdb::FileSystemWrapper {
 public:
  enum class Error { kNone, kEio, kNoSpace };

  FaultInjectionFs();
  const char* Name() const override { return "FaultInjectionFs"; }

  // Faults from now on; Error::kNone clears them.
  void failSyncs(Error error, std::string suffix = "");
  void failAppends(Error error, std::string suffix = "");
  // Gates: while closed, matching calls wait. Opening lets them all through.
  void blockSyncs(bool blocked);
  void blockAppends(bool blocked, std::string suffix = "");
  // How many calls are waiting at a gate now.
  int blockedCalls() const;
  // Successful Sync/Fsync calls so far (of WAL files: walSyncs()).
  uint64_t syncs() const;
  uint64_t walSyncs() const;

  void cutPower();
  // After the store was closed (or abandoned): drops what was not synced and
  // makes the file system usable again, with no faults.
  void applyPowerCut();

  // rocksdb::FileSystem
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& name, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;

 private:
  class File;
  friend class File;

  struct Tracked {
    uint64_t written = 0;  // bytes appended so far
    uint64_t synced = 0;   // bytes durable
    bool ever_synced = false;
  };

  rocksdb::IOStatus wrap(const std::string& name, rocksdb::IOStatus opened, uint64_t size,
                         std::unique_ptr<rocksdb::FSWritableFile>* result);
  // Called by File around its operations.
  rocksdb::IOStatus beforeAppend(const std::string& name);
  rocksdb::IOStatus beforeSync(const std::string& name);
  void appended(const std::string& name, uint64_t end);
  void synced(const std::string& name);
  bool powerCut() const;

  mutable std::mutex mutex_;
  std::condition_variable gate_opened_;
  Error sync_error_ = Error::kNone;       // guarded by mutex_
  std::string sync_suffix_;               // guarded by mutex_
  Error append_error_ = Error::kNone;     // guarded by mutex_
  std::string append_suffix_;             // guarded by mutex_
  bool syncs_blocked_ = false;            // guarded by mutex_
  bool appends_blocked_ = false;          // guarded by mutex_
  std::string blocked_append_suffix_;     // guarded by mutex_
  int waiting_ = 0;                       // guarded by mutex_
  uint64_t syncs_ = 0;                    // guarded by mutex_
  uint64_t wal_syncs_ = 0;                // guarded by mutex_
  bool power_cut_ = false;                // guarded by mutex_
  std::map<std::string, Tracked> files_;  // guarded by mutex_
};

}  // namespace dedup::testing
