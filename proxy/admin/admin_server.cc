#include "proxy/admin/admin_server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <cstring>

namespace dedup {
namespace {

void reply(evhttp_request* request, int status, const char* content_type, const std::string& body) {
  evhttp_add_header(evhttp_request_get_output_headers(request), "Content-Type", content_type);
  evbuffer* out = evbuffer_new();
  evbuffer_add(out, body.data(), body.size());
  evhttp_send_reply(request, status, nullptr, out);
  evbuffer_free(out);
}

}  // namespace

AdminServer::AdminServer(int listen_fd, Handlers handlers)
    : listen_fd_(listen_fd), handlers_(std::move(handlers)) {}

AdminServer::~AdminServer() {
  stop();
  if (http_ != nullptr) evhttp_free(http_);
}

Status AdminServer::start() {
  http_ = evhttp_new(loop_.base());
  if (http_ == nullptr || evhttp_accept_socket(http_, listen_fd_) != 0) {
    return Status::IOError("cannot serve the admin port");
  }
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_DELETE);
  evhttp_set_gencb(http_, &AdminServer::onRequest, this);
  thread_ = std::thread([this] { loop_.run(); });
  return Status::OK();
}

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  loop_.exit();
  thread_.join();
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
    const char* authorization =
        evhttp_find_header(evhttp_request_get_input_headers(request), "Authorization");
    const std::string authorization_text = authorization != nullptr ? authorization : "";
    const bool is_delete = evhttp_request_get_command(request) == EVHTTP_REQ_DELETE;
    const Response response =
        handlers_.keys->handle(is_delete ? "DELETE" : "GET", path,
                               authorization != nullptr ? &authorization_text : nullptr);
    evkeyvalq* headers = evhttp_request_get_output_headers(request);
    for (const Header& header : response.headers.entries()) {
      if (header.name != "Content-Type") {
        evhttp_add_header(headers, header.name.c_str(), header.value.c_str());
      }
    }
    const std::string* content_type = response.headers.find("Content-Type");
    reply(request, response.status, content_type != nullptr ? content_type->c_str() : "text/plain",
          response.body);
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

}  // namespace dedup
