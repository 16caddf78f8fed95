// ResponseSink: where a delivery sends its final answer. The downstream
// connection implements it; a delivery holds it weakly, because the sender
// may hang up while the app is still working and the delivery must still
// commit the app's answer.
#pragma once

#include <cstdint>

#include "common/http_message.h"

namespace dedup {

class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // `slot` identifies the request on its connection (answers go out in
  // request order whatever order they are produced in).
  virtual void respond(uint64_t slot, Response response) = 0;
};

}  // namespace dedup
