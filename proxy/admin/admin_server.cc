#include "proxy/admin/admin_server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include <algorithm>
#include <cstring>
#include <string_view>

namespace dedup {
namespace {

// While the port is at its cap, how often to look for closed connections.
constexpr auto kRecountInterval = std::chrono::milliseconds(50);

void reply(evhttp_request* request, int status, const char* content_type, const std::string& body) {
  evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type", content_type);
  evbuffer* out = evbuffer_new();
  evbuffer_add(out, body.data(), body.size());
  evhttp_send_reply(request, status, nullptr, out);
  evbuffer_free(out);
}

void reply(evhttp_request* request, const Response& response) {
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  for (const Header& header : response.headers.entries()) {
    if (header.name != "Content-Type") {
      evhttp_add_header(headers, header.name.c_str(), header.value.c_str());
    }
  }
  const std::string* content_type = response.headers.find("Content-Type");
  reply(request, response.status, content_type != nullptr ? content_type->c_str() : "text/plain",
        response.body);
}

bool isLoopback(std::string_view address) {
  return address.rfind("127.", 0) == 0 || address == "::1" || address.rfind("::ffff:127.", 0) == 0;
}

}  // namespace

AdminServer::AdminServer(int listen_fd, Handlers handlers, Limits limits)
    : listen_fd_(listen_fd),
      handlers_(std::move(handlers)),
      limits_(limits),
      loop_(std::make_shared<EventLoop>()),
      recount_timer_(loop_->createTimer([this] { countConnections(); })) {}

AdminServer::~AdminServer() {
  stop();
  if (http_ != nullptr) evhttp_free(http_);
  for (bufferevent* bev : connections_) bufferevent_decref(bev);
  recount_timer_.reset();
}

Status AdminServer::start() {
  http_ = evhttp_new(loop_->base());
  if (http_ == nullptr) return Status::IOError("cannot serve the admin port");
  bound_ = evhttp_accept_socket_with_handle(http_, listen_fd_);
  if (bound_ == nullptr) return Status::IOError("cannot serve the admin port");
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_DELETE);
  evhttp_set_max_headers_size(http_, kMaxHeaderBytes);
  evhttp_set_max_body_size(http_, kMaxBodyBytes);
  const timeval timeout = {static_cast<time_t>(limits_.timeout.count() / 1000),
                           static_cast<suseconds_t>(limits_.timeout.count() % 1000 * 1000)};
  evhttp_set_timeout_tv(http_, &timeout);
  evhttp_set_bevcb(http_, &AdminServer::onConnection, this);
  evhttp_set_gencb(http_, &AdminServer::onRequest, this);
  thread_ = std::thread([this] { loop_->run(); });
  return Status::OK();
}

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  loop_->exit();
  thread_.join();
}

bufferevent* AdminServer::onConnection(event_base* base, void* self) {
  auto* server = static_cast<AdminServer*>(self);
  // evhttp sets the socket and its callbacks right after this returns.
  bufferevent* bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  if (bev == nullptr) return nullptr;
  // Sweep before adding: this one has no callbacks yet and would look closed.
  server->countConnections();
  bufferevent_incref(bev);
  server->connections_.push_back(bev);
  // Stops the listener's accept loop at once when this one fills the port.
  server->countConnections(/*sweep=*/false);
  return bev;
}

void AdminServer::countConnections(bool sweep) {
  // evhttp frees a connection's bufferevent when it closes it; our reference
  // keeps the object, with its callbacks cleared, until we drop it here.
  const auto closed = [](bufferevent* bev) {
    bufferevent_data_cb read_cb = nullptr, write_cb = nullptr;
    bufferevent_event_cb event_cb = nullptr;
    bufferevent_getcb(bev, &read_cb, &write_cb, &event_cb, nullptr);
    if (read_cb != nullptr || write_cb != nullptr || event_cb != nullptr) return false;
    bufferevent_decref(bev);
    return true;
  };
  if (sweep) {
    connections_.erase(std::remove_if(connections_.begin(), connections_.end(), closed),
                       connections_.end());
  }
  evconnlistener* listener = evhttp_bound_socket_get_listener(bound_);
  const bool full = connections_.size() >= limits_.max_connections;
  if (full && accepting_) {
    evconnlistener_disable(listener);
    accepting_ = false;
    if (handlers_.on_connection_limit) handlers_.on_connection_limit();
  } else if (!full && !accepting_) {
    evconnlistener_enable(listener);
    accepting_ = true;
  }
  if (!connections_.empty()) recount_timer_->arm(kRecountInterval);
}

void AdminServer::onRequest(evhttp_request* request, void* self) {
  static_cast<AdminServer*>(self)->handle(request);
}

void AdminServer::handle(evhttp_request* request) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
  const char* path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  if (path == nullptr) path = "/";
  if (std::strcmp(path, "/metrics") == 0) {
    reply(request, 200, "text/plain; version=0.0.4; charset=utf-8", handlers_.metrics());
  } else if (handlers_.keys != nullptr && AdminKeyApi::handles(path)) {
    handleKeys(request, path);
  } else if (std::strcmp(path, "/healthz") == 0) {
    const bool alive = !handlers_.alive || handlers_.alive();
    reply(request, alive ? 200 : 503, "text/plain", alive ? "ok\n" : "dedup store failed\n");
  } else if (std::strcmp(path, "/readyz") == 0) {
    const bool ready = handlers_.ready();
    reply(request, ready ? 200 : 503, "text/plain", ready ? "ready\n" : "not ready\n");
  } else {
    reply(request, 404, "text/plain", "not found\n");
  }
}

void AdminServer::handleKeys(evhttp_request* request, const char* path) {
  if (!limits_.keys_from_any_peer) {
    char* peer = nullptr;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evhttp_request_get_connection(request), &peer, &port);
    if (peer == nullptr || !isLoopback(peer)) {
      reply(request, 403, "text/plain",
            "the key API answers loopback peers only (see --admin-keys-remote)\n");
      return;
    }
  }
  const char* authorization =
      evhttp_find_header(evhttp_request_get_input_headers(request), "Authorization");
  const std::string authorization_text = authorization != nullptr ? authorization : "";
  const bool is_delete = evhttp_request_get_command(request) == EVHTTP_REQ_DELETE;
  // The answer comes back on the key API's thread (or at once); it is sent from
  // this loop. A peer that left meanwhile: evhttp has detached the request, and
  // sending the reply frees it.
  std::weak_ptr<EventLoop> loop = loop_;
  handlers_.keys->handle(
      is_delete ? "DELETE" : "GET", path, authorization != nullptr ? &authorization_text : nullptr,
      [loop, request](Response response) {
        if (auto alive = loop.lock()) {
          alive->post([request, response = std::move(response)] { reply(request, response); });
        }
      });
}

}  // namespace dedup
