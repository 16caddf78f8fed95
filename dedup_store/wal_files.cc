#include "dedup_store/wal_files.h"

#include "common/mutex.h"
#include "dedup_store/store_failure.h"

namespace dedup {
namespace {

bool isWal(const std::string& name) {
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0;
}

}  // namespace

// An open WAL file: in the set from creation until it closes.
class WalFiles::WalFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  WalFile(WalFiles& files, std::unique_ptr<rocksdb::FSWritableFile> target)
      : FSWritableFileOwnerWrapper(std::move(target)), files_(files) {}
  ~WalFile() override { files_.forget(this); }

  rocksdb::IOStatus Close(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    files_.forget(this);
    // What was written but not yet synced by the store thread must not be lost
    // with the file leaving the set; after a failure nothing is synced again.
    rocksdb::IOStatus synced =
        files_.failure_->failed() ? rocksdb::IOStatus::OK() : target()->Sync(options, dbg);
    rocksdb::IOStatus closed = target()->Close(options, dbg);
    return synced.ok() ? closed : synced;
  }

 private:
  WalFiles& files_;
};

WalFiles::WalFiles(const std::shared_ptr<rocksdb::FileSystem>& base, std::string db_path,
                   std::shared_ptr<const StoreFailure> failure)
    : FileSystemWrapper(base), db_path_(std::move(db_path)), failure_(std::move(failure)) {}

Status WalFiles::sync() {
  MutexLock lock(files_mutex_);
  for (WalFile* file : open_) {
    const rocksdb::IOStatus s = file->target()->Sync(rocksdb::IOOptions(), nullptr);
    if (!s.ok()) return Status::IOError("wal sync: " + s.ToString());
  }
  if (!directory_synced_) {
    // A new WAL file's name must be durable too.
    std::unique_ptr<rocksdb::FSDirectory> directory;
    rocksdb::IOStatus s =
        target()->NewDirectory(db_path_, rocksdb::IOOptions(), &directory, nullptr);
    if (s.ok()) s = directory->Fsync(rocksdb::IOOptions(), nullptr);
    if (!s.ok()) return Status::IOError("wal directory sync: " + s.ToString());
    directory_synced_ = true;
  }
  return Status::OK();
}

rocksdb::IOStatus WalFiles::track(const std::string& name, rocksdb::IOStatus opened,
                                  std::unique_ptr<rocksdb::FSWritableFile>* result) {
  if (!opened.ok() || !isWal(name)) return opened;
  auto file = std::make_unique<WalFile>(*this, std::move(*result));
  {
    MutexLock lock(files_mutex_);
    open_.insert(file.get());
    directory_synced_ = false;
  }
  *result = std::move(file);
  return opened;
}

void WalFiles::forget(WalFile* file) {
  MutexLock lock(files_mutex_);
  open_.erase(file);
}

rocksdb::IOStatus WalFiles::NewWritableFile(const std::string& name,
                                            const rocksdb::FileOptions& options,
                                            std::unique_ptr<rocksdb::FSWritableFile>* result,
                                            rocksdb::IODebugContext* dbg) {
  return track(name, target()->NewWritableFile(name, options, result, dbg), result);
}

rocksdb::IOStatus WalFiles::ReopenWritableFile(const std::string& name,
                                               const rocksdb::FileOptions& options,
                                               std::unique_ptr<rocksdb::FSWritableFile>* result,
                                               rocksdb::IODebugContext* dbg) {
  return track(name, target()->ReopenWritableFile(name, options, result, dbg), result);
}

rocksdb::IOStatus WalFiles::ReuseWritableFile(const std::string& name, const std::string& old_name,
                                              const rocksdb::FileOptions& options,
                                              std::unique_ptr<rocksdb::FSWritableFile>* result,
                                              rocksdb::IODebugContext* dbg) {
  return track(name, target()->ReuseWritableFile(name, old_name, options, result, dbg), result);
}

}  // namespace dedup
