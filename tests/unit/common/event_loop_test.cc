#include "common/event_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace dedup {
namespace {

TEST(EventLoop, PostFromManyThreadsRunsEveryFunctionOnTheLoopThreadInOrderPerThread) {
  EventLoop loop;
  std::thread::id loop_thread;
  std::vector<std::vector<int>> seen(4);
  std::atomic<int> remaining{4 * 1000};
  std::thread runner([&] {
    loop_thread = std::this_thread::get_id();
    loop.run();
  });
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        loop.post([&, t, i] {
          EXPECT_EQ(std::this_thread::get_id(), loop_thread);
          seen[t].push_back(i);
          if (--remaining == 0) loop.exit();
        });
      }
    });
  }
  for (auto& p : posters) p.join();
  runner.join();
  for (const auto& per_thread : seen) {
    ASSERT_EQ(per_thread.size(), 1000u);
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(per_thread[i], i);
  }
}

TEST(EventLoop, ExitRequestedBeforeRunStillEndsTheLoop) {
  EventLoop loop;
  bool ran_before_exit = false;
  loop.post([&] { ran_before_exit = true; });
  loop.exit();
  loop.run();  // would block forever if the early exit were lost
  EXPECT_TRUE(ran_before_exit);
}

TEST(Timer, DestroyedTimerNeverFires) {
  EventLoop loop;
  bool fired = false;
  auto doomed = loop.createTimer([&] { fired = true; });
  doomed->arm(std::chrono::milliseconds(1));
  doomed.reset();
  auto stopper = loop.createTimer([&] { loop.exit(); });
  stopper->arm(std::chrono::milliseconds(20));
  loop.run();
  EXPECT_FALSE(fired);
}

TEST(Timer, RearmingReplacesTheDeadline) {
  EventLoop loop;
  int fired = 0;
  auto timer = loop.createTimer([&] {
    ++fired;
    loop.exit();
  });
  timer->arm(std::chrono::hours(1));
  EXPECT_TRUE(timer->armed());
  timer->arm(std::chrono::milliseconds(1));
  loop.run();
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(timer->armed());
}

}  // namespace
}  // namespace dedup
