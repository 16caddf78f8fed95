#include "dedup_store/rocksdb_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <system_error>
#include <thread>

#include "common/log.h"
#include "common/mutex.h"
#include "dedup_store/deadline_store.h"
#include "dedup_store/lease_journal.h"
#include "dedup_store/lease_table.h"
#include "dedup_store/rocksdb_record.h"
#include "dedup_store/rocksdb_writer.h"
#include "dedup_store/store_failure.h"
#include "dedup_store/store_ops.h"
#include "dedup_store/wal_files.h"

namespace dedup {
namespace {

// Bounds the work (and the WriteBatch) of one store-thread iteration.
constexpr size_t kMaxBatchOps = 1024;

int64_t systemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Drops expired committed records and long-dead lease records as RocksDB
// compacts. One instance serves every compaction, so Filter() is reentrant.
class ExpiredRecordFilter final : public rocksdb::CompactionFilter {
 public:
  explicit ExpiredRecordFilter(std::function<int64_t()> now_ms) : now_ms_(std::move(now_ms)) {}

  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    return isDroppableRecord(std::string_view(value.data(), value.size()), now_ms_());
  }
  const char* Name() const override { return "dedup.ExpiredRecordFilter"; }

 private:
  std::function<int64_t()> now_ms_;
};

// A background error (a flush or compaction that failed, e.g. ENOSPC on an
// SST) fails the store for good; RocksDB is not left to resume by itself:
// the process restarts from what is on disk instead.
class BackgroundErrorListener final : public rocksdb::EventListener {
 public:
  explicit BackgroundErrorListener(std::shared_ptr<StoreFailure> failure)
      : failure_(std::move(failure)) {}

  void OnBackgroundError(rocksdb::BackgroundErrorReason /*reason*/,
                         rocksdb::Status* error) override {
    if (error == nullptr || error->ok()) return;
    LOG_ERROR("dedup store background error: the store stops for good",
              {"error", error->ToString()});
    failure_->fail(Status::IOError("rocksdb background error: " + error->ToString()));
  }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status /*error*/,
                            bool* auto_recovery) override {
    if (auto_recovery != nullptr) *auto_recovery = false;
  }

 private:
  std::shared_ptr<StoreFailure> failure_;
};

// RocksDB's own diagnostics, warnings and errors only, go to our log, never
// to a LOG file in the data directory: on a full disk RocksDB's file logger
// fails a write and then aborts on its next line (an assertion Debian keeps).
class RocksDbDiagnostics final : public rocksdb::Logger {
 public:
  RocksDbDiagnostics() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}

  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
    char text[1024];
    std::vsnprintf(text, sizeof(text), format, ap);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      LOG_ERROR("rocksdb", {"detail", text});
    } else {
      LOG_WARN("rocksdb", {"detail", text});
    }
  }
};

