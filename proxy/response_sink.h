// ResponseSink: where a delivery sends its final answer. The downstream
// connection implements it; a delivery holds it weakly, because the sender
// may hang up while the app is still working and the delivery must still
// commit the app's answer.
//
// An answer comes either whole (respond) or streamed (respondHead, then
// sendBody… and finishBody, or abort): an app body over --max-stored-body is
// passed through in pieces, with flow control, so memory per answer stays
// bounded whatever the app sends. Every call is on the worker's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <utility>

#include "common/http_message.h"

namespace dedup {

class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // `slot` identifies the request on its connection (answers go out in
  // request order whatever order they are produced in).
  virtual void respond(uint64_t slot, Response response) = 0;

  // --- Streamed answers (optional; see streamsBodies) ---------------------
  //
  // True if the sink implements the calls below. A sink that does not gets
  // streamed answers buffered whole by the delivery (up to --max-body-size,
  // else abort()), through respond().
  virtual bool streamsBodies() const { return false; }
  // The status line and headers; `head.body` holds the body's first bytes.
  // `body_length`: the whole body's length, when known (else the sink frames
  // the body itself, e.g. chunked, and learns its end from finishBody).
  // `resume` is called, later and on the loop, once the sink has room again
  // after sendBody() returned false.
  virtual void respondHead(uint64_t /*slot*/, Response /*head*/,
                           std::optional<uint64_t> /*body_length*/,
                           std::function<void()> /*resume*/) {}
  // More of the body. Always takes `bytes`; returns false when its unsent
  // output is over its high-water mark: send nothing more until `resume`.
  virtual bool sendBody(uint64_t /*slot*/, std::string_view /*bytes*/) { return false; }
  // The body is complete.
  virtual void finishBody(uint64_t /*slot*/) {}
  // No complete answer can be given for `slot` (the app broke off mid-body):
  // the sender must not take what it got for a whole answer, so the stream
  // is cut (HTTP/1.1: the connection closes once earlier answers are out).
  // Valid with or without an earlier respondHead().
  virtual void abort(uint64_t slot) {
    Response response;
    response.status = 502;
    response.keep_alive = false;
    respond(slot, std::move(response));
  }
};

}  // namespace dedup
