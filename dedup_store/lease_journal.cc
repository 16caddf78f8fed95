#include "dedup_store/lease_journal.h"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "common/log.h"
#include "dedup_store/rocksdb_writer.h"
#include "dedup_store/store_failure.h"

namespace dedup {
namespace {

// Record: magic u32 | key 16B | attempt u32 | created_ms i64 | zero u32 |
// check u32 (FNV-1a of the 36 bytes before it), little-endian.
constexpr size_t kRecordSize = 40;
constexpr uint32_t kMagic = 0x314a4c44;  // "DLJ1"
constexpr const char* kPrefix = "LEASES-";
constexpr const char* kSuffix = ".log";

uint32_t fnv1a(const uint8_t* data, size_t size) {
  uint32_t hash = 2166136261u;
  for (size_t i = 0; i < size; ++i) {
    hash ^= data[i];
    hash *= 16777619u;
  }
  return hash;
}

void putLittleEndian(uint8_t* out, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}

uint64_t getLittleEndian(const uint8_t* in, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i) value |= static_cast<uint64_t>(in[i]) << (8 * i);
  return value;
}

void encode(const JournaledLease& lease, uint8_t* out) {
  std::memset(out, 0, kRecordSize);
  putLittleEndian(out, kMagic, 4);
  std::memcpy(out + 4, lease.key.digest.data(), StoreKey::kSize);
  putLittleEndian(out + 20, lease.attempt, 4);
  putLittleEndian(out + 24, static_cast<uint64_t>(lease.created_ms), 8);
  putLittleEndian(out + 36, fnv1a(out, 36), 4);
}

// False for a torn or foreign record: it is skipped, never trusted.
bool decode(const uint8_t* in, JournaledLease& lease) {
  if (getLittleEndian(in, 4) != kMagic) return false;
  if (getLittleEndian(in + 36, 4) != fnv1a(in, 36)) return false;
  std::memcpy(lease.key.digest.data(), in + 4, StoreKey::kSize);
  lease.attempt = static_cast<uint32_t>(getLittleEndian(in + 20, 4));
  lease.created_ms = static_cast<int64_t>(getLittleEndian(in + 24, 8));
  return true;
}

std::string fileName(unsigned lane, LeaseJournal::Generation generation) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s%u-%06" PRIu64 "%s", kPrefix, lane, generation, kSuffix);
  return name;
}

// The generation of a journal file's name ("LEASES-<lane>-<generation>.log");
// 0 for any other name.
LeaseJournal::Generation generationOf(const std::string& name) {
  const size_t prefix = std::strlen(kPrefix);
  const size_t suffix = std::strlen(kSuffix);
  if (name.size() <= prefix + suffix || name.compare(0, prefix, kPrefix) != 0 ||
      name.compare(name.size() - suffix, suffix, kSuffix) != 0) {
    return 0;
  }
  const std::string middle = name.substr(prefix, name.size() - prefix - suffix);
  const size_t dash = middle.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == middle.size()) return 0;
  LeaseJournal::Generation generation = 0;
  for (size_t i = 0; i < middle.size(); ++i) {
    if (i == dash) continue;
    if (middle[i] < '0' || middle[i] > '9') return 0;
    if (i > dash) generation = generation * 10 + static_cast<uint64_t>(middle[i] - '0');
  }
  return generation;
}

Status readFile(rocksdb::FileSystem& fs, const std::string& path,
                std::unordered_map<StoreKey, JournaledLease, StoreKeyHash>& leases) {
  std::unique_ptr<rocksdb::FSSequentialFile> file;
  rocksdb::IOStatus s = fs.NewSequentialFile(path, rocksdb::FileOptions(), &file, nullptr);
  if (!s.ok()) return Status::IOError("lease journal " + path + ": " + s.ToString());
  uint8_t buffer[kRecordSize * 256];
  size_t skipped = 0;
  for (;;) {
    rocksdb::Slice read;
    s = file->Read(sizeof(buffer), rocksdb::IOOptions(), &read, reinterpret_cast<char*>(buffer),
                   nullptr);
    if (!s.ok()) return Status::IOError("lease journal " + path + ": " + s.ToString());
    if (read.empty()) break;
    const auto* data = reinterpret_cast<const uint8_t*>(read.data());
    // A record torn by a crash can only be the file's last one.
    const size_t records = read.size() / kRecordSize;
    for (size_t i = 0; i < records; ++i) {
      JournaledLease lease;
      if (!decode(data + i * kRecordSize, lease)) {
        ++skipped;
        continue;
      }
      auto [it, added] = leases.try_emplace(lease.key, lease);
      if (!added && lease.attempt > it->second.attempt) it->second = lease;
    }
    if (read.size() % kRecordSize != 0) break;
  }
  if (skipped != 0) {
    LOG_WARN("lease journal: records skipped", {"file", path},
             {"records", std::to_string(skipped)});
  }
  return Status::OK();
}

}  // namespace

