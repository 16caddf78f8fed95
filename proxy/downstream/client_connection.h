// ClientConnection: one accepted downstream connection, whatever its wire
// protocol, as its Worker sees it. The HTTP/1.1 connection
// (downstream_connection.h) and the codec-driven connection
// (codec_connection.h, HTTP/2 today) implement it.
//
// Owned by its Worker through a shared_ptr; deliveries hold it weakly (as
// their ResponseSink). It closes itself through Worker::closeConnection(),
// which frees it later. Thread-safety: the worker's thread.
#pragma once

#include "proxy/response_sink.h"

namespace dedup {

class ClientConnection : public ResponseSink {
 public:
  // Starts reading the socket.
  virtual void start() = 0;
  // Shutdown: finish what was asked, then close (idle connections close now).
  virtual void drain() = 0;
};

}  // namespace dedup
