#include "fault_injection_fs.h"

#include <filesystem>
#include <system_error>

namespace dedup::testing {
namespace {

bool matches(const std::string& name, const std::string& suffix) {
  return name.size() >= suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

rocksdb::IOStatus injected(FaultInjectionFs::Error error, const char* what) {
  if (error == FaultInjectionFs::Error::kNoSpace) {
    return rocksdb::IOStatus::NoSpace(std::string("injected ENOSPC on ") + what);
  }
  return rocksdb::IOStatus::IOError(std::string("injected EIO on ") + what);
}

}  // namespace

// A writable file that reports its appends and syncs to the file system.
class FaultInjectionFs::File final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  File(FaultInjectionFs& fs, std::string name, std::unique_ptr<rocksdb::FSWritableFile> target,
       uint64_t size)
      : FSWritableFileOwnerWrapper(std::move(target)),
        fs_(fs),
        name_(std::move(name)),
        size_(size) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_.beforeAppend(name_);
    if (!s.ok()) return s;
    s = target()->Append(data, options, dbg);
    if (s.ok()) fs_.appended(name_, size_ += data.size());
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& /*info*/,
                           rocksdb::IODebugContext* dbg) override {
    return Append(data, options, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fs_.beforeAppend(name_);
    if (!s.ok()) return s;
    s = target()->PositionedAppend(data, offset, options, dbg);
    if (s.ok()) {
      size_ = std::max(size_, offset + data.size());
      fs_.appended(name_, size_);
    }
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& /*info*/,
                                     rocksdb::IODebugContext* dbg) override {
    return PositionedAppend(data, offset, options, dbg);
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->Truncate(size, options, dbg);
    if (s.ok()) fs_.appended(name_, size_ = size);
    return s;
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    return sync([&] { return target()->Sync(options, dbg); });
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return sync([&] { return target()->Fsync(options, dbg); });
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    return target()->Close(options, dbg);
  }

 private:
  template <typename Fn>
  rocksdb::IOStatus sync(Fn fn) {
    rocksdb::IOStatus s = fs_.beforeSync(name_);
    if (!s.ok()) return s;
    s = fn();
    if (s.ok()) fs_.synced(name_);
    return s;
  }

  FaultInjectionFs& fs_;
  const std::string name_;
  uint64_t size_;
};

FaultInjectionFs::FaultInjectionFs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

void FaultInjectionFs::failSyncs(Error error, std::string suffix) {
  std::lock_guard<std::mutex> lock(mutex_);
  sync_error_ = error;
  sync_suffix_ = std::move(suffix);
}

void FaultInjectionFs::failAppends(Error error, std::string suffix) {
  std::lock_guard<std::mutex> lock(mutex_);
  append_error_ = error;
  append_suffix_ = std::move(suffix);
}

void FaultInjectionFs::blockSyncs(bool blocked) {
  std::lock_guard<std::mutex> lock(mutex_);
  syncs_blocked_ = blocked;
  gate_opened_.notify_all();
}

void FaultInjectionFs::blockAppends(bool blocked, std::string suffix) {
  std::lock_guard<std::mutex> lock(mutex_);
  appends_blocked_ = blocked;
  blocked_append_suffix_ = std::move(suffix);
  gate_opened_.notify_all();
}

int FaultInjectionFs::blockedCalls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiting_;
}

uint64_t FaultInjectionFs::syncs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return syncs_;
}

uint64_t FaultInjectionFs::walSyncs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return wal_syncs_;
}

void FaultInjectionFs::cutPower() {
  std::lock_guard<std::mutex> lock(mutex_);
  power_cut_ = true;
  syncs_blocked_ = false;
  appends_blocked_ = false;
  gate_opened_.notify_all();
}

bool FaultInjectionFs::powerCut() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return power_cut_;
}

