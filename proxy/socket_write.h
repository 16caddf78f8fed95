// Writing to a connected bufferevent without waiting a loop turn.
//
// bufferevent_write() only queues: the bytes go out once the loop has asked
// epoll for EPOLLOUT and been told the socket is writable, which costs two
// epoll_ctl calls and an extra epoll_wait per answer. When nothing is queued
// ahead, the socket almost always takes the whole answer at once, so send it
// straight away and queue only what it refused.
//
// Thread-safety: call on the bufferevent's loop thread.
#pragma once

#include <string_view>

struct bufferevent;

namespace dedup {

// Sends `bytes` now if the output buffer is empty, queueing what the socket
// does not take (or everything, on an error, which the bufferevent then
// reports through its event callback as for any failed write). The socket
// must be connected.
void writeNowOrQueue(bufferevent* bev, std::string_view bytes);

}  // namespace dedup
