// Upstream: where a delivery sends a request to the app. UpstreamPool is the
// real one; tests substitute a fake to drive Delivery without sockets.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/http_message.h"

namespace dedup {

// The rest of an app's response body too large to buffer, read from the app
// only while the consumer wants it: the app's socket is not read while
// paused, so a slow sender holds back the app instead of filling memory.
// Thread-safety: the worker's thread. Callbacks never run inside a call to
// this interface (resume() defers to the loop); no callback runs after
// on_end, on_error or cancel(), and the handler is dropped then.
class UpstreamBody {
 public:
  struct Handler {
    std::function<void(std::string_view bytes)> on_data;
    std::function<void()> on_end;                     // the body is complete
    std::function<void(std::string error)> on_error;  // the app broke off or timed out
  };
  virtual ~UpstreamBody() = default;
  // Starts reading (paused until then).
  virtual void start(Handler handler) = 0;
  virtual void pause() = 0;
  virtual void resume() = 0;
  // The rest is not wanted (the sender left): the app connection is closed.
  virtual void cancel() = 0;
};
using UpstreamBodyPtr = std::shared_ptr<UpstreamBody>;

struct UpstreamResult {
  enum class Kind {
    kResponse,     // `response` is the app's answer (see `body`)
    kUnreachable,  // connect failed, or the app closed/reset without a full answer
    kBadResponse,  // the app's bytes were not valid HTTP/1.x
    kTimeout,      // no complete answer within the timeout
    kOverloaded,   // not sent: too many requests already wait for the app
  };
  Kind kind = Kind::kResponse;
  // kResponse: the complete answer; or, when `body` is set, the status line,
  // headers and the first bytes of a body that continues through `body`.
  Response response;
  UpstreamBodyPtr body;
  // With `body`: the whole body's length when the app sent Content-Length
  // (else the length is known only at its end).
  std::optional<uint64_t> body_length;
  // kind != kResponse: the final status the app sent before it failed (0 if
  // none): an ack status there still acknowledges the message.
  int head_status = 0;
  std::string error;  // for logs, when kind != kResponse
};
using UpstreamCallback = std::function<void(UpstreamResult)>;

class Upstream {
 public:
  virtual ~Upstream() = default;
  // Calls `done` exactly once, later, on the caller's loop.
  virtual void send(Request request, UpstreamCallback done) = 0;
};

}  // namespace dedup
