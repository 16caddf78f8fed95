#include "proxy/buffer_budget.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace dedup {
namespace {

TEST(BufferBudget, ReservesUpToTheLimitAndNoFurther) {
  BufferBudget budget(100);
  EXPECT_TRUE(budget.tryReserve(60));
  EXPECT_TRUE(budget.tryReserve(40));
  EXPECT_FALSE(budget.tryReserve(1));
  EXPECT_EQ(budget.used(), 100u);
  budget.release(40);
  EXPECT_TRUE(budget.tryReserve(1));
  EXPECT_EQ(budget.used(), 61u);
}

TEST(BufferBudget, ForceCountsBytesAlreadyHeldPastTheLimit) {
  BufferBudget budget(10);
  budget.force(25);
  EXPECT_EQ(budget.used(), 25u);
  EXPECT_FALSE(budget.tryReserve(1));
  budget.release(25);
  EXPECT_TRUE(budget.tryReserve(10));
}

TEST(BufferCharge, GivesEverythingBackWhenDestroyed) {
  BufferBudget budget(1000);
  {
    BufferCharge charge(budget);
    EXPECT_TRUE(charge.tryGrow(300));
    EXPECT_TRUE(charge.tryGrow(200));
    EXPECT_FALSE(charge.tryGrow(501));
    EXPECT_EQ(charge.bytes(), 500u);
    EXPECT_EQ(budget.used(), 500u);
  }
  EXPECT_EQ(budget.used(), 0u);
}

TEST(BufferCharge, ForceToFollowsTheBytesHeldUpAndDown) {
  BufferBudget budget(100);
  BufferCharge charge(budget);
  charge.forceTo(150);
  EXPECT_EQ(budget.used(), 150u);
  charge.forceTo(20);
  EXPECT_EQ(budget.used(), 20u);
  charge.reset();
  EXPECT_EQ(budget.used(), 0u);
}

TEST(BufferCharge, MovingTransfersTheChargeOnce) {
  BufferBudget budget(100);
  BufferCharge first(budget);
  ASSERT_TRUE(first.tryGrow(70));
  BufferCharge second = std::move(first);
  EXPECT_EQ(second.bytes(), 70u);
  first = BufferCharge(budget);  // the moved-from charge holds nothing
  EXPECT_EQ(budget.used(), 70u);
  second = std::move(first);  // assigning over a charge releases it
  EXPECT_EQ(budget.used(), 0u);
}

TEST(BufferBudget, ConcurrentReservationsNeverExceedTheLimit) {
  BufferBudget budget(10'000);
  std::atomic<uint64_t> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        if (budget.tryReserve(3)) granted.fetch_add(3);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(budget.used(), granted.load());
  EXPECT_LE(budget.used(), 10'000u);
  EXPECT_GT(budget.used(), 10'000u - 3);
}

}  // namespace
}  // namespace dedup