// Tuned for a sidecar: small, bounded memory; point lookups of 16-byte keys;
// few background threads.
rocksdb::Options makeOptions(const RocksDbOptions& store_options,
                             const rocksdb::CompactionFilter* filter) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.info_log = std::make_shared<RocksDbDiagnostics>();
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.max_background_jobs = 2;
  // Small memtables (see the write buffer manager below): memory stays small,
  // and a restart replays little WAL before it is ready.
  options.write_buffer_size = 2 << 20;
  options.max_write_buffer_number = 2;
  // Keys are random digests, so with leveled compaction every small level-0
  // file overlapped all of level 1, which was rewritten again and again (half
  // the CPU of a new-key load). Universal compaction merges sorted runs of
  // similar size instead; up to 8 of them are checked per lookup, each
  // through its bloom filter.
  options.compaction_style = rocksdb::kCompactionStyleUniversal;
  options.level0_file_num_compaction_trigger = 8;
  // Keys are fixed-size digests looked up one by one, never scanned: a hash
  // table memtable (the whole key is the "prefix") makes the store thread's
  // inserts and lookups O(1) instead of a skip-list walk, and a memtable
  // bloom filter answers most lookups of new keys without touching it.
  options.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(StoreKey::kSize));
  options.memtable_factory.reset(rocksdb::NewHashLinkListRepFactory(size_t{1} << 16));
  options.allow_concurrent_memtable_write = false;  // one writer thread anyway
  options.memtable_prefix_bloom_size_ratio = 0.02;
  options.memtable_whole_key_filtering = true;
  options.keep_log_file_num = 3;
  // Close() writes nothing but the WAL sync close() asks for: after a failed
  // write it must write nothing at all, and the next Open() replays the WAL.
  options.avoid_flush_during_shutdown = true;
  options.max_log_file_size = 4 << 20;
  options.compaction_filter = filter;
  // Expired records in files that no write touches still go away within a day.
  options.periodic_compaction_seconds = uint64_t{24} * 60 * 60;

  rocksdb::BlockBasedTableOptions table;
  // Few shards: a cache block must fit in one shard, or it is dropped as
  // soon as it is used (with the default 16 shards of an 8 MiB cache, a big
  // file's filter was read from disk again for every lookup).
  table.block_cache = rocksdb::NewLRUCache(static_cast<size_t>(store_options.block_cache_bytes),
                                           /*num_shard_bits=*/2);
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Filters and indexes in 4 KiB partitions, so memory for them stays within
  // the cache however many keys there are, and only the parts in use stay.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.partition_filters = true;
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.metadata_block_size = 4096;
  table.pin_top_level_index_and_filter = true;
  table.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
  // Memtables are charged to the block cache: RocksDB's memory is the cache's
  // capacity, whatever the traffic, and at most a quarter of it is memtables.
  options.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(
      static_cast<size_t>(store_options.block_cache_bytes / 4), table.block_cache);
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

class RocksDbBackend;

// A worker's handle: decides begins on the worker's thread when it can
// (lease_table.h), and queues the rest for the store thread.
class RocksDbDedupStore final : public DedupStore {
 public:
  RocksDbDedupStore(OpQueue& queue, const RocksDbBackend& backend, LeaseTable& leases,
                    LeaseJournal& journal, const StoreFailure& failure,
                    const std::function<int64_t()>& now_ms, EventLoop& loop)
      : queue_(queue),
        backend_(backend),
        leases_(leases),
        journal_(journal),
        failure_(failure),
        now_ms_(now_ms),
        channel_(std::make_shared<LoopChannel>(loop)) {}
  ~RocksDbDedupStore() override { channel_->detach(); }

  std::optional<StatusOr<BeginResult>> beginNow(const BeginRequest& request) override;

  void begin(const BeginRequest& request, BeginCallback done) override {
    queue_.push(StoreOp{channel_, BeginOp{request, std::move(done)}});
  }

  void commit(const StoreKey& key, LeaseToken token, StoredResponse response,
              std::chrono::milliseconds ttl, CommitCallback done) override {
    const int status = response.status;
    StoreOp op{channel_, CommitOp{key, token, std::move(response), ttl, std::move(done)}};
    if (status < 0 || status > std::numeric_limits<uint16_t>::max()) {
      op.fail(Status::InvalidArgument("response status " + std::to_string(status) +
                                      " does not fit the stored record"));
      return;
    }
    if (failure_.failed()) {
      op.fail(failure_.status());
      return;
    }
    if (!leases_.startSettling(key, token, &std::get<CommitOp>(op.op).lease)) {
      op.complete(StatusOr<CommitOutcome>(CommitOutcome::kLeaseLost));
      return;
    }
    if (!queue_.push(std::move(op))) leases_.cancelSettling(key, token);
  }

  void release(const StoreKey& key, LeaseToken token, std::chrono::milliseconds ttl,
               ReleaseCallback done) override {
    StoreOp op{channel_, ReleaseOp{key, token, ttl, std::move(done)}};
    if (failure_.failed()) {
      op.fail(failure_.status());
      return;
    }
    // A token that lost its lease changes nothing.
    if (!leases_.startSettling(key, token, &std::get<ReleaseOp>(op.op).lease)) {
      op.complete(Status::OK());
      return;
    }
    if (!queue_.push(std::move(op))) leases_.cancelSettling(key, token);
  }

  void inspect(const StoreKey& key, InspectCallback done) override {
    queue_.push(StoreOp{channel_, InspectOp{key, std::move(done)}});
  }

