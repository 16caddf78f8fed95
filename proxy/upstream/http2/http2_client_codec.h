// Http2ClientCodec: the client side of h2c (HTTP/2 with prior knowledge) to
// the app, on an nghttp2 session, without a socket: the owner feeds it the
// bytes it reads and writes the bytes it produces. Each submitted Request is
// one stream; its callback runs exactly once with the app's complete answer
// or why there is none (the same kinds as HTTP/1.1: a reset or a lost
// connection is kUnreachable, a malformed or oversized answer kBadResponse),
// unless the exchange is cancelled first. Callbacks run after receive() has
// finished with the session, never inside nghttp2.
//
// Thread-safety: one thread (the worker's).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/http_message.h"
#include "common/status.h"
#include "proxy/upstream/upstream.h"

struct nghttp2_session;

namespace dedup::http2 {

struct Http2ClientLimits {
  size_t max_header_bytes = 64 * 1024;      // the app's header list
  size_t max_body_bytes = 8 * 1024 * 1024;  // the app's body
};

class Http2ClientCodec {
 public:
  static StatusOr<std::unique_ptr<Http2ClientCodec>> create(const Http2ClientLimits& limits);
  ~Http2ClientCodec();
  Http2ClientCodec(const Http2ClientCodec&) = delete;
  Http2ClientCodec& operator=(const Http2ClientCodec&) = delete;

  // Opens a stream for `request` (origin-form target; Host becomes :authority).
  StatusOr<int32_t> submit(Request request, UpstreamCallback done);
  // Resets the stream and gives its callback back (empty if it already ran):
  // the codec never runs it.
  UpstreamCallback cancel(int32_t stream_id);
  Status receive(std::string_view bytes);
  Status produce(std::string& out, size_t limit);
  // The connection is gone: every open exchange ends with `kind`.
  void failAll(UpstreamResult::Kind kind, const std::string& error);

  size_t activeStreams() const { return exchanges_.size(); }
  // The app's SETTINGS_MAX_CONCURRENT_STREAMS (nghttp2 queues streams beyond it).
  uint32_t peerConcurrency() const;
  // New streams may go here (no GOAWAY from the app, session alive).
  bool usable() const;
  bool finished() const;

  // nghttp2 callbacks (free functions in the .cc cast user_data and call these).
  struct Exchange;
  int onHeader(int32_t stream_id, bool trailer, std::string_view name, std::string_view value);
  int onFrameReceived(int32_t stream_id, bool headers_frame, bool end_stream);
  int onDataChunk(int32_t stream_id, const uint8_t* data, size_t length);
  int onStreamClose(int32_t stream_id, uint32_t error_code);
  int onGoaway();
  ssize_t readBody(int32_t stream_id, uint8_t* buffer, size_t length, uint32_t* flags);

 private:
  explicit Http2ClientCodec(const Http2ClientLimits& limits);
  Status init();
  Exchange* find(int32_t stream_id);
  // Ends the exchange; its callback runs once the session is left.
  void finish(int32_t stream_id, UpstreamResult result);
  void runFinished();

  Http2ClientLimits limits_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<Exchange>> exchanges_;
  std::vector<std::pair<UpstreamCallback, UpstreamResult>> finished_;
  bool goaway_received_ = false;
  bool in_session_ = false;
};

}  // namespace dedup::http2
