#include "dedup_store/open_store.h"

#include <gtest/gtest.h>

#include "store_test_support.h"

namespace dedup {
namespace {

TEST(OpenStoreTest, RocksDbUriOpensTheEmbeddedStore) {
  testing::TempDir dir;
  StatusOr<StoreBackendPtr> store = openStore(StoreOptions{"rocksdb:" + dir.path() + "/db"});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->name(), "rocksdb");
  EXPECT_TRUE((*store)->close().ok());
}

TEST(OpenStoreTest, SentinelUriOpensTheRedisStoreWithoutConnecting) {
  StatusOr<StoreBackendPtr> store =
      openStore(StoreOptions{"redis-sentinel://127.0.0.1:1,127.0.0.1:2/mymaster"});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->name(), "redis");
  EXPECT_TRUE((*store)->close().ok());
}

TEST(OpenStoreTest, RejectedUris) {
  const struct {
    std::string uri;
    std::string message_part;
  } cases[] = {
      {"redis-sentinel://a:26379,b:26379", "master name"},
      {"rediss://localhost:6380", "no TLS"},
      {"rocksdb:", "rocksdb needs a path"},
      {"", "\"\""},
      {"mysql://db/x", "mysql://db/x"},
      {"./dedup-data", "./dedup-data"},
      {"ROCKSDB:/tmp/x", "ROCKSDB:/tmp/x"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.uri);
    StatusOr<StoreBackendPtr> store = openStore(StoreOptions{c.uri});
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(store.status().message().find(c.message_part), std::string::npos)
        << store.status().message();
  }
}

}  // namespace
}  // namespace dedup
