// DownstreamConnection: one sender's HTTP/1.1 connection. Decodes requests
// (pipelined ones too), starts a Delivery for each, and writes the answers
// back in request order, whole or streamed (a streamed body holds back the
// answers after it). Enforces the header-read and body-read deadlines
// (slowloris, slow POST) and the idle timeout, answers malformed input with a
// precise status and closes. The bytes it holds (the request being read,
// answers not yet sent) are charged to the process's BufferBudget; a request
// the budget cannot take gets 503 + Retry-After.
//
// Backpressure both ways: the connection is not read while its unsent output
// is over --max-output-buffer or its pipeline is full (a request counts until
// its answer is written out, not merely serialised); a streamed body pauses
// its app connection likewise; --write-timeout closes a connection that takes
// no bytes. After a request answered with close, further bytes are read and
// discarded, never buffered.
//
// Owned by its Worker through a shared_ptr; deliveries hold it weakly. It
// closes itself through Worker::closeConnection(), which frees it later,
// never inside one of its own callbacks. Thread-safety: the worker's thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/event_loop.h"
#include "common/http_message.h"
#include "proxy/buffer_budget.h"
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
  bool streamsBodies() const override { return true; }
  void respondHead(uint64_t slot, Response head, std::optional<uint64_t> body_length,
                   std::function<void()> resume) override;
  bool sendBody(uint64_t slot, std::string_view bytes) override;
  void finishBody(uint64_t slot) override;
  void abort(uint64_t slot) override;
  // Shutdown: finish what was asked, then close (idle connections close now).
  void drain() override;
  bool closed() const { return closed_; }

 private:
  // One request's place in the answer order.
  struct Slot {
    uint64_t id = 0;
    bool head_request = false;
    bool keep_alive = false;
    bool http10 = false;  // a streamed body of unknown length ends with the connection
    // The whole answer, or the head of a streamed one.
    std::optional<Response> response;
    // Streamed answers only:
    bool streamed = false;
    bool head_written = false;
    bool chunked = false;
    bool body_done = false;
    bool aborted = false;  // cut: the connection closes when this slot is reached
    bool producer_paused = false;
    std::optional<uint64_t> body_length;
    std::string pending;  // body bytes not yet framed into the output
    std::function<void()> resume;
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
  void writeStreamed(Slot& slot);
  void flushWriteBuffer();
  // Forgets answers written out; resumes a paused body; reads when allowed.
  void afterWrite();
  Slot* findSlot(uint64_t id);
  bool acceptsRequests() const;
  void updateReading();
  void resumeProducer();
  // Drops every slot, waking paused bodies so their deliveries see the end.
  void dropSlots();
  size_t unsentBytes() const;
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
  const size_t max_output_;  // --max-output-buffer
  uint64_t bytes_out_ = 0;   // bytes handed to the socket (sent or queued) so far
  // bytes_out_ at the end of each answer serialised but not yet written out:
  // those requests still count against the pipeline.
  std::deque<uint64_t> unflushed_;
  bool reading_stopped_ = false;  // no more requests will be read (the rest is discarded)
  bool peer_eof_ = false;
  bool close_after_write_ = false;
  bool closed_ = false;
};

}  // namespace dedup
