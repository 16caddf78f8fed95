// DownstreamCodec: a wire protocol of the sender side, without a socket (as
// nghttpx's Upstream is to its ClientHandler). The connection that owns the
// socket (codec_connection.h) feeds it the bytes it reads, writes the bytes it
// produces, and passes each delivery's answer back through respond(). The
// codec hands every complete, protocol-neutral Request to its CodecHandler
// with a slot number that respond() later names.
//
// Reentrancy: the codec may call its handler from inside receive(); the
// handler may call respond() from there (a replay answers at once), but must
// not call receive() or produce() until receive() has returned.
// Thread-safety: one thread (the connection's worker).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/http_message.h"
#include "common/status.h"

namespace dedup {

class CodecHandler {
 public:
  virtual ~CodecHandler() = default;
  // A complete request; answer it with DownstreamCodec::respond(slot, ...).
  virtual void onRequest(uint64_t slot, Request request) = 0;
  // The codec answers a request itself (malformed, over a limit): the
  // handler counts it and gives the answer to send.
  virtual Response onRejected(int status, std::string_view reason) = 0;
};

class DownstreamCodec {
 public:
  virtual ~DownstreamCodec() = default;

  // Bytes read from the socket. An error means the connection is unusable:
  // write what produce() still gives (e.g. a GOAWAY), then close.
  virtual Status receive(std::string_view bytes) = 0;
  // Appends bytes ready for the socket to `out`, stopping once `out` holds
  // about `limit` bytes (the rest waits for the next call).
  virtual Status produce(std::string& out, size_t limit) = 0;
  // The answer to the request handed over with `slot`. Answers to requests
  // the sender has abandoned meanwhile are dropped.
  virtual void respond(uint64_t slot, Response response) = 0;
  // A streamed answer (see response_sink.h): the head (with the body's first
  // bytes) now, the rest through appendBody() and finishBody(). The body's
  // length goes on the wire only when known. Returns false if the sender has
  // abandoned the request meanwhile (later calls for it are no-ops).
  virtual bool respondHead(uint64_t slot, Response head, std::optional<uint64_t> body_length) = 0;
  // More of a streamed body. False if it was dropped (the stream is gone,
  // cut, or its answer has no body).
  virtual bool appendBody(uint64_t slot, std::string_view bytes) = 0;
  // The streamed body is complete.
  virtual void finishBody(uint64_t slot) = 0;
  // No complete answer can be given: the stream is cut (answered or not).
  virtual void abortStream(uint64_t slot) = 0;
  // Body bytes of `slot` waiting in the codec (not yet produced); 0 if gone.
  virtual size_t pendingBody(uint64_t slot) const = 0;
  // Shutdown: accept no new requests, finish the ones already taken.
  virtual void drain() = 0;

  // Whether the connection should read more now (false: backpressure).
  virtual bool wantsRead() const = 0;
  // Requests handed over and not yet answered, or answers still being sent:
  // the connection waits for the app, not for the sender.
  virtual bool busy() const = 0;
  // Nothing more to read or write: the connection may close.
  virtual bool finished() const = 0;
};

}  // namespace dedup
