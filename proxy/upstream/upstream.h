// Upstream: where a delivery sends a request to the app. UpstreamPool is the
// real one; tests substitute a fake to drive Delivery without sockets.
#pragma once

#include <functional>
#include <string>

#include "common/http_message.h"

namespace dedup {

struct UpstreamResult {
  enum class Kind {
    kResponse,     // `response` is the app's complete answer
    kUnreachable,  // connect failed, or the app closed/reset without a full answer
    kBadResponse,  // the app's bytes were not valid HTTP/1.x (or too large)
    kTimeout,      // no complete answer within the timeout
    kOverloaded,   // not sent: too many requests already wait for the app
  };
  Kind kind = Kind::kResponse;
  Response response;
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
