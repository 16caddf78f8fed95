// Http2ServerCodec: the server side of HTTP/2 over cleartext with prior
// knowledge (h2c, RFC 9113 §3.3), built on an nghttp2 session. Each stream
// whose request arrives complete (END_STREAM) becomes one Request for the
// handler; a stream the sender resets before that is dropped, never handed
// over. Answers go out through an nghttp2 data provider reading the stream's
// own send buffer.
//
// Bounds (Http2Limits): concurrent streams, the header list per stream
// (counted in the header callback: HPACK can make a small frame decode to a
// large list), the body per stream, the request body bytes one connection
// holds (past it, stream window updates wait: real flow control, the sender
// stalls instead of the proxy buffering), the requests handed over and not yet
// answered (reading stops), RST_STREAM rate (rapid reset, CVE-2023-44487) and
// CONTINUATION frames per header block, where this nghttp2 has the options.
//
// Thread-safety: one thread. See downstream_codec.h for reentrancy.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "proxy/downstream/downstream_codec.h"

struct nghttp2_session;

namespace dedup::http2 {

struct Http2Limits {
  // SETTINGS_MAX_CONCURRENT_STREAMS, and the requests handed over and not yet
  // answered on one connection (beyond it the connection stops reading).
  uint32_t max_concurrent_streams = 100;
  // Per stream: the header list (name + value + 32 per field, as RFC 9113
  // counts it; → 431) and the body (→ 413).
  uint64_t max_header_list_bytes = 64 * 1024;
  uint64_t max_body_bytes = 8 * 1024 * 1024;
  // Request body bytes one connection may hold before it stops giving window
  // back (the oldest incomplete stream always progresses).
  uint64_t held_body_budget = 8 * 1024 * 1024;
  // Receive windows: SETTINGS_INITIAL_WINDOW_SIZE and the connection's. The
  // connection's is given back as bytes arrive; a stream's only as the
  // budget allows, so the bodies one connection holds stay below
  // held_body_budget + max_concurrent_streams * stream_window.
  int32_t stream_window = 64 * 1024;
  int32_t connection_window = 1024 * 1024;
  // RST_STREAM frames the sender may send: a burst, then this many per second.
  uint64_t reset_burst = 1000;
  uint64_t reset_rate = 33;
  // CONTINUATION frames per header block.
  size_t max_continuations = 8;
};

class Http2ServerCodec : public DownstreamCodec {
 public:
  static StatusOr<std::unique_ptr<Http2ServerCodec>> create(CodecHandler& handler,
                                                            const Http2Limits& limits);
  ~Http2ServerCodec() override;
  Http2ServerCodec(const Http2ServerCodec&) = delete;
  Http2ServerCodec& operator=(const Http2ServerCodec&) = delete;

  Status receive(std::string_view bytes) override;
  Status produce(std::string& out, size_t limit) override;
  void respond(uint64_t slot, Response response) override;
  bool respondHead(uint64_t slot, Response head, std::optional<uint64_t> body_length) override;
  bool appendBody(uint64_t slot, std::string_view bytes) override;
  void finishBody(uint64_t slot) override;
  void abortStream(uint64_t slot) override;
  size_t pendingBody(uint64_t slot) const override;
  void drain() override;
  bool wantsRead() const override;
  bool busy() const override;
  bool finished() const override;

  // Request body bytes held now (for tests of the flow control).
  uint64_t heldBodyBytes() const { return held_body_; }

  // nghttp2 callbacks (free functions in the .cc cast user_data and call these).
  struct Stream;
  int onBeginHeaders(int32_t stream_id);
  int onHeader(int32_t stream_id, bool trailer, std::string_view name, std::string_view value);
  int onFrameReceived(int32_t stream_id, bool headers_frame, bool end_stream);
  int onDataChunk(int32_t stream_id, const uint8_t* data, size_t length);
  int onStreamClose(int32_t stream_id);
  int onFrameSent(int32_t stream_id, bool end_stream);
  ssize_t readBody(int32_t stream_id, uint8_t* buffer, size_t length, uint32_t* flags);

 private:
  Http2ServerCodec(CodecHandler& handler, const Http2Limits& limits);
  Status init();

  Stream* find(int32_t stream_id);
  const Stream* find(int32_t stream_id) const;
  // The request is complete: hand it over, or answer it when it was rejected.
  void complete(Stream& stream);
  // The proxy answers this stream itself; further request bytes are discarded.
  void reject(Stream& stream, int status, std::string_view reason);
  // `body_length`: for a streamed answer (the body follows), its length if known.
  void submit(Stream& stream, Response response, bool streamed = false,
              std::optional<uint64_t> body_length = std::nullopt);
  // A streamed body's bytes are in (or it is complete): restart the stream.
  void resumeData(Stream& stream);
  // Gives the window back for body bytes held back, as far as the budget allows.
  void consumeHeldBack();
  bool mayConsume(const Stream& stream) const;
  void consume(Stream& stream, size_t length);

  CodecHandler& handler_;
  Http2Limits limits_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;  // by id: the oldest first
  uint64_t held_body_ = 0;                              // bodies of the open streams
  uint64_t complete_body_ = 0;   // of those, bodies of complete requests (freed by answers)
  uint32_t unanswered_ = 0;      // handed over, respond() not yet called
  std::set<uint64_t> awaiting_;  // those slots: each is answered once
  bool draining_ = false;
  int32_t last_stream_id_ = 0;  // the GOAWAY's: later streams are refused
};

}  // namespace dedup::http2
