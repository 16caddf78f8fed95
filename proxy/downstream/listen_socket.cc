#include "proxy/downstream/listen_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dedup {
namespace {

constexpr int kBacklog = 1024;

std::string errnoText() { return std::strerror(errno); }

}  // namespace

StatusOr<int> openListenSocket(const SocketAddress& address, SocketAddress* bound) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (inet_pton(AF_INET, address.host.c_str(), &reinterpret_cast<sockaddr_in&>(storage).sin_addr) ==
      1) {
    auto& v4 = reinterpret_cast<sockaddr_in&>(storage);
    v4.sin_family = AF_INET;
    v4.sin_port = htons(address.port);
    length = sizeof(v4);
  } else if (inet_pton(AF_INET6, address.host.c_str(),
                       &reinterpret_cast<sockaddr_in6&>(storage).sin6_addr) == 1) {
    auto& v6 = reinterpret_cast<sockaddr_in6&>(storage);
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(address.port);
    length = sizeof(v6);
  } else {
    return Status::InvalidArgument("'" + address.host + "' is not an IP address");
  }
  const int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError("socket: " + errnoText());
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 || listen(fd, kBacklog) != 0) {
    const std::string why = errnoText();
    ::close(fd);
    return Status::IOError("cannot listen on " + address.toString() + ": " + why);
  }
  sockaddr_storage actual{};
  socklen_t actual_length = sizeof(actual);
  getsockname(fd, reinterpret_cast<sockaddr*>(&actual), &actual_length);
  *bound = address;
  bound->port =
      ntohs(actual.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(actual).sin_port
                                        : reinterpret_cast<sockaddr_in6&>(actual).sin6_port);
  return fd;
}

Status resolveUpstream(const UpstreamUrl& url, UpstreamOptions* options) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const std::string port = std::to_string(url.port);
  const int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    return Status::InvalidArgument("cannot resolve upstream host '" + url.host +
                                   "': " + gai_strerror(rc));
  }
  std::memcpy(&options->address, result->ai_addr, result->ai_addrlen);
  options->address_len = result->ai_addrlen;
  freeaddrinfo(result);
  return Status::OK();
}

}  // namespace dedup
