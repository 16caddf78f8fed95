// A RocksDB store in a temp directory on a fake clock, with one LoopWorker,
// that a test can close and open again (a restart): the fixture the RocksDB
// store tests share.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

#include "dedup_store/rocksdb_store.h"
#include "store_test_support.h"

namespace dedup::testing {

inline Fingerprint fingerprintOf(uint8_t byte) {
  Fingerprint fp{};
  fp.fill(byte);
  return fp;
}

class RocksDbStoreFixture : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open() {
    RocksDbOptions options;
    options.path = dir.path();
    options.now_ms = clock.fn();
    StatusOr<StoreBackendPtr> opened = openRocksDbStore(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    backend = std::move(*opened);
    worker = std::make_unique<LoopWorker>(*backend);
  }
  void close() {
    worker.reset();
    ASSERT_TRUE(backend->close().ok());
    backend.reset();
  }

  TempDir dir;
  FakeClock clock;
  StoreBackendPtr backend;
  std::unique_ptr<LoopWorker> worker;
};

}  // namespace dedup::testing
