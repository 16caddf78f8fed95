#include "dedup_store/redis_sentinel.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <charconv>

namespace dedup {
namespace {

std::string describe(const RedisAddress& a) { return a.host + ":" + std::to_string(a.port); }

std::string text(const redisReply* r) {
  return std::string(r->str != nullptr ? r->str : "", r->len);
}

}  // namespace

SentinelResolver::SentinelResolver(EventLoop& loop, std::vector<RedisAddress> sentinels,
                                   std::string master_name, std::chrono::milliseconds timeout)
    : loop_(loop),
      sentinels_(std::move(sentinels)),
      master_name_(std::move(master_name)),
      timeout_(timeout) {
  timer_ = loop_.createTimer(
      [this] { fail("no answer within " + std::to_string(timeout_.count()) + " ms"); });
}

SentinelResolver::~SentinelResolver() {
  alive_.reset();
  drop(true);
}

void SentinelResolver::resolve(Callback done) {
  drop(true);
  done_ = std::move(done);
  next_ = 0;
  errors_.clear();
  tryNext();
}

void SentinelResolver::tryNext() {
  while (next_ < sentinels_.size()) {
    const RedisAddress& sentinel = sentinels_[next_++];
    redisAsyncContext* ctx = redisAsyncConnect(sentinel.host.c_str(), sentinel.port);
    if (ctx == nullptr || ctx->err != 0) {
      errors_ +=
          "; " + describe(sentinel) + ": " + (ctx != nullptr ? ctx->errstr : "out of memory");
      if (ctx != nullptr) redisAsyncFree(ctx);
      continue;
    }
    ctx_ = ctx;
    ctx_->data = this;
    redisLibeventAttach(ctx_, loop_.base());
    redisAsyncSetConnectCallback(ctx_, &SentinelResolver::onConnectStatic);
    redisAsyncSetDisconnectCallback(ctx_, &SentinelResolver::onDisconnectStatic);
    const char* argv[] = {"SENTINEL", "get-master-addr-by-name", master_name_.c_str()};
    const size_t lens[] = {8, 23, master_name_.size()};
    if (redisAsyncCommandArgv(ctx_, &SentinelResolver::onReplyStatic, nullptr, 3, argv, lens) !=
        REDIS_OK) {
      fail("cannot queue the query");
      return;
    }
    timer_->arm(timeout_);
    return;
  }
  finish(Status::Unavailable("redis sentinel: no sentinel named master \"" + master_name_ + "\"" +
                             (errors_.empty() ? "" : " (" + errors_.substr(2) + ")")));
}

void SentinelResolver::onReply(const void* raw) {
  const auto* reply = static_cast<const redisReply*>(raw);
  if (reply == nullptr) {
    drop(false);  // hiredis is freeing the connection
    fail("connection lost");
    return;
  }
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
      reply->element[0]->type == REDIS_REPLY_STRING &&
      reply->element[1]->type == REDIS_REPLY_STRING) {
    RedisAddress master;
    master.host = text(reply->element[0]);
    const std::string port = text(reply->element[1]);
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), master.port);
    if (ec == std::errc() && end == port.data() + port.size() && !master.host.empty()) {
      drop(true);
      finish(std::move(master));
      return;
    }
  }
  if (reply->type == REDIS_REPLY_NIL) {
    fail("does not know the master");
  } else if (reply->type == REDIS_REPLY_ERROR) {
    fail(text(reply));
  } else {
    fail("unexpected reply");
  }
}

void SentinelResolver::fail(const std::string& why) {
  if (next_ > 0) errors_ += "; " + describe(current()) + ": " + why;
  drop(true);
  tryNext();
}

void SentinelResolver::drop(bool free_ctx) {
  timer_->disarm();
  redisAsyncContext* ctx = ctx_;
  ctx_ = nullptr;
  if (ctx == nullptr) return;
  ctx->data = nullptr;
  if (free_ctx) redisAsyncFree(ctx);  // inside its own callback hiredis defers this
}

void SentinelResolver::finish(StatusOr<RedisAddress> result) {
  Callback done = std::move(done_);
  done_ = nullptr;
  if (!done) return;
  loop_.post([alive = std::weak_ptr<char>(alive_), done = std::move(done),
              result = std::move(result)]() mutable {
    if (!alive.expired()) done(std::move(result));
  });
}

void SentinelResolver::onReplyStatic(redisAsyncContext* ac, void* reply, void*) {
  auto* self = static_cast<SentinelResolver*>(ac->data);
  if (self != nullptr) self->onReply(reply);
}

void SentinelResolver::onConnectStatic(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<SentinelResolver*>(ac->data);
  if (self == nullptr || status == REDIS_OK) return;
  const std::string why = std::string("cannot connect: ") + ac->errstr;
  self->drop(false);  // hiredis frees the context after this returns
  self->fail(why);
}

void SentinelResolver::onDisconnectStatic(const redisAsyncContext* ac, int) {
  auto* self = static_cast<SentinelResolver*>(ac->data);
  if (self == nullptr) return;
  self->drop(false);
  self->fail("connection closed");
}

}  // namespace dedup
