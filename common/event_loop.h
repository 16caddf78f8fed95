// EventLoop: one libevent event_base, run by exactly one thread.
//
// Everything about a loop is used from its own thread, except post(), which
// any thread may call to run a function on the loop's thread (this is how
// store threads hand results back to a worker). post() wakes the loop through
// its own eventfd, never through libevent, so a posting thread never contends
// for the event_base's lock while the loop runs callbacks. Timers are RAII: destroying a
// Timer disarms it, so a callback never runs for an object that is gone.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "common/mutex.h"

struct event;
struct event_base;

namespace dedup {

class EventLoop;

class Timer {
 public:
  Timer(EventLoop& loop, std::function<void()> on_fire);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // (Re)arms the timer to fire once after `delay`.
  void arm(std::chrono::milliseconds delay);
  void disarm();
  bool armed() const;

 private:
  static void onFire(int, short, void* self);

  std::function<void()> on_fire_;
  event* event_;
};
using TimerPtr = std::unique_ptr<Timer>;

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  event_base* base() const { return base_; }

  // Runs until exit() is called. Call from the owning thread.
  void run();
  // Makes run() return after the functions posted before it ran. Thread-safe,
  // and it holds even when called before run() has started.
  void exit();
  // Runs `fn` on the loop's thread, in post order. Thread-safe. Functions
  // still queued when the loop is destroyed are destroyed without running.
  void post(std::function<void()> fn);

  TimerPtr createTimer(std::function<void()> on_fire) {
    return std::make_unique<Timer>(*this, std::move(on_fire));
  }

 private:
  static void onPosted(int, short, void* self);
  void runPosted();

  event_base* base_;
  int wake_fd_;  // eventfd: readable while posted_ may hold functions
  event* posted_event_;
  Mutex posted_mutex_;
  std::vector<std::function<void()>> posted_ GUARDED_BY(posted_mutex_);
};

}  // namespace dedup
