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
#include <memory>
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

  Worker& worker_;
  bufferevent* bev_;
  std::string peer_address_;
  std::unique_ptr<DownstreamCodec> codec_;
  std::string write_buffer_;
  TimerPtr resume_timer_;  // feeds input buffered while reading was stopped
  bool feeding_ = false;   // inside codec_->receive(): no produce() now
  bool failed_ = false;    // the codec refused the input: flush, then close
  bool closed_ = false;
};

}  // namespace dedup