void FaultInjectionFs::applyPowerCut() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, file] : files_) {
    std::error_code error;
    if (!file.ever_synced) {
      std::filesystem::remove(name, error);
    } else if (std::filesystem::exists(name, error) &&
               std::filesystem::file_size(name, error) > file.synced) {
      std::filesystem::resize_file(name, file.synced, error);
    }
  }
  files_.clear();
  power_cut_ = false;
  sync_error_ = append_error_ = Error::kNone;
}

rocksdb::IOStatus FaultInjectionFs::beforeAppend(const std::string& name) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (appends_blocked_ && matches(name, blocked_append_suffix_)) {
    ++waiting_;
    gate_opened_.wait(lock, [&] { return !appends_blocked_; });
    --waiting_;
  }
  if (append_error_ != Error::kNone && matches(name, append_suffix_)) {
    return injected(append_error_, "append");
  }
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus FaultInjectionFs::beforeSync(const std::string& name) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (syncs_blocked_) {
    ++waiting_;
    gate_opened_.wait(lock, [&] { return !syncs_blocked_; });
    --waiting_;
  }
  if (sync_error_ != Error::kNone && matches(name, sync_suffix_)) {
    return injected(sync_error_, "sync");
  }
  return rocksdb::IOStatus::OK();
}

void FaultInjectionFs::appended(const std::string& name, uint64_t end) {
  std::lock_guard<std::mutex> lock(mutex_);
  files_[name].written = end;
}

void FaultInjectionFs::synced(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (power_cut_) return;  // the machine is gone: nothing more becomes durable
  if (matches(name, ".log")) ++wal_syncs_;
  Tracked& file = files_[name];
  file.synced = file.written;
  file.ever_synced = true;
  ++syncs_;
}

rocksdb::IOStatus FaultInjectionFs::wrap(const std::string& name, rocksdb::IOStatus opened,
                                         uint64_t size,
                                         std::unique_ptr<rocksdb::FSWritableFile>* result) {
  if (!opened.ok()) return opened;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Tracked& file = files_[name];
    file.written = size;
    // A file that existed before (reopened) had its old bytes on disk already.
    if (size > 0) {
      file.synced = std::max(file.synced, size);
      file.ever_synced = true;
    }
  }
  *result = std::make_unique<File>(*this, name, std::move(*result), size);
  return opened;
}

rocksdb::IOStatus FaultInjectionFs::NewWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    files_.erase(name);  // truncated: a new file
  }
  return wrap(name, target()->NewWritableFile(name, options, result, dbg), 0, result);
}

rocksdb::IOStatus FaultInjectionFs::ReopenWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  std::error_code error;
  const uint64_t size =
      std::filesystem::exists(name, error) ? std::filesystem::file_size(name, error) : 0;
  return wrap(name, target()->ReopenWritableFile(name, options, result, dbg), size, result);
}

rocksdb::IOStatus FaultInjectionFs::ReuseWritableFile(
    const std::string& name, const std::string& old_name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* dbg) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    files_.erase(old_name);
  }
  return wrap(name, target()->ReuseWritableFile(name, old_name, options, result, dbg), 0, result);
}

rocksdb::IOStatus FaultInjectionFs::RenameFile(const std::string& from, const std::string& to,
                                               const rocksdb::IOOptions& options,
                                               rocksdb::IODebugContext* dbg) {
  if (powerCut()) return rocksdb::IOStatus::OK();
  rocksdb::IOStatus s = target()->RenameFile(from, to, options, dbg);
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto node = files_.extract(from);
    files_.erase(to);
    if (!node.empty()) {
      node.key() = to;
      files_.insert(std::move(node));
    }
  }
  return s;
}

rocksdb::IOStatus FaultInjectionFs::DeleteFile(const std::string& name,
                                               const rocksdb::IOOptions& options,
                                               rocksdb::IODebugContext* dbg) {
  if (powerCut()) return rocksdb::IOStatus::OK();
  rocksdb::IOStatus s = target()->DeleteFile(name, options, dbg);
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    files_.erase(name);
  }
  return s;
}

}  // namespace dedup::testing
