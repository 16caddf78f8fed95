// The Redis store end to end against a real redis-server (started per test on
// a free loopback port, killed in teardown): every transition of DESIGN.md
// "The key's life", races between workers, TTL expiry, NOSCRIPT, a dying and
// returning server, AUTH, and memory per committed key.
#include "dedup_store/redis_store.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "dedup_store/redis_worker_store.h"
#include "store_test_support.h"

extern char** environ;

namespace dedup {
namespace {

using std::chrono::milliseconds;
using testing::await;
using testing::beginRequest;
using testing::LoopWorker;
using testing::TempDir;
using Outcome = BeginResult::Outcome;

constexpr const char* kRedisServer = "/usr/bin/redis-server";

milliseconds kDay() { return std::chrono::hours(24); }

int freePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// A redis-server child process in a temp dir, no persistence.
class RedisServer {
 public:
  explicit RedisServer(std::string password = "") : password_(std::move(password)) {}
  ~RedisServer() { stop(); }

  int port() const { return port_; }

  // Starts the server and waits until it answers. The port is only probed
  // free, so another process may take it first: then (first start only) we
  // retry on another one. The answering server must be ours (process_id).
  void start() {
    for (int attempt = 0; attempt < 20; ++attempt) {
      if (launch()) {
        started_once_ = true;
        return;
      }
      if (started_once_) {
        std::this_thread::sleep_for(milliseconds(100));  // restarts keep their port
      } else {
        port_ = freePort();
      }
    }
    FAIL() << "could not start redis-server";
  }

  bool launch() {
    std::vector<std::string> args = {kRedisServer,   "--port",    std::to_string(port_),
                                     "--bind",       "127.0.0.1", "--dir",
                                     dir_.path(),    "--save",    "",
                                     "--appendonly", "no",        "--daemonize",
                                     "no",           "--logfile", dir_.path() + "/redis.log"};
    if (!password_.empty()) {
      args.push_back("--requirepass");
      args.push_back(password_);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, kRedisServer, nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return false;
    }
    const std::string ours = "process_id:" + std::to_string(pid_) + "\r";
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {  // exited (port taken?)
        pid_ = -1;
        return false;
      }
      const std::string info = command({"INFO", "server"});
      if (!info.empty() && info.find(ours) != std::string::npos) return true;
      if (!info.empty() && !info.starts_with("ERR")) break;  // someone else's server
      std::this_thread::sleep_for(milliseconds(10));
    }
    stop();
    return false;
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);  // also kills a paused server, without letting it answer first
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Returns once the server is actually stopped (so it answers nothing more).
  void pause() {
    kill(pid_, SIGSTOP);
    int status = 0;
    waitpid(pid_, &status, WUNTRACED);
  }
  void resume() { kill(pid_, SIGCONT); }

  // One synchronous command on a fresh connection: the reply as text
  // ("ERR …" for errors, "" when unreachable).
  std::string command(const std::vector<std::string>& args) {
    timeval tv{1, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (c == nullptr || c->err != 0) {
      if (c != nullptr) redisFree(c);
      return "";
    }
    redisSetTimeout(c, timeval{5, 0});
    if (!password_.empty()) {
      freeReplyObject(redisCommand(c, "AUTH %s", password_.c_str()));
    }
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    std::string text;
    if (reply != nullptr) {
      if (reply->type == REDIS_REPLY_INTEGER) {
        text = std::to_string(reply->integer);
      } else if (reply->type == REDIS_REPLY_ERROR) {
        text = "ERR " + std::string(reply->str, reply->len);
      } else if (reply->str != nullptr) {
        text = std::string(reply->str, reply->len);
      }
      freeReplyObject(reply);
    }
    redisFree(c);
    return text;
  }

  int64_t usedMemory() {
    const std::string info = command({"INFO", "memory"});
    const size_t at = info.find("used_memory:");
    if (at == std::string::npos) return -1;
    return std::stoll(info.substr(at + 12));
  }

 private:
  TempDir dir_;
  std::string password_;
  int port_ = freePort();
  pid_t pid_ = -1;
  bool started_once_ = false;
};

Fingerprint fingerprintOf(uint8_t byte) {
  Fingerprint fp{};
  fp.fill(byte);
  return fp;
}

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kRedisServer, X_OK) != 0) GTEST_SKIP() << kRedisServer << " not installed";
    server = std::make_unique<RedisServer>(password);
    server->start();
    if (HasFatalFailure()) return;
    open();
  }

  void open() {
    RedisOptions options;
    options.host = "127.0.0.1";
    options.port = server->port();
    options.username = username;
    options.password = password;
    options.db = db;
    options.command_timeout = command_timeout;
    options.connect_timeout = milliseconds(5000);
    StatusOr<StoreBackendPtr> opened = openRedisStore(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    backend = std::move(*opened);
    worker = std::make_unique<LoopWorker>(*backend);
  }

  void TearDown() override {
    worker.reset();
    backend.reset();
    server.reset();
  }

  milliseconds holderLease() const {
    RedisOptions options;
    options.command_timeout = command_timeout;
    return redisHolderLease(options);
  }

  BeginResult beginOk(const BeginRequest& request) {
    StatusOr<BeginResult> r = await(worker->begin(request));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : BeginResult{};
  }

  std::string username, password;
  int db = 0;
  milliseconds command_timeout{5000};  // generous: sanitizer builds on busy CI
  std::unique_ptr<RedisServer> server;
  StoreBackendPtr backend;
  std::unique_ptr<LoopWorker> worker;
};

