#include "proxy/upstream/upstream_pool.h"

#include <algorithm>

#include "proxy/upstream/upstream_connection.h"

namespace dedup {

UpstreamPool::UpstreamPool(EventLoop& loop, UpstreamOptions options)
    : loop_(loop),
      options_(std::move(options)),
      collect_timer_(loop.createTimer([this] { closed_.clear(); })),
      waiting_timer_(loop.createTimer([this] { dispatch(); })) {}

UpstreamPool::~UpstreamPool() = default;

void UpstreamPool::send(Request request, UpstreamCallback done) {
  if (waiting_.size() >= options_.max_waiting) {
    if (options_.on_queue_full) options_.on_queue_full();
    // Later, on the loop, as the interface promises.
    loop_.post([done = std::move(done)] {
      UpstreamResult result;
      result.kind = UpstreamResult::Kind::kOverloaded;
      result.error = "too many requests waiting for a connection to the app";
      done(std::move(result));
    });
    return;
  }
  waiting_.push_back(
      {std::move(request), std::move(done), std::chrono::steady_clock::now() + options_.timeout});
  dispatch();
}

void UpstreamPool::dispatch() {
  const auto now = std::chrono::steady_clock::now();
  // Requests that waited their whole timeout for a connection.
  while (!waiting_.empty() && waiting_.front().deadline <= now) {
    UpstreamCallback done = std::move(waiting_.front().done);
    waiting_.pop_front();
    UpstreamResult result;
    result.kind = UpstreamResult::Kind::kTimeout;
    result.error = "no free connection to the app in time";
    done(std::move(result));
  }
  while (!waiting_.empty()) {
    UpstreamConnection* connection = nullptr;
    for (auto& c : connections_) {
      if (c->idle()) {
        connection = c.get();
        break;
      }
    }
    if (connection == nullptr) {
      if (static_cast<int>(connections_.size()) >= options_.max_connections) break;
      auto fresh = std::make_unique<UpstreamConnection>(*this, loop_, options_);
      if (!fresh->connect()) {
        Exchange exchange = std::move(waiting_.front());
        waiting_.pop_front();
        UpstreamResult result;
        result.kind = UpstreamResult::Kind::kUnreachable;
        result.error = "cannot open a socket to the app";
        exchange.done(std::move(result));
        continue;
      }
      connection = fresh.get();
      connections_.push_back(std::move(fresh));
    }
    Exchange exchange = std::move(waiting_.front());
    waiting_.pop_front();
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(exchange.deadline - now);
    connection->start(exchange.request, std::max(left, std::chrono::milliseconds(1)),
                      std::move(exchange.done));
  }
  if (!waiting_.empty()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(waiting_.front().deadline - now);
    waiting_timer_->arm(std::max(left, std::chrono::milliseconds(1)));
  } else {
    waiting_timer_->disarm();
  }
}

void UpstreamPool::onConnectionIdle(UpstreamConnection&) {
  if (!waiting_.empty()) waiting_timer_->arm(std::chrono::milliseconds(0));
}

void UpstreamPool::onConnectionClosed(UpstreamConnection& connection) {
  auto it = std::find_if(connections_.begin(), connections_.end(),
                         [&](const auto& c) { return c.get() == &connection; });
  if (it != connections_.end()) {
    closed_.push_back(std::move(*it));
    connections_.erase(it);
    collect_timer_->arm(std::chrono::milliseconds(0));
  }
  if (!waiting_.empty()) waiting_timer_->arm(std::chrono::milliseconds(0));
}

}  // namespace dedup
