// WalFiles: a rocksdb::FileSystem layer that keeps hold of the open WAL files
// so the store thread can make them durable itself (fdatasync of each, and
// of the directory once a new one appeared) instead of calling
// DB::SyncWAL(). Every file whose name ends in ".log" opened through it is
// taken for a WAL file: other logs (the lease journal) use the file system
// underneath.
//
// Why: after a WAL write fails (ENOSPC, EIO), RocksDB's writer for that file
// asserts on its next use, and DB::SyncWAL() goes through that writer:
// Debian's RocksDB would abort. Syncing the files underneath RocksDB's writer never touches that
// writer. RocksDB's own syncs (of WAL files it closes, of table files) go on
// as before; a WAL file is also synced as it closes, so nothing written to it
// is left unsynced when it leaves the set (unless the store failed: then
// nothing is synced again).
//
// Thread-safety: every method from any thread; sync() serializes with WAL
// files opening and closing.
#pragma once

#include <rocksdb/file_system.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "common/mutex.h"
#include "common/status.h"

namespace dedup {

class StoreFailure;

class WalFiles : public rocksdb::FileSystemWrapper {
 public:
  // `db_path`: the directory holding the WAL files.
  WalFiles(const std::shared_ptr<rocksdb::FileSystem>& base, std::string db_path,
           std::shared_ptr<const StoreFailure> failure);
  const char* Name() const override { return "DedupWalFiles"; }

  // Makes everything written so far to every open WAL file durable.
  Status sync();

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

 private:
  class WalFile;
  friend class WalFile;

  rocksdb::IOStatus track(const std::string& name, rocksdb::IOStatus opened,
                          std::unique_ptr<rocksdb::FSWritableFile>* result);
  void forget(WalFile* file);

  const std::string db_path_;
  const std::shared_ptr<const StoreFailure> failure_;
  Mutex files_mutex_;
  std::set<WalFile*> open_ GUARDED_BY(files_mutex_);
  bool directory_synced_ GUARDED_BY(files_mutex_) = false;
};

}  // namespace dedup