TEST_F(RedisStoreTest, NewCommitReplay) {
  EXPECT_EQ(backend->name(), "redis");
  const BeginRequest req = beginRequest("k1");
  BeginResult first = beginOk(req);
  ASSERT_EQ(first.outcome, Outcome::kNew);
  EXPECT_EQ(first.attempt, 1u);
  EXPECT_NE(first.token, 0u);
  const StoredResponse response{201, "application/json", "{\"id\":7}"};
  StatusOr<CommitOutcome> c = await(worker->commit(req.key, first.token, response, kDay()));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(*c, CommitOutcome::kCommitted);
  for (int i = 0; i < 2; ++i) {
    BeginResult again = beginOk(req);
    ASSERT_EQ(again.outcome, Outcome::kCommitted);
    ASSERT_TRUE(again.response.has_value());
    EXPECT_EQ(*again.response, response);
  }
  // The bare form (no content type, no body).
  const BeginRequest bare = beginRequest("k2");
  BeginResult b = beginOk(bare);
  ASSERT_EQ(await(worker->commit(bare.key, b.token, StoredResponse{204, "", ""}, kDay())).value(),
            CommitOutcome::kCommitted);
  BeginResult replay = beginOk(bare);
  ASSERT_EQ(replay.outcome, Outcome::kCommitted);
  EXPECT_EQ(*replay.response, (StoredResponse{204, "", ""}));
  EXPECT_EQ(backend->stats().commits, 2u);
  EXPECT_EQ(backend->stats().committed_keys_estimate, -1);
  EXPECT_TRUE(backend->healthy());
}

TEST_F(RedisStoreTest, FingerprintMismatch) {
  const BeginRequest a = beginRequest("m", std::chrono::seconds(30), fingerprintOf(1));
  BeginResult first = beginOk(a);
  ASSERT_EQ(first.outcome, Outcome::kNew);
  ASSERT_EQ(await(worker->commit(a.key, first.token, StoredResponse{200, "", ""}, kDay())).value(),
            CommitOutcome::kCommitted);
  EXPECT_EQ(beginOk(beginRequest("m", std::chrono::seconds(30), fingerprintOf(2))).outcome,
            Outcome::kMismatch);
  EXPECT_EQ(beginOk(a).outcome, Outcome::kCommitted);
  EXPECT_EQ(beginOk(beginRequest("m")).outcome, Outcome::kCommitted);  // not fingerprinted
}

TEST_F(RedisStoreTest, ReleaseKeepsTheAttemptCount) {
  const BeginRequest req = beginRequest("r");
  BeginResult first = beginOk(req);
  ASSERT_EQ(first.outcome, Outcome::kNew);
  EXPECT_EQ(first.attempt, 1u);
  EXPECT_TRUE(await(worker->release(req.key, first.token)).ok());
  BeginResult second = beginOk(req);
  ASSERT_EQ(second.outcome, Outcome::kNew);
  EXPECT_EQ(second.attempt, 2u) << "the app may have seen the first delivery";
  EXPECT_EQ(await(worker->commit(req.key, first.token, {}, kDay())).value(),
            CommitOutcome::kLeaseLost);
  EXPECT_TRUE(await(worker->release(req.key, first.token)).ok());  // stale: no change
  EXPECT_EQ(beginOk(req).outcome, Outcome::kInFlight);
}