  void forget(const StoreKey& key, ForgetCallback done) override {
    queue_.push(StoreOp{channel_, ForgetOp{key, std::move(done)}});
  }

 private:
  OpQueue& queue_;
  const RocksDbBackend& backend_;
  LeaseTable& leases_;
  LeaseJournal& journal_;  // this worker's lane
  const StoreFailure& failure_;
  const std::function<int64_t()>& now_ms_;
  LoopChannelPtr channel_;
};

class RocksDbBackend final : public StoreBackend {
 public:
  RocksDbBackend(const RocksDbOptions& options, std::unique_ptr<ExpiredRecordFilter> filter,
                 std::shared_ptr<StoreFailure> failure, std::shared_ptr<WalFiles> wal_files,
                 std::unique_ptr<rocksdb::Env> env, std::unique_ptr<rocksdb::DB> db,
                 std::unique_ptr<LeaseJournal> journal, std::function<int64_t()> now_ms)
      : filter_(std::move(filter)),
        failure_(std::move(failure)),
        wal_files_(std::move(wal_files)),
        env_(std::move(env)),
        db_(std::move(db)),
        journals_(std::move(journal)),
        now_ms_(std::move(now_ms)),
        op_timeout_(options.op_timeout),
        commit_linger_(options.commit_linger),
        queue_(options.max_queued_ops),
        writer_(*db_, *wal_files_, leases_, journals_, now_ms_, counters_, *failure_),
        writer_thread_([this] { runWriter(); }) {}

  ~RocksDbBackend() override { close(); }

  std::string_view name() const override { return "rocksdb"; }

  DedupStorePtr attach(EventLoop& loop) override {
    return withDeadlines(std::make_unique<RocksDbDedupStore>(
                             queue_, *this, leases_, journals_.add(), *failure_, now_ms_, loop),
                         loop, op_timeout_, overdue_);
  }

  bool healthy() const override {
    return open_.load() && !failure_->failed() && overdue_->load() == 0;
  }

  Status fatalError() const override { return failure_->status(); }

  // A worker's read: from memory only (nullopt if it needs the disk), and
  // Unavailable once closed.
  std::optional<RecordRead> readCached(const StoreKey& key) const {
    ReaderLock lock(db_mutex_);
    if (db_ == nullptr) return RecordRead(Status::Unavailable("store closed"));
    return readRecord(*db_, key, /*cached_only=*/true);
  }

  StoreStats stats() const override {
    StoreStats stats;
    stats.commits = counters_.commits.load();
    stats.syncs = counters_.syncs.load();
    stats.queue_full = queue_.refused();
    ReaderLock lock(db_mutex_);
    uint64_t keys = 0;
    if (db_ != nullptr && db_->GetIntProperty("rocksdb.estimate-num-keys", &keys)) {
      stats.committed_keys_estimate = static_cast<int64_t>(keys);
    }
    return stats;
  }

  Status close() override {
    MutexLock close_lock(close_mutex_);
    if (closed_) return close_status_;
    closed_ = true;
    open_.store(false);
    queue_.close();
    writer_thread_.join();  // after it has finished everything queued

    // Leases still held become lease records, synced, so their attempt
    // counts survive a power loss too; then the journal is not needed. Not
    // under db_mutex_: a begin holds its key's lease lock when it takes that
    // one, and the writer thread, the only other writer, is gone.
    Status persisted = failure_->failed() ? failure_->status() : writer_.persistLeases();

    WriterLock lock(db_mutex_);
    if (failure_->failed()) {
      // Nothing more is written (no WAL sync; and memtables are never
      // flushed at close): RocksDB must not touch a writer that saw an
      // error. The next start recovers from what is on disk, the journal too.
      db_->Close().PermitUncheckedError();
      db_.reset();
      close_status_ = failure_->status();
      return close_status_;
    }
    const rocksdb::Status closed = db_->Close();
    if (persisted.ok() && !closed.ok()) {
      persisted = Status::IOError("rocksdb close: " + closed.ToString());
    }
    db_.reset();
    close_status_ = persisted;
    return close_status_;
  }

