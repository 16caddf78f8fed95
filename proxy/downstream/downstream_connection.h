// DownstreamConnection: one sender's HTTP/1.1 connection. Decodes requests
// (pipelined ones too), starts a Delivery for each, and writes the answers
// back in request order. Enforces the header-read timeout (slowloris) and the
// idle timeout, answers malformed input with a precise status and closes.
//
// Owned by its Worker through a shared_ptr; deliveries hold it weakly. It
// closes itself through Worker::closeConnection(), which frees it later,
// never inside one of its own callbacks. Thread-safety: the worker's thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "common/event_loop.h"
#include "proxy/downstream/client_connection.h"
#include "proxy/http1/request_decoder.h"

struct bufferevent;

namespace dedup {

class Worker;

class DownstreamConnection : public ClientConnection,
                             public std::enable_shared_from_this<DownstreamConnection> {
 public:
  DownstreamConnection(Worker& worker, int fd, std::string peer_address);
  ~DownstreamConnection() override;

  void start() override;
  void respond(uint64_t slot, Response response) override;
  // Shutdown: finish what was asked, then close (idle connections close now).
  void drain() override;
  bool closed() const { return closed_; }

 private:
  // One request's place in the answer order.
  struct Slot {
    uint64_t id;
    bool head_request;
    bool keep_alive;
    std::optional<Response> response;
  };

  static void onRead(bufferevent*, void* self);
  static void onWrite(bufferevent*, void* self);
  static void onEvent(bufferevent*, short events, void* self);

  void readRequests();
  void dispatch(Request request);
  // Queues a final answer of the proxy's own and stops reading: the stream is unusable.
  void rejectStream(int status, std::string_view reason);
  void writeReadyResponses();
  void updateHeaderTimer();
  void close();

  Worker& worker_;
  bufferevent* bev_;
  std::string peer_address_;
  http1::RequestDecoder decoder_;
  std::deque<Slot> slots_;
  uint64_t next_slot_ = 0;
  TimerPtr header_timer_;
  TimerPtr resume_timer_;  // resumes reading after pipelining backpressure
  std::string write_buffer_;
  bool reading_stopped_ = false;  // no more requests will be read
  bool close_after_write_ = false;
  bool closed_ = false;
};

}  // namespace dedup