TEST_F(RedisStoreTest, ReleasedCountsUpAndEndsWithTheTtl) {
  const BeginRequest req = beginRequest("rr");
  for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
    BeginResult lease = beginOk(req);
    ASSERT_EQ(lease.outcome, Outcome::kNew);
    EXPECT_EQ(lease.attempt, attempt);
    EXPECT_TRUE(await(worker->release(req.key, lease.token, milliseconds(300))).ok());
  }
  std::this_thread::sleep_for(milliseconds(500));  // the released state's ttl ends
  EXPECT_EQ(beginOk(req).attempt, 1u);
}

TEST_F(RedisStoreTest, CommitAfterReleaseIsALostLease) {
  const BeginRequest req = beginRequest("cr");
  BeginResult first = beginOk(req);
  EXPECT_TRUE(await(worker->release(req.key, first.token)).ok());
  EXPECT_EQ(await(worker->commit(req.key, first.token, {}, kDay())).value(),
            CommitOutcome::kLeaseLost);
  EXPECT_EQ(beginOk(req).attempt, 2u);
}

// A command timeout of 1 s: Redis keeps a lease 3 s past its last renewal.
class RedisStoreLeaseTest : public RedisStoreTest {
 protected:
  RedisStoreLeaseTest() { command_timeout = milliseconds(1000); }
};

// The holder renews its lease while the app works: Redis keeps it only a few
// seconds past the last renewal, yet it never expires under a live holder.
TEST_F(RedisStoreLeaseTest, LiveHolderKeepsItsLeasePastTheHolderLease) {
  LoopWorker other(*backend);
  const BeginRequest req = beginRequest("live", std::chrono::seconds(30));
  ASSERT_EQ(beginOk(req).outcome, Outcome::kNew);
  ASSERT_EQ(holderLease(), kHolderLease);
  std::this_thread::sleep_for(holderLease() + milliseconds(1500));
  StatusOr<BeginResult> second = await(other.begin(req));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->outcome, Outcome::kInFlight);
  EXPECT_LE(second->retry_after.count(), holderLease().count());
}

// A holder that is gone (its worker destroyed: no more renewals) leaves its
// lease for a few seconds only, whatever the route's lease; the taker is told
// it is a repeat, and the dead holder's commit is fenced off.
TEST_F(RedisStoreLeaseTest, DeadHoldersLeaseFreesWithinSeconds) {
  const BeginRequest req = beginRequest("dead", std::chrono::seconds(60));
  const BeginResult first = beginOk(req);
  ASSERT_EQ(first.outcome, Outcome::kNew);
  worker.reset();
  LoopWorker other(*backend);
  const auto start = std::chrono::steady_clock::now();
  BeginResult taken;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    StatusOr<BeginResult> r = await(other.begin(req));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    taken = *r;
    if (taken.outcome == Outcome::kNew) break;
    ASSERT_EQ(taken.outcome, Outcome::kInFlight);
    std::this_thread::sleep_for(milliseconds(100));
  }
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(taken.outcome, Outcome::kNew);
  EXPECT_EQ(taken.attempt, 2u);
  EXPECT_LT(waited, holderLease() + milliseconds(1000));
  EXPECT_EQ(await(other.commit(req.key, first.token, {}, kDay())).value(),
            CommitOutcome::kLeaseLost);
  EXPECT_EQ(await(other.commit(req.key, taken.token, {}, kDay())).value(),
            CommitOutcome::kCommitted);
}

TEST_F(RedisStoreTest, LiveLeaseIsInFlight) {
  const BeginRequest req = beginRequest("f", std::chrono::seconds(30));
  ASSERT_EQ(beginOk(req).outcome, Outcome::kNew);
  BeginResult second = beginOk(req);
  ASSERT_EQ(second.outcome, Outcome::kInFlight);
  EXPECT_GT(second.retry_after.count(), 0);
  EXPECT_LE(second.retry_after.count(), holderLease().count());
}

