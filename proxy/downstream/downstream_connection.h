// DownstreamConnection: one sender's HTTP/1.1 connection. Decodes requests
// (pipelined ones too), starts a Delivery for each, and writes the answers
// back in request order. Enforces the header-read and body-read deadlines
// (slowloris, slow POST) and the idle timeout, answers malformed input with a
// precise status and closes. The bytes it holds (the request being read,
// answers not yet sent) are charged to the process's BufferBudget; a request
// the budget cannot take gets 503 + Retry-After.
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
#include "common/http_message.h"
#include "proxy/buffer_budget.h"
#include "proxy/http1/request_decoder.h"
#include "proxy/response_sink.h"

struct bufferevent;

namespace dedup {

class Worker;

class DownstreamConnection : public ResponseSink,
                             public std::enable_shared_from_this<DownstreamConnection> {
 public:
  DownstreamConnection(Worker& worker, int fd, std::string peer_address);
  ~DownstreamConnection() override;

  void start();
  void respond(uint64_t slot, Response response) override;
  // Shutdown: finish what was asked, then close (idle connections close now).
  void drain();
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
  void rejectStream(Response response, std::string_view reason);
  void writeReadyResponses();
  void updateHeaderTimer();
  // Charges answers waiting in slots plus unsent output to the budget.
  void syncAnswerCharge();
  void close();

  Worker& worker_;
  bufferevent* bev_;
  std::string peer_address_;
  http1::RequestDecoder decoder_;
  std::deque<Slot> slots_;
  uint64_t next_slot_ = 0;
  TimerPtr header_timer_;
  TimerPtr body_timer_;
  BufferCharge request_charge_;  // the request being read; handed to its Delivery
  BufferCharge answer_charge_;   // answers waiting in slots_ and in the output buffer
  TimerPtr resume_timer_;        // resumes reading after pipelining backpressure
  std::string write_buffer_;
  bool reading_stopped_ = false;  // no more requests will be read
  bool close_after_write_ = false;
  bool closed_ = false;
};

}  // namespace dedup