class LeaseJournal::FileLeases {
 public:
  FileLeases(LeaseJournal& journal, Generation generation, std::string name)
      : journal(journal), generation(generation), name(std::move(name)) {}
  LeaseJournal& journal;  // outlives every lease recorded in it
  const Generation generation;
  const std::string name;
  std::atomic<uint64_t> live{0};         // recorded, not settled yet
  std::atomic<bool> rolled_over{false};  // no longer the current file
  std::atomic<bool> removed{false};
};

LeaseJournal::LeaseJournal(std::shared_ptr<rocksdb::FileSystem> fs, std::string dir,
                           StoreFailure& failure, LeaseJournalOptions options, unsigned lane,
                           Generation first_generation)
    : fs_(std::move(fs)),
      dir_(std::move(dir)),
      failure_(failure),
      options_(options),
      lane_(lane),
      first_generation_(first_generation) {}

LeaseJournal::~LeaseJournal() {
  MutexLock lock(mutex_);
  for (auto& writer : retired_) writer->Close(rocksdb::IOOptions(), nullptr).PermitUncheckedError();
  if (writer_ != nullptr) writer_->Close(rocksdb::IOOptions(), nullptr).PermitUncheckedError();
}

StatusOr<std::unique_ptr<LeaseJournal>> LeaseJournal::open(std::shared_ptr<rocksdb::FileSystem> fs,
                                                           std::string dir, StoreFailure& failure,
                                                           std::vector<JournaledLease>* left,
                                                           LeaseJournalOptions options) {
  rocksdb::IOStatus s = fs->CreateDirIfMissing(dir, rocksdb::IOOptions(), nullptr);
  if (!s.ok()) return Status::IOError("lease journal " + dir + ": " + s.ToString());
  std::vector<std::string> children;
  s = fs->GetChildren(dir, rocksdb::IOOptions(), &children, nullptr);
  if (!s.ok()) return Status::IOError("lease journal " + dir + ": " + s.ToString());

  std::unordered_map<StoreKey, JournaledLease, StoreKeyHash> leases;
  std::vector<std::string> recovered;
  Generation newest = 0;
  for (const std::string& child : children) {
    const Generation generation = generationOf(child);
    if (generation == 0) continue;
    const std::string path = dir + "/" + child;
    if (Status read = readFile(*fs, path, leases); !read.ok()) return read;
    recovered.push_back(path);
    newest = std::max(newest, generation);
  }
  std::unique_ptr<LeaseJournal> journal(
      new LeaseJournal(fs, dir, failure, options, /*lane=*/0, newest + 1));
  journal->recovered_ = std::move(recovered);
  left->clear();
  left->reserve(leases.size());
  for (auto& entry : leases) left->push_back(entry.second);

  MutexLock lock(journal->mutex_);
  if (Status started = journal->startFile(newest + 1); !started.ok()) return started;
  return journal;
}

StatusOr<std::unique_ptr<LeaseJournal>> LeaseJournal::openLane(unsigned lane) const {
  std::unique_ptr<LeaseJournal> journal(
      new LeaseJournal(fs_, dir_, failure_, options_, lane, first_generation_));
  MutexLock lock(journal->mutex_);
  if (Status started = journal->startFile(first_generation_); !started.ok()) return started;
  return journal;
}

Status LeaseJournal::dropRecovered() {
  for (const std::string& path : recovered_) {
    const rocksdb::IOStatus s = fs_->DeleteFile(path, rocksdb::IOOptions(), nullptr);
    if (!s.ok() && !s.IsNotFound()) {
      return Status::IOError("lease journal: cannot delete " + path + ": " + s.ToString());
    }
  }
  recovered_.clear();
  return Status::OK();
}

Status LeaseJournal::startFile(Generation generation) {
  const std::string name = dir_ + "/" + fileName(lane_, generation);
  std::unique_ptr<rocksdb::FSWritableFile> writer;
  const rocksdb::IOStatus s = fs_->NewWritableFile(name, rocksdb::FileOptions(), &writer, nullptr);
  if (!s.ok()) return Status::IOError("lease journal " + name + ": " + s.ToString());
  if (writer_ != nullptr) retired_.push_back(std::move(writer_));
  writer_ = std::move(writer);
  FileRef previous = current_ != 0 ? files_[current_] : nullptr;
  files_[generation] = std::make_shared<FileLeases>(*this, generation, name);
  current_ = generation;
  current_bytes_ = 0;
  if (previous != nullptr) {
    previous->rolled_over = true;
    // Its leases all settled already: nothing in it is needed any more.
    if (previous->live == 0) {
      files_.erase(previous->generation);
      removeFile(previous);
    }
  }
  return Status::OK();
}

