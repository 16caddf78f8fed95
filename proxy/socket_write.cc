#include "proxy/socket_write.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <sys/socket.h>

#include <cerrno>

namespace dedup {

void writeNowOrQueue(bufferevent* bev, std::string_view bytes) {
  const evutil_socket_t fd = bufferevent_getfd(bev);
  if (fd >= 0 && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
    ssize_t sent;
    do {
      sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    if (sent > 0) bytes.remove_prefix(static_cast<size_t>(sent));
  }
  if (!bytes.empty()) bufferevent_write(bev, bytes.data(), bytes.size());
}

}  // namespace dedup
