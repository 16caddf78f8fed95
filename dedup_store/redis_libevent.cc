#include "dedup_store/redis_libevent.h"

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

namespace dedup {
namespace {

struct RedisEvents {
  redisAsyncContext* context = nullptr;
  event* read_event = nullptr;   // persistent
  event* write_event = nullptr;  // connect, or a write the socket could not take whole
  event* flush_event = nullptr;  // no fd: activated to write what was queued
  bool reading = false;
  bool writing = false;        // write_event is added
  bool flush_pending = false;  // flush_event is active
  bool flushing = false;       // inside redisAsyncHandleWrite from a flush
  bool cleaned_up = false;     // hiredis let go while we were flushing
};

void freeEvents(RedisEvents* e) {
  event_free(e->read_event);
  event_free(e->write_event);
  event_free(e->flush_event);
  delete e;
}

void onRead(evutil_socket_t, short, void* arg) {
  redisAsyncHandleRead(static_cast<RedisEvents*>(arg)->context);  // may free `arg`
}

// Writes what hiredis has queued; a partial write asks for the write event
// (addWrite sees `flushing`). hiredis may let go of the context meanwhile.
void handleWrite(RedisEvents* e) {
  e->flushing = true;
  redisAsyncHandleWrite(e->context);
  e->flushing = false;
  if (e->cleaned_up) freeEvents(e);
}

void onWrite(evutil_socket_t, short, void* arg) {
  auto* e = static_cast<RedisEvents*>(arg);
  e->writing = false;  // not persistent: it fired once
  handleWrite(e);
}

void onFlush(evutil_socket_t, short, void* arg) {
  auto* e = static_cast<RedisEvents*>(arg);
  e->flush_pending = false;
  handleWrite(e);
}

void addRead(void* data) {
  auto* e = static_cast<RedisEvents*>(data);
  if (e->reading) return;
  e->reading = true;
  event_add(e->read_event, nullptr);
}

void delRead(void* data) {
  auto* e = static_cast<RedisEvents*>(data);
  if (!e->reading) return;
  e->reading = false;
  event_del(e->read_event);
}

void addWrite(void* data) {
  auto* e = static_cast<RedisEvents*>(data);
  const bool connected = (e->context->c.flags & REDIS_CONNECTED) != 0;
  if (!connected || e->flushing) {
    // Connecting, or the socket took only part of the buffer: wait until it
    // is writable.
    if (!e->writing) {
      e->writing = true;
      event_add(e->write_event, nullptr);
    }
    return;
  }
  if (e->writing || e->flush_pending) return;  // a write is on its way already
  e->flush_pending = true;
  event_active(e->flush_event, EV_WRITE, 1);
}

void delWrite(void* data) {
  auto* e = static_cast<RedisEvents*>(data);
  if (!e->writing) return;
  e->writing = false;
  event_del(e->write_event);
}

void cleanup(void* data) {
  auto* e = static_cast<RedisEvents*>(data);
  event_del(e->read_event);
  event_del(e->write_event);
  event_del(e->flush_event);
  if (e->flushing) {
    e->cleaned_up = true;  // onFlush frees it when redisAsyncHandleWrite returns
    return;
  }
  freeEvents(e);
}

}  // namespace

int attachRedisToLibevent(redisAsyncContext* ac, event_base* base) {
  if (ac->ev.data != nullptr) return REDIS_ERR;
  auto* e = new RedisEvents;
  e->context = ac;
  const int fd = ac->c.fd;
  e->read_event = event_new(base, fd, EV_READ | EV_PERSIST, onRead, e);
  e->write_event = event_new(base, fd, EV_WRITE, onWrite, e);
  e->flush_event = event_new(base, -1, 0, onFlush, e);
  ac->ev.addRead = addRead;
  ac->ev.delRead = delRead;
  ac->ev.addWrite = addWrite;
  ac->ev.delWrite = delWrite;
  ac->ev.cleanup = cleanup;
  ac->ev.data = e;
  // As hiredis's adapter: the write event tells when the connect finished.
  addRead(e);
  e->writing = true;
  event_add(e->write_event, nullptr);
  return REDIS_OK;
}

}  // namespace dedup