  Status compact() {
    ReaderLock lock(db_mutex_);
    if (db_ == nullptr) return Status::Unavailable("store closed");
    rocksdb::CompactRangeOptions options;
    // Rewrite even a lone bottommost file, so the filter sees every record.
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    const rocksdb::Status s = db_->CompactRange(options, nullptr, nullptr);
    if (!s.ok()) return Status::IOError("rocksdb compaction: " + s.ToString());
    return Status::OK();
  }

 private:
  void runWriter() {
    for (;;) {
      std::vector<StoreOp> batch = queue_.takeBatch(kMaxBatchOps);
      if (batch.empty()) return;  // closed and drained
      // Group commit: while other deliveries are at the app, their commits
      // are on their way; waiting a little for them lets one fsync (about
      // 85 us of CPU on a VM's disk) carry more of them. A quarter of the
      // time deliveries spend at the app costs them little latency; a lone
      // delivery never waits.
      const auto now = std::chrono::steady_clock::now();
      const bool commits = observeTimeAtApp(batch, now);
      const size_t coming = leases_.unsettledCount();
      const auto linger = std::min(commit_linger_, time_at_app_ / 4);
      if (commits && coming > 0 && linger.count() > 0) {
        queue_.takeMore(batch, coming, now + linger, kMaxBatchOps);
      }
      writer_.process(batch);
    }
  }
  // Folds the commits' time at the app (grant to commit) into time_at_app_;
  // whether `batch` holds a commit.
  bool observeTimeAtApp(const std::vector<StoreOp>& batch,
                        std::chrono::steady_clock::time_point now) {
    bool commits = false;
    for (const StoreOp& op : batch) {
      const auto* commit = std::get_if<CommitOp>(&op.op);
      if (commit == nullptr) continue;
      commits = true;
      const auto at_app =
          std::chrono::duration_cast<std::chrono::microseconds>(now - commit->lease.granted);
      time_at_app_ += (at_app - time_at_app_) / 16;  // moving average over ~16 commits
    }
    return commits;
  }

  const std::unique_ptr<ExpiredRecordFilter> filter_;  // must outlive db_
  const std::shared_ptr<StoreFailure> failure_;        // also held by db_'s listener
  const std::shared_ptr<WalFiles> wal_files_;          // db_'s file system
  const std::unique_ptr<rocksdb::Env> env_;            // db_'s: outlives it
  // Guards db_'s lifetime: close() resets it while stats() may be reading.
  mutable SharedMutex db_mutex_;
  std::unique_ptr<rocksdb::DB> db_;
  LeaseJournalLanes journals_;  // before leases_, whose leases point into it
  const std::function<int64_t()> now_ms_;
  const std::chrono::milliseconds op_timeout_;
  const std::chrono::microseconds commit_linger_;
  std::chrono::microseconds time_at_app_{0};  // writer thread only
  // Operations past their deadline that the store has not answered yet.
  const std::shared_ptr<std::atomic<int64_t>> overdue_ = std::make_shared<std::atomic<int64_t>>(0);
  WriterCounters counters_;
  OpQueue queue_;
  LeaseTable leases_;
  RocksDbWriter writer_;  // used by writer_thread_ only, then by close()
  std::atomic<bool> open_{true};

  Mutex close_mutex_;
  bool closed_ GUARDED_BY(close_mutex_) = false;
  Status close_status_ GUARDED_BY(close_mutex_);

  std::thread writer_thread_;  // last: starts once everything above exists
};

std::optional<StatusOr<BeginResult>> RocksDbDedupStore::beginNow(const BeginRequest& request) {
  if (failure_.failed()) return StatusOr<BeginResult>(failure_.status());
  const Now now{now_ms_(), std::chrono::steady_clock::now()};
  // A read that would touch the disk leaves the begin to the store thread.
  return leases_.begin(
      request, now, [this](const StoreKey& key) { return backend_.readCached(key); }, journal_);
}

