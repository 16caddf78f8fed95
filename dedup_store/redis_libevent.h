// Binds a hiredis async context to a libevent loop, like hiredis's own
// adapters/libevent.h, with fewer syscalls per command:
//  - the read event is persistent (added once, not again after every reply);
//  - once connected, a command does not add a write event (an epoll_ctl to
//    add it, another to remove it after the write): it activates a pure
//    event that writes everything queued in this loop pass in one go, so
//    commands issued together are also written together. Only a write that
//    the socket could not take whole waits for a real write event, as does
//    the connect.
// Thread-safety: the loop's thread only, like the context.
#pragma once

struct event_base;
struct redisAsyncContext;

namespace dedup {

// REDIS_OK, or REDIS_ERR when something is attached already.
int attachRedisToLibevent(redisAsyncContext* ac, event_base* base);

}  // namespace dedup
