// The process's table of waiting deliveries: bounds, wake-ups on the
// waiter's own loop, removal, drain.
#include "proxy/in_flight_waiters.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "common/event_loop.h"

namespace dedup {
namespace {

using Wake = InFlightWaiters::Wake;

// Runs what was posted to `loop` so far, on this thread.
void runPosted(EventLoop& loop) {
  loop.exit();
  loop.run();
}

TEST(InFlightWaiters, FinishedWakesEveryWaiterOfTheKeyOnItsLoopOnce) {
  InFlightWaiters waiters(8, 100);
  EventLoop loop_a;
  EventLoop loop_b;
  const StoreKey key = StoreKey::of("s", "k");
  const StoreKey other = StoreKey::of("s", "other");
  std::vector<std::string> woken;
  EXPECT_NE(
      waiters.add(key, loop_a, [&](Wake w) { woken.push_back(w == Wake::kFinished ? "a" : "?"); }),
      0u);
  EXPECT_NE(
      waiters.add(key, loop_b, [&](Wake w) { woken.push_back(w == Wake::kFinished ? "b" : "?"); }),
      0u);
  EXPECT_NE(waiters.add(other, loop_a, [&](Wake) { woken.push_back("other"); }), 0u);
  EXPECT_EQ(waiters.size(), 3u);

  // Finished on another thread: nothing runs there, only posts.
  std::thread([&] { waiters.finished(key); }).join();
  EXPECT_TRUE(woken.empty());
  EXPECT_EQ(waiters.size(), 1u);
  runPosted(loop_a);
  EXPECT_EQ(woken, std::vector<std::string>{"a"});
  runPosted(loop_b);
  EXPECT_EQ(woken, (std::vector<std::string>{"a", "b"}));
  waiters.finished(key);  // nobody left for it
  runPosted(loop_a);
  runPosted(loop_b);
  EXPECT_EQ(woken.size(), 2u);
}

TEST(InFlightWaiters, BoundsPerKeyAndInTotal) {
  InFlightWaiters waiters(2, 3);
  EventLoop loop;
  const StoreKey a = StoreKey::of("s", "a");
  const StoreKey b = StoreKey::of("s", "b");
  const auto nothing = [](Wake) {};
  EXPECT_NE(waiters.add(a, loop, nothing), 0u);
  const uint64_t second = waiters.add(a, loop, nothing);
  EXPECT_NE(second, 0u);
  EXPECT_EQ(waiters.add(a, loop, nothing), 0u) << "per key";
  EXPECT_NE(waiters.add(b, loop, nothing), 0u);
  EXPECT_EQ(waiters.add(b, loop, nothing), 0u) << "in total";
  EXPECT_TRUE(waiters.remove(a, second));
  EXPECT_FALSE(waiters.remove(a, second));
  EXPECT_NE(waiters.add(b, loop, nothing), 0u) << "room again";
  EXPECT_EQ(waiters.size(), 3u);
}

TEST(InFlightWaiters, RemovedWaiterIsNeverWoken) {
  InFlightWaiters waiters(8, 8);
  EventLoop loop;
  const StoreKey key = StoreKey::of("s", "k");
  int woken = 0;
  const uint64_t id = waiters.add(key, loop, [&](Wake) { ++woken; });
  EXPECT_TRUE(waiters.remove(key, id));
  waiters.finished(key);
  waiters.drain();
  runPosted(loop);
  EXPECT_EQ(woken, 0);
  EXPECT_EQ(waiters.size(), 0u);
}

TEST(InFlightWaiters, DrainWakesEveryoneAndRefusesNewWaiters) {
  InFlightWaiters waiters(8, 8);
  EventLoop loop;
  std::vector<Wake> woken;
  waiters.add(StoreKey::of("s", "a"), loop, [&](Wake w) { woken.push_back(w); });
  waiters.add(StoreKey::of("s", "b"), loop, [&](Wake w) { woken.push_back(w); });
  waiters.drain();
  EXPECT_EQ(waiters.add(StoreKey::of("s", "c"), loop, [](Wake) {}), 0u);
  runPosted(loop);
  EXPECT_EQ(woken, (std::vector<Wake>{Wake::kDraining, Wake::kDraining}));
  EXPECT_EQ(waiters.size(), 0u);
}

}  // namespace
}  // namespace dedup