StatusOr<LeaseJournal::FileRef> LeaseJournal::record(const JournaledLease& lease) {
  uint8_t bytes[kRecordSize];
  encode(lease, bytes);
  MutexLock lock(mutex_);
  if (failure_.failed()) return failure_.status();
  if (writer_ == nullptr) return Status::Unavailable("store closed");
  if (current_bytes_ >= options_.rotate_bytes) {
    if (Status started = startFile(current_ + 1); !started.ok()) {
      failure_.fail(started);
      return started;
    }
  }
  const rocksdb::IOStatus s =
      writer_->Append(rocksdb::Slice(reinterpret_cast<const char*>(bytes), kRecordSize),
                      rocksdb::IOOptions(), nullptr);
  if (!s.ok()) {
    const Status failed = Status::IOError("lease journal write: " + s.ToString());
    LOG_ERROR("dedup store write failed: the store stops for good", {"error", failed.ToString()});
    failure_.fail(failed);
    return failed;
  }
  current_bytes_ += kRecordSize;
  dirty_ = true;
  FileRef file = files_[current_];
  ++file->live;
  return file;
}

void LeaseJournal::settle(const FileRef& file) {
  if (file != nullptr) file->journal.settleFile(file);
}

void LeaseJournal::settleFile(const FileRef& file) {
  if (--file->live == 0 && file->rolled_over) {
    {
      MutexLock lock(mutex_);
      files_.erase(file->generation);
    }
    removeFile(file);
  }
}

void LeaseJournal::removeFile(const FileRef& file) {
  if (file->removed.exchange(true)) return;
  const rocksdb::IOStatus s = fs_->DeleteFile(file->name, rocksdb::IOOptions(), nullptr);
  if (!s.ok() && !s.IsNotFound()) {
    // Left behind, it only makes its keys' next deliveries count one more
    // attempt after a restart.
    LOG_WARN("lease journal: cannot delete a settled file", {"file", file->name},
             {"error", s.ToString()});
  }
}

Status LeaseJournal::syncUnsynced(bool force, std::chrono::steady_clock::time_point now) {
  MutexLock sync_lock(sync_mutex_);
  std::vector<std::unique_ptr<rocksdb::FSWritableFile>> retired;
  rocksdb::FSWritableFile* current;
  {
    MutexLock lock(mutex_);
    // The first sync is always due (the steady clock's epoch may be recent).
    if (!dirty_ || (!force && last_sync_ && now - *last_sync_ < options_.sync_interval)) {
      return Status::OK();
    }
    if (failure_.failed()) return failure_.status();
    retired.swap(retired_);
    current = writer_.get();  // replaced only into retired_, which this sync empties next time
    dirty_ = false;
    last_sync_ = now;
  }
  rocksdb::IOStatus s;
  for (auto& writer : retired) {
    if (s.ok()) s = writer->Sync(rocksdb::IOOptions(), nullptr);
    writer->Close(rocksdb::IOOptions(), nullptr).PermitUncheckedError();
  }
  if (s.ok()) s = current->Sync(rocksdb::IOOptions(), nullptr);
  if (!s.ok()) {
    const Status failed = Status::IOError("lease journal sync: " + s.ToString());
    LOG_ERROR("dedup store sync failed: the store stops for good", {"error", failed.ToString()});
    failure_.fail(failed);
    return failed;
  }
  return Status::OK();
}

Status LeaseJournal::syncIfDue(std::chrono::steady_clock::time_point now) {
  return syncUnsynced(false, now);
}

Status LeaseJournal::sync() { return syncUnsynced(true, std::chrono::steady_clock::now()); }

Status LeaseJournal::dropAll() {
  if (Status dropped = dropRecovered(); !dropped.ok()) return dropped;
  MutexLock sync_lock(sync_mutex_);
  MutexLock lock(mutex_);
  for (auto& writer : retired_) writer->Close(rocksdb::IOOptions(), nullptr).PermitUncheckedError();
  retired_.clear();
  if (writer_ != nullptr) writer_->Close(rocksdb::IOOptions(), nullptr).PermitUncheckedError();
  writer_.reset();
  for (auto& [generation, file] : files_) removeFile(file);
  files_.clear();
  current_ = 0;
  return Status::OK();
}

size_t LeaseJournal::files() const {
  MutexLock lock(mutex_);
  return files_.size() + recovered_.size();
}

LeaseJournalLanes::LeaseJournalLanes(std::unique_ptr<LeaseJournal> first)
    : first_(std::move(first)) {}

LeaseJournal& LeaseJournalLanes::add() {
  MutexLock lock(lanes_mutex_);
  StatusOr<std::unique_ptr<LeaseJournal>> lane =
      first_->openLane(static_cast<unsigned>(lanes_.size() + 1));
  if (!lane.ok()) {
    LOG_ERROR("lease journal: cannot start a lane; this worker shares the first",
              {"error", lane.status().ToString()});
    return *first_;
  }
  lanes_.push_back(std::move(*lane));
  return *lanes_.back();
}

Status LeaseJournalLanes::syncIfDue(std::chrono::steady_clock::time_point now) {
  Status status = first_->syncIfDue(now);
  MutexLock lock(lanes_mutex_);
  for (auto& lane : lanes_) {
    if (status.ok()) status = lane->syncIfDue(now);
  }
  return status;
}

Status LeaseJournalLanes::dropAll() {
  Status status = first_->dropAll();
  MutexLock lock(lanes_mutex_);
  for (auto& lane : lanes_) {
    const Status dropped = lane->dropAll();
    if (status.ok()) status = dropped;
  }
  return status;
}

}  // namespace dedup