TEST_F(RedisStoreTest, ExpiredLeaseIsTakenOverWithTheNextAttempt) {
  const BeginRequest req = beginRequest("e", milliseconds(100));
  BeginResult first = beginOk(req);
  ASSERT_EQ(first.outcome, Outcome::kNew);
  std::this_thread::sleep_for(milliseconds(250));
  BeginResult second = beginOk(req);
  ASSERT_EQ(second.outcome, Outcome::kNew);
  EXPECT_EQ(second.attempt, 2u);
  EXPECT_NE(second.token, first.token);
  EXPECT_EQ(await(worker->commit(req.key, first.token, {}, kDay())).value(),
            CommitOutcome::kLeaseLost);
  EXPECT_EQ(await(worker->commit(req.key, second.token, {}, kDay())).value(),
            CommitOutcome::kCommitted);
  EXPECT_EQ(beginOk(req).outcome, Outcome::kCommitted);
}

TEST_F(RedisStoreTest, TwoWorkersRacingGetExactlyOneNew) {
  LoopWorker other(*backend);
  const BeginRequest req = beginRequest("race");
  constexpr int kPerWorker = 100;
  std::vector<std::future<StatusOr<BeginResult>>> a, b;
  std::thread ta([&] {
    for (int i = 0; i < kPerWorker; ++i) a.push_back(worker->begin(req));
  });
  std::thread tb([&] {
    for (int i = 0; i < kPerWorker; ++i) b.push_back(other.begin(req));
  });
  ta.join();
  tb.join();
  int news = 0, in_flight = 0;
  for (auto* list : {&a, &b}) {
    for (auto& f : *list) {
      StatusOr<BeginResult> r = await(std::move(f));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      if (r->outcome == Outcome::kNew) ++news;
      if (r->outcome == Outcome::kInFlight) ++in_flight;
    }
  }
  EXPECT_EQ(news, 1);
  EXPECT_EQ(in_flight, 2 * kPerWorker - 1);
}

// Memory: the Redis key is the prefix and the raw 16-byte digest (not hex).
TEST_F(RedisStoreTest, KeyIsThePrefixAndTheRawDigest) {
  const BeginRequest req = beginRequest("named");
  ASSERT_EQ(beginOk(req).outcome, Outcome::kNew);
  EXPECT_EQ(server->command({"EXISTS", "dedup:" + std::string(req.key.bytes())}), "1");
  EXPECT_EQ(server->command({"DBSIZE"}), "1");
}

TEST_F(RedisStoreTest, CommittedKeyExpiresAfterTtl) {
  const BeginRequest req = beginRequest("ttl");
  BeginResult first = beginOk(req);
  ASSERT_EQ(await(worker->commit(req.key, first.token, {}, milliseconds(100))).value(),
            CommitOutcome::kCommitted);
  const std::string key = "dedup:" + std::string(req.key.bytes());  // binary: the raw digest
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    gone = server->command({"EXISTS", key}) == "0";
    if (!gone) std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_TRUE(gone);
  BeginResult again = beginOk(req);
  EXPECT_EQ(again.outcome, Outcome::kNew);
  EXPECT_EQ(again.attempt, 1u);
}

TEST_F(RedisStoreTest, ScriptFlushIsHandled) {
  ASSERT_EQ(beginOk(beginRequest("s1")).outcome, Outcome::kNew);
  ASSERT_EQ(server->command({"SCRIPT", "FLUSH"}), "OK");
  const BeginRequest req = beginRequest("s2");
  BeginResult r = beginOk(req);
  ASSERT_EQ(r.outcome, Outcome::kNew);
  ASSERT_EQ(server->command({"SCRIPT", "FLUSH"}), "OK");
  EXPECT_EQ(await(worker->commit(req.key, r.token, {}, kDay())).value(), CommitOutcome::kCommitted);
  ASSERT_EQ(server->command({"SCRIPT", "FLUSH"}), "OK");
  EXPECT_EQ(beginOk(req).outcome, Outcome::kCommitted);
}

bool isUnavailableOrTimeout(const Status& s) {
  return s.code() == Status::Code::kUnavailable || s.code() == Status::Code::kTimeout;
}

