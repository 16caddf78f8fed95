#include "common/event_loop.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace dedup {
namespace {

void enableLibeventThreads() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (evthread_use_pthreads() != 0) {
      std::fprintf(stderr, "dedup-proxy: libevent has no pthreads support\n");
      std::abort();
    }
  });
}

timeval toTimeval(std::chrono::milliseconds d) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

}  // namespace

Timer::Timer(EventLoop& loop, std::function<void()> on_fire)
    : on_fire_(std::move(on_fire)), event_(evtimer_new(loop.base(), &Timer::onFire, this)) {}

Timer::~Timer() { event_free(event_); }

void Timer::arm(std::chrono::milliseconds delay) {
  const timeval tv = toTimeval(delay);
  evtimer_add(event_, &tv);
}

void Timer::disarm() { evtimer_del(event_); }

bool Timer::armed() const { return evtimer_pending(event_, nullptr) != 0; }

void Timer::onFire(int, short, void* self) { static_cast<Timer*>(self)->on_fire_(); }

EventLoop::EventLoop() {
  enableLibeventThreads();
  base_ = event_base_new();
  if (base_ == nullptr) {
    std::fprintf(stderr, "dedup-proxy: event_base_new failed\n");
    std::abort();
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    std::fprintf(stderr, "dedup-proxy: eventfd failed\n");
    std::abort();
  }
  posted_event_ = event_new(base_, wake_fd_, EV_READ | EV_PERSIST, &EventLoop::onPosted, this);
  event_add(posted_event_, nullptr);
}

EventLoop::~EventLoop() {
  event_free(posted_event_);
  event_base_free(base_);
  ::close(wake_fd_);
}

void EventLoop::run() { event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY); }

// event_base_loop() clears a pending loopbreak when it starts, so a break
// requested before the loop thread got there would be lost and run() would
// never return; a posted break waits in the queue until the loop runs it.
void EventLoop::exit() {
  post([this] { event_base_loopbreak(base_); });
}

void EventLoop::post(std::function<void()> fn) {
  bool was_empty;
  {
    MutexLock lock(posted_mutex_);
    was_empty = posted_.empty();
    posted_.push_back(std::move(fn));
  }
  // One wake-up drains the whole queue.
  if (was_empty) {
    const uint64_t one = 1;
    while (::write(wake_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
  }
}

void EventLoop::onPosted(int, short, void* self) { static_cast<EventLoop*>(self)->runPosted(); }

void EventLoop::runPosted() {
  // Reset the eventfd before taking the queue: a post after this point
  // either lands in this batch or wakes the loop again.
  uint64_t count;
  while (::read(wake_fd_, &count, sizeof(count)) < 0 && errno == EINTR) {
  }
  std::vector<std::function<void()>> batch;
  {
    MutexLock lock(posted_mutex_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

}  // namespace dedup
