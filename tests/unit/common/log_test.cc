#include "common/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace dedup::log {
namespace {

TEST(RateLimit, LetsThroughAtMostItsLinesPerSecondAndCountsTheRest) {
  RateLimit limit(3);
  const uint64_t suppressed_before = suppressedLines();
  int allowed = 0;
  // All within (at most) two seconds: at most 2 × 3 lines pass.
  for (int i = 0; i < 100; ++i) allowed += limit.allow() ? 1 : 0;
  EXPECT_GE(allowed, 3);
  EXPECT_LE(allowed, 6);
  EXPECT_EQ(suppressedLines() - suppressed_before, static_cast<uint64_t>(100 - allowed));
}

// stderr is a pipe nobody reads (a container runtime that stalls): writing
// lines must not block, and what does not fit in the buffer is counted.
TEST(Log, WritesNeverBlockOnAStuckStderrAndCountWhatIsDropped) {
  configure(Level::kInfo, Format::kLogfmt);
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const int saved_stderr = dup(STDERR_FILENO);
  ASSERT_GE(saved_stderr, 0);
  ASSERT_EQ(dup2(pipe_fds[1], STDERR_FILENO), STDERR_FILENO);

  const uint64_t dropped_before = droppedLines();
  const std::string filler(4096, 'x');
  const auto start = std::chrono::steady_clock::now();
  const size_t lines = 4 * kBufferBytes / filler.size();
  for (size_t i = 0; i < lines; ++i) {
    write(Level::kInfo, "filler", {{"data", filler}});
  }
  const auto took = std::chrono::steady_clock::now() - start;
  const uint64_t dropped = droppedLines() - dropped_before;

  // Unblock the logging thread: drain the pipe until everything was written.
  ASSERT_EQ(fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK), 0);
  std::atomic<bool> restored{false};
  std::thread reader([&] {
    char buffer[65536];
    while (!restored.load()) {
      if (read(pipe_fds[0], buffer, sizeof(buffer)) <= 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  });
  flush();
  dup2(saved_stderr, STDERR_FILENO);
  restored = true;
  reader.join();
  close(saved_stderr);
  close(pipe_fds[0]);
  close(pipe_fds[1]);

  EXPECT_LT(took, std::chrono::seconds(1));
  // At most two buffers' worth got through (one being written, blocked on the
  // pipe, and one waiting), plus what the pipe itself holds: the rest was
  // dropped and counted.
  const size_t buffered = 2 * kBufferBytes / filler.size() + 64 * 1024 / filler.size();
  EXPECT_GE(dropped, lines - buffered);
}

}  // namespace
}  // namespace dedup::log