TEST_F(RedisStoreTest, ServerDeathFailsOpsAndRestartRecovers) {
  ASSERT_EQ(beginOk(beginRequest("d0")).outcome, Outcome::kNew);
  // Pending when the server dies.
  server->pause();
  auto pending = worker->begin(beginRequest("d1"));
  std::this_thread::sleep_for(milliseconds(50));
  server->stop();
  StatusOr<BeginResult> lost = await(std::move(pending));
  ASSERT_FALSE(lost.ok());
  EXPECT_TRUE(isUnavailableOrTimeout(lost.status())) << lost.status().ToString();
  // New ops while it is down: answered, never hung.
  for (int i = 0; i < 5; ++i) {
    StatusOr<BeginResult> r = await(worker->begin(beginRequest("d2")));
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(isUnavailableOrTimeout(r.status())) << r.status().ToString();
  }
  EXPECT_FALSE(backend->healthy());
  // Back on the same port: the same store recovers (backoff is at most 2 s).
  server->start();
  bool recovered = false;
  for (int i = 0; i < 200 && !recovered; ++i) {
    StatusOr<BeginResult> r = await(worker->begin(beginRequest("d3")));
    recovered = r.ok();
    if (!recovered) std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(recovered);
  EXPECT_TRUE(backend->healthy());
}

class RedisStoreTimeoutTest : public RedisStoreTest {
 protected:
  RedisStoreTimeoutTest() { command_timeout = milliseconds(200); }
};

TEST_F(RedisStoreTimeoutTest, StalledServerTimesOutThenRecovers) {
  bool warm = false;  // connected (the handshake may take longer than 200 ms on a busy box)
  for (int i = 0; i < 50 && !warm; ++i) warm = await(worker->begin(beginRequest("t0"))).ok();
  ASSERT_TRUE(warm);
  server->pause();
  StatusOr<BeginResult> r = await(worker->begin(beginRequest("t1")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kTimeout) << r.status().ToString();
  server->resume();
  bool recovered = false;
  for (int i = 0; i < 100 && !recovered; ++i) {
    recovered = await(worker->begin(beginRequest("t2"))).ok();
    if (!recovered) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(recovered);
}

class RedisStoreAuthTest : public RedisStoreTest {
 protected:
  RedisStoreAuthTest() { password = "hunter2"; }
};

TEST_F(RedisStoreAuthTest, PasswordAndAclUser) {
  ASSERT_EQ(beginOk(beginRequest("a")).outcome, Outcome::kNew);
  ASSERT_EQ(server->command({"ACL", "SETUSER", "alice", "on", ">s3cret", "~*", "+@all"}), "OK");
  worker.reset();
  backend.reset();
  username = "alice";
  password = "s3cret";
  open();
  EXPECT_EQ(beginOk(beginRequest("a")).outcome, Outcome::kInFlight);
  // A wrong password fails (Unavailable), and the backend turns unhealthy.
  worker.reset();
  backend.reset();
  password = "wrong";
  open();
  StatusOr<BeginResult> r = await(worker->begin(beginRequest("a")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
  EXPECT_FALSE(backend->healthy());
}

// The handshake must succeed before any command is sent: a failed SELECT
// fails the operations queued behind it, they never run in database 0.
TEST_F(RedisStoreTest, FailedSelectFailsTheQueuedOperations) {
  worker.reset();
  backend.reset();
  db = 99;  // redis-server has 16 databases by default
  open();
  std::vector<std::future<StatusOr<BeginResult>>> begins;
  for (int i = 0; i < 5; ++i)
    begins.push_back(worker->begin(beginRequest("s" + std::to_string(i))));
  for (auto& begin : begins) {
    StatusOr<BeginResult> r = await(std::move(begin));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
    EXPECT_NE(r.status().message().find("SELECT"), std::string::npos) << r.status().ToString();
  }
  EXPECT_EQ(server->command({"DBSIZE"}), "0") << "nothing ran in database 0";
  EXPECT_FALSE(backend->healthy());
}

TEST_F(RedisStoreTest, MemoryPerCommittedKey) {
  // Warm up: connection, scripts.
  const BeginRequest warm = beginRequest("warm");
  ASSERT_EQ(await(worker->commit(warm.key, beginOk(warm).token, {}, kDay())).value(),
            CommitOutcome::kCommitted);
  const int64_t before = server->usedMemory();
  constexpr int kKeys = 20000, kBatch = 1000;
  std::atomic<int> failures{0};
  for (int base = 0; base < kKeys; base += kBatch) {
    auto done = std::make_shared<std::promise<void>>();
    auto left = std::make_shared<int>(kBatch);
    worker->run([&, done, left](std::unique_ptr<DedupStore>& store) {
      DedupStore* s = store.get();
      for (int i = base; i < base + kBatch; ++i) {
        const BeginRequest req = beginRequest("mem" + std::to_string(i), std::chrono::seconds(60));
        s->begin(req, [&, s, key = req.key, done, left](StatusOr<BeginResult> r) {
          if (!r.ok() || r->outcome != Outcome::kNew) {
            ++failures;
            if (--*left == 0) done->set_value();
            return;
          }
          s->commit(key, r->token, StoredResponse{200, "", ""}, kDay(),
                    [&, done, left](StatusOr<CommitOutcome> c) {
                      if (!c.ok() || *c != CommitOutcome::kCommitted) ++failures;
                      if (--*left == 0) done->set_value();
                    });
        });
      }
    });
    await(done->get_future());
  }
  ASSERT_EQ(failures.load(), 0);
  const int64_t after = server->usedMemory();
  ASSERT_GT(before, 0);
  const double per_key = static_cast<double>(after - before) / kKeys;
  std::printf("redis used_memory per committed key (no body): %.1f bytes\n", per_key);
  RecordProperty("bytes_per_key", std::to_string(per_key));
  EXPECT_LE(per_key, 160.0);
}

// The server turns into a replica under us (what a failover does to an old
// master that comes back): the READONLY reply fails the operation and drops
// the connection (with Sentinel, the reconnect asks where the master is now).
TEST_F(RedisStoreTest, ReadOnlyReplyDropsTheConnection) {
  ASSERT_EQ(beginOk(beginRequest("a")).outcome, Outcome::kNew);
  RedisServer other;
  other.start();
  if (HasFatalFailure()) return;
  ASSERT_EQ(server->command({"REPLICAOF", "127.0.0.1", std::to_string(other.port())}), "OK");
  StatusOr<BeginResult> r = await(worker->begin(beginRequest("b")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("read-only"), std::string::npos) << r.status().ToString();
  ASSERT_EQ(server->command({"REPLICAOF", "NO", "ONE"}), "OK");
  bool recovered = false;
  for (int i = 0; i < 100 && !recovered; ++i) {
    recovered = await(worker->begin(beginRequest("c"))).ok();
    if (!recovered) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(recovered);
}

// Sentinel mode against Sentinels that cannot name the master: a dead port,
// then a plain redis-server (which does not know SENTINEL). Both are asked,
// in turn, and the operation fails with what each said.
TEST_F(RedisStoreTest, SentinelsThatCannotNameTheMasterFailTheOperation) {
  worker.reset();
  backend.reset();
  RedisOptions options;
  const int dead = freePort();
  options.sentinels = {{"127.0.0.1", dead}, {"127.0.0.1", server->port()}};
  options.master_name = "mymaster";
  options.connect_timeout = milliseconds(5000);
  options.command_timeout = milliseconds(5000);
  StatusOr<StoreBackendPtr> opened = openRedisStore(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  backend = std::move(*opened);
  worker = std::make_unique<LoopWorker>(*backend);
  StatusOr<BeginResult> r = await(worker->begin(beginRequest("s")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
  const std::string& message = r.status().message();
  EXPECT_NE(message.find("127.0.0.1:" + std::to_string(dead)), std::string::npos) << message;
  EXPECT_NE(message.find("127.0.0.1:" + std::to_string(server->port())), std::string::npos)
      << message;
  EXPECT_FALSE(backend->healthy());
  EXPECT_EQ(worker->contractViolations(), 0);
}

// A Sentinel that accepts but never answers: the operation times out on its
// own timer, and destroying the store mid-query neither crashes nor calls back.
TEST_F(RedisStoreTest, StalledSentinelTimesOutAndStoreDiesMidQuery) {
  worker.reset();
  backend.reset();
  RedisOptions options;
  options.sentinels = {{"127.0.0.1", server->port()}};
  options.master_name = "mymaster";
  options.connect_timeout = milliseconds(10000);
  options.command_timeout = milliseconds(300);
  StatusOr<StoreBackendPtr> opened = openRedisStore(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  backend = std::move(*opened);
  // Stalled before the worker exists: its first health check asks it too.
  server->pause();
  worker = std::make_unique<LoopWorker>(*backend);
  StatusOr<BeginResult> r = await(worker->begin(beginRequest("s")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kTimeout) << r.status().ToString();
  worker->run([](std::unique_ptr<DedupStore>& store) {
    store->begin(beginRequest("t"), [](StatusOr<BeginResult>) { ADD_FAILURE() << "called back"; });
    store.reset();  // the Sentinel query is still running
  });
  worker->drain();
  server->resume();
  EXPECT_EQ(worker->contractViolations(), 0);
}

}  // namespace
}  // namespace dedup
