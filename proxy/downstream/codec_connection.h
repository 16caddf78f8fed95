// CodecConnection: an accepted connection whose wire protocol lives in a
// DownstreamCodec (HTTP/2 today), as nghttpx's ClientHandler is to its
// Upstream. It owns the socket, the buffers and the deadlines; it turns each
// request the codec hands over into a Delivery (route lookup included, as the
// HTTP/1.1 connection does) and gives the answers back to the codec.
//
// Bounds: reading stops while the codec refuses more (requests unanswered)
// or while the unsent output is above a high-water mark; an idle connection
// (nothing received, nothing to answer) closes after the idle timeout.
//
// Owned by its Worker through a shared_ptr; deliveries hold it weakly.
// Thread-safety: the worker's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/event_loop.h"
#include "proxy/downstream/client_connection.h"
#include "proxy/downstream/downstream_codec.h"

struct bufferevent;

namespace dedup {

class Worker;

class CodecConnection : public ClientConnection,
                        public CodecHandler,
                        public std::enable_shared_from_this<CodecConnection> {
 public:
  // `codec` is attached with attach() once built (it needs this handler).
  CodecConnection(Worker& worker, int fd, std::string peer_address);
  ~CodecConnection() override;

  void attach(std::unique_ptr<DownstreamCodec> codec) { codec_ = std::move(codec); }

  void start() override;
  void drain() override;
  void respond(uint64_t slot, Response response) override;
  // Streamed answers: each stream's body waits in the codec's send buffer,
  // paced by the sender's flow control and by max_output_buffer.
  bool streamsBodies() const override { return true; }
  void respondHead(uint64_t slot, Response head, std::optional<uint64_t> body_length,
                   std::function<void()> resume) override;
  bool sendBody(uint64_t slot, std::string_view bytes) override;
  void finishBody(uint64_t slot) override;
  void abort(uint64_t slot) override;

  void onRequest(uint64_t slot, Request request) override;
  Response onRejected(int status, std::string_view reason) override;

 private:
  static void onRead(bufferevent*, void* self);
  static void onWrite(bufferevent*, void* self);
  static void onEvent(bufferevent*, short events, void* self);

  // Feeds buffered input to the codec while it wants more.
  void feed();
  // Writes what the codec has to send; closes once it is finished.
  void flush();
  void updateReading();
  void close();
  // Unsent bytes: the socket's output and what is about to go there.
  size_t unsentBytes() const;
  // Calls `resume` of the paused streamed answers that have room again.
  void resumeProducers();

  Worker& worker_;
  bufferevent* bev_;
  std::string peer_address_;
  std::unique_ptr<DownstreamCodec> codec_;
  std::string write_buffer_;
  const size_t max_output_;  // high-water mark of one streamed answer's unsent bytes
  std::map<uint64_t, std::function<void()>> resumes_;  // streamed answers still sending
  std::set<uint64_t> paused_;  // of those, the ones told to wait (sendBody() false)
  TimerPtr resume_timer_;      // feeds input buffered while reading was stopped
  bool feeding_ = false;       // inside codec_->receive(): no produce() now
  bool failed_ = false;        // the codec refused the input: flush, then close
  bool closed_ = false;
};

}  // namespace dedup