// What the journal says earlier processes left in flight becomes lease
// records (unless the database already knows better), synced; then the
// journal's files go.
Status recoverJournaledLeases(rocksdb::DB& db, LeaseJournal& journal,
                              const std::vector<JournaledLease>& left, int64_t now_ms) {
  rocksdb::WriteBatch writes;
  for (const JournaledLease& lease : left) {
    std::optional<RecordRead> stored = readRecord(db, lease.key, /*cached_only=*/false);
    if (!stored->ok()) return stored->status();
    uint32_t known = 0;  // the attempts the database already counts
    if (const std::optional<StoredRecord>& record = stored->value()) {
      if (const auto* leased = std::get_if<LeaseRecord>(&*record)) {
        known = leased->attempt;
      } else if (const auto* committed = std::get_if<CommittedRecord>(&*record);
                 committed != nullptr && committed->expires_at_ms > now_ms) {
        continue;  // the lease ended in this commit (nothing is granted over a live one)
      } else if (const auto* released = std::get_if<ReleasedRecord>(&*record);
                 released != nullptr && released->expires_at_ms > now_ms) {
        known = released->attempt;
      }
    }
    if (lease.attempt <= known) continue;
    LeaseRecord record;
    record.attempt = lease.attempt;
    record.created_ms = lease.created_ms;
    writes.Put(rocksdb::Slice(lease.key.bytes().data(), lease.key.bytes().size()),
               encodeRecord(record));
  }
  if (writes.Count() != 0) {
    rocksdb::WriteOptions options;
    options.sync = true;
    const rocksdb::Status s = db.Write(options, &writes);
    if (!s.ok()) return Status::IOError("rocksdb write: " + s.ToString());
  }
  if (!left.empty()) {
    LOG_WARN(
        "leases left by a process that stopped mid-flight: their keys' next deliveries "
        "are marked as repeats",
        {"leases", std::to_string(left.size())});
  }
  return journal.dropRecovered();
}

}  // namespace

StatusOr<StoreBackendPtr> openRocksDbStore(const RocksDbOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("rocksdb store: empty path");
  std::error_code error;
  std::filesystem::create_directories(options.path, error);
  if (error) {
    return Status::IOError("rocksdb store: cannot create " + options.path + ": " + error.message());
  }
  std::function<int64_t()> now_ms = options.now_ms ? options.now_ms : systemNowMs;
  auto filter = std::make_unique<ExpiredRecordFilter>(now_ms);
  auto failure = std::make_shared<StoreFailure>();
  rocksdb::Options db_options = makeOptions(options, filter.get());
  db_options.listeners.push_back(std::make_shared<BackgroundErrorListener>(failure));
  const std::shared_ptr<rocksdb::FileSystem> file_system =
      options.file_system != nullptr ? options.file_system : rocksdb::FileSystem::Default();
  auto wal_files = std::make_shared<WalFiles>(file_system, options.path, failure);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(wal_files);
  db_options.env = env.get();
  rocksdb::DB* raw_db = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, &raw_db);
  if (!s.ok()) {
    return Status::IOError("rocksdb store: cannot open " + options.path + ": " + s.ToString());
  }
  std::unique_ptr<rocksdb::DB> db(raw_db);
  std::vector<JournaledLease> left;
  StatusOr<std::unique_ptr<LeaseJournal>> journal =
      // Not through wal_files: the journal is synced on its own schedule,
      // not with every WAL sync.
      LeaseJournal::open(file_system, options.path + "/leases", *failure, &left);
  if (!journal.ok()) return journal.status();
  if (Status recovered = recoverJournaledLeases(*db, **journal, left, now_ms()); !recovered.ok()) {
    return Status::IOError("rocksdb store: cannot recover the lease journal in " + options.path +
                           ": " + recovered.message());
  }
  return StoreBackendPtr(std::make_unique<RocksDbBackend>(
      options, std::move(filter), std::move(failure), std::move(wal_files), std::move(env),
      std::move(db), std::move(*journal), std::move(now_ms)));
}

Status compactRocksDbStore(StoreBackend& backend) {
  auto* rocksdb_backend = dynamic_cast<RocksDbBackend*>(&backend);
  if (rocksdb_backend == nullptr) {
    return Status::InvalidArgument("not a rocksdb store: " + std::string(backend.name()));
  }
  return rocksdb_backend->compact();
}

}  // namespace dedup
