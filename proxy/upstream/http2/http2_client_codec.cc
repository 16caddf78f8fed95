#include "proxy/upstream/http2/http2_client_codec.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "proxy/http2/fields.h"

namespace dedup::http2 {

struct Http2ClientCodec::Exchange {
  UpstreamCallback done;
  std::string body;  // the request body, read by the data provider
  size_t sent = 0;
  Response response;
  bool final_headers = false;  // a final (non-1xx) status arrived
  size_t header_bytes = 0;
  bool over_limit = false;
};

namespace {

Http2ClientCodec& codecOf(void* user_data) { return *static_cast<Http2ClientCodec*>(user_data); }

std::string_view view(const uint8_t* data, size_t length) {
  return {reinterpret_cast<const char*>(data), length};
}

int onHeaderCallback(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                     size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                     void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  return codecOf(user_data).onHeader(frame->hd.stream_id,
                                     frame->headers.cat == NGHTTP2_HCAT_HEADERS,
                                     view(name, name_length), view(value, value_length));
}

int onFrameRecvCallback(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type == NGHTTP2_GOAWAY) return codecOf(user_data).onGoaway();
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  return codecOf(user_data).onFrameReceived(frame->hd.stream_id, frame->hd.type == NGHTTP2_HEADERS,
                                            (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0);
}

int onDataChunkCallback(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                        size_t length, void* user_data) {
  return codecOf(user_data).onDataChunk(stream_id, data, length);
}

int onStreamCloseCallback(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                          void* user_data) {
  return codecOf(user_data).onStreamClose(stream_id, error_code);
}

ssize_t readBodyCallback(nghttp2_session*, int32_t stream_id, uint8_t* buffer, size_t length,
                         uint32_t* flags, nghttp2_data_source*, void* user_data) {
  return codecOf(user_data).readBody(stream_id, buffer, length, flags);
}

UpstreamResult failure(UpstreamResult::Kind kind, std::string error) {
  UpstreamResult result;
  result.kind = kind;
  result.error = std::move(error);
  return result;
}

}  // namespace

StatusOr<std::unique_ptr<Http2ClientCodec>> Http2ClientCodec::create(
    const Http2ClientLimits& limits) {
  std::unique_ptr<Http2ClientCodec> codec(new Http2ClientCodec(limits));
  if (Status s = codec->init(); !s.ok()) return s;
  return codec;
}

Http2ClientCodec::Http2ClientCodec(const Http2ClientLimits& limits) : limits_(limits) {}

Http2ClientCodec::~Http2ClientCodec() {
  if (session_ != nullptr) nghttp2_session_del(session_);
}

Status Http2ClientCodec::init() {
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) return Status::IOError("nghttp2: no memory");
  nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeaderCallback);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameRecvCallback);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunkCallback);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamCloseCallback);
  const int rv = nghttp2_session_client_new(&session_, callbacks, this);
  nghttp2_session_callbacks_del(callbacks);
  if (rv != 0) return Status::IOError(std::string("nghttp2: ") + nghttp2_strerror(rv));
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<uint32_t>(std::min<size_t>(limits_.max_header_bytes, UINT32_MAX))},
  };
  if (int s = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
      s != 0) {
    return Status::IOError(std::string("nghttp2: ") + nghttp2_strerror(s));
  }
  return Status::OK();
}

StatusOr<int32_t> Http2ClientCodec::submit(Request request, UpstreamCallback done) {
  const std::string* host = request.headers.find("Host");
  const std::string authority = host != nullptr ? *host : std::string();
  const std::string target = request.target.empty() ? std::string("/") : request.target;
  const bool carries_body = !request.body.empty() || request.method == "POST" ||
                            request.method == "PUT" || request.method == "PATCH";
  const std::string length = std::to_string(request.body.size());
  std::vector<std::string> names;
  names.reserve(request.headers.entries().size());
  for (const Header& h : request.headers.entries()) names.push_back(http2::lowerCaseName(h.name));
  std::vector<nghttp2_nv> fields;
  fields.reserve(names.size() + 5);
  fields.push_back(http2::field(":method", request.method));
  fields.push_back(http2::field(":scheme", "http"));
  if (!authority.empty()) fields.push_back(http2::field(":authority", authority));
  fields.push_back(http2::field(":path", target));
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty() || http2::isConnectionSpecific(names[i]) || names[i] == "host") continue;
    fields.push_back(http2::field(names[i], request.headers.entries()[i].value));
  }
  if (carries_body) fields.push_back(http2::field("content-length", length));

  auto exchange = std::make_unique<Exchange>();
  exchange->done = std::move(done);
  exchange->body = std::move(request.body);
  nghttp2_data_provider provider{};
  provider.read_callback = readBodyCallback;
  const int32_t id = nghttp2_submit_request(session_, nullptr, fields.data(), fields.size(),
                                            exchange->body.empty() ? nullptr : &provider, nullptr);
  if (id < 0) return Status::IOError(std::string("http2: ") + nghttp2_strerror(id));
  exchanges_.emplace(id, std::move(exchange));
  return id;
}

UpstreamCallback Http2ClientCodec::cancel(int32_t stream_id) {
  auto it = exchanges_.find(stream_id);
  if (it == exchanges_.end()) return nullptr;
  UpstreamCallback done = std::move(it->second->done);
  exchanges_.erase(it);
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
  return done;
}

Status Http2ClientCodec::receive(std::string_view bytes) {
  in_session_ = true;
  const ssize_t rv = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  in_session_ = false;
  runFinished();
  if (rv < 0) {
    return Status::InvalidArgument(std::string("http2: ") + nghttp2_strerror(static_cast<int>(rv)));
  }
  return Status::OK();
}

Status Http2ClientCodec::produce(std::string& out, size_t limit) {
  Status status = Status::OK();
  in_session_ = true;
  while (out.size() < limit) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      status = Status::IOError(std::string("http2: ") + nghttp2_strerror(static_cast<int>(n)));
      break;
    }
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  in_session_ = false;
  runFinished();  // streams refused while sending (e.g. after a GOAWAY)
  return status;
}

void Http2ClientCodec::failAll(UpstreamResult::Kind kind, const std::string& error) {
  std::vector<int32_t> ids;
  for (const auto& [id, exchange] : exchanges_) ids.push_back(id);
  for (int32_t id : ids) finish(id, failure(kind, error));
  runFinished();
}

uint32_t Http2ClientCodec::peerConcurrency() const {
  return nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

bool Http2ClientCodec::usable() const {
  return !goaway_received_ && nghttp2_session_want_read(session_) != 0;
}

bool Http2ClientCodec::finished() const {
  return !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_);
}

Http2ClientCodec::Exchange* Http2ClientCodec::find(int32_t stream_id) {
  auto it = exchanges_.find(stream_id);
  return it == exchanges_.end() ? nullptr : it->second.get();
}

void Http2ClientCodec::finish(int32_t stream_id, UpstreamResult result) {
  auto it = exchanges_.find(stream_id);
  if (it == exchanges_.end()) return;
  finished_.emplace_back(std::move(it->second->done), std::move(result));
  exchanges_.erase(it);
  if (!in_session_) runFinished();
}

void Http2ClientCodec::runFinished() {
  // A callback may submit again (and so finish more): take the list each time.
  while (!finished_.empty()) {
    auto batch = std::move(finished_);
    finished_.clear();
    for (auto& [done, result] : batch) {
      if (done) done(std::move(result));
    }
  }
}

int Http2ClientCodec::onHeader(int32_t stream_id, bool trailer, std::string_view name,
                               std::string_view value) {
  Exchange* exchange = find(stream_id);
  if (exchange == nullptr || exchange->over_limit) return 0;
  exchange->header_bytes += name.size() + value.size() + 32;
  if (exchange->header_bytes > limits_.max_header_bytes) {
    exchange->over_limit = true;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
    finish(stream_id,
           failure(UpstreamResult::Kind::kBadResponse, "the app's response headers are too large"));
    return 0;
  }
  if (trailer) return 0;
  if (name == ":status") {
    int status = 0;
    const auto parsed = std::from_chars(value.data(), value.data() + value.size(), status);
    if (parsed.ec != std::errc() || status < 100 || status > 999) {
      exchange->over_limit = true;
      finish(stream_id, failure(UpstreamResult::Kind::kBadResponse, "bad :status from the app"));
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    // An interim (1xx) answer is dropped with its fields; the final one follows.
    exchange->response = Response();
    exchange->response.status = status;
    exchange->final_headers = status >= 200;
    return 0;
  }
  if (!name.empty() && name[0] == ':') return 0;
  if (exchange->final_headers) {
    exchange->response.headers.add(std::string(name), std::string(value));
  }
  return 0;
}

int Http2ClientCodec::onFrameReceived(int32_t stream_id, bool, bool end_stream) {
  Exchange* exchange = find(stream_id);
  if (exchange == nullptr || !end_stream) return 0;
  if (!exchange->final_headers) {
    finish(stream_id,
           failure(UpstreamResult::Kind::kBadResponse, "the app ended a stream without a status"));
    return 0;
  }
  UpstreamResult result;
  result.response = std::move(exchange->response);
  finish(stream_id, std::move(result));
  return 0;
}

int Http2ClientCodec::onDataChunk(int32_t stream_id, const uint8_t* data, size_t length) {
  Exchange* exchange = find(stream_id);
  if (exchange == nullptr) return 0;
  if (exchange->response.body.size() + length > limits_.max_body_bytes) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
    finish(stream_id,
           failure(UpstreamResult::Kind::kBadResponse, "the app's response body is too large"));
    return 0;
  }
  exchange->response.body.append(reinterpret_cast<const char*>(data), length);
  return 0;
}

int Http2ClientCodec::onStreamClose(int32_t stream_id, uint32_t error_code) {
  if (find(stream_id) == nullptr) return 0;
  finish(stream_id, failure(UpstreamResult::Kind::kUnreachable,
                            std::string("the app closed the stream without a complete answer (") +
                                nghttp2_http2_strerror(error_code) + ")"));
  return 0;
}

int Http2ClientCodec::onGoaway() {
  goaway_received_ = true;
  return 0;
}

ssize_t Http2ClientCodec::readBody(int32_t stream_id, uint8_t* buffer, size_t length,
                                   uint32_t* flags) {
  Exchange* exchange = find(stream_id);
  if (exchange == nullptr) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 0;
  }
  const size_t n = std::min(length, exchange->body.size() - exchange->sent);
  std::memcpy(buffer, exchange->body.data() + exchange->sent, n);
  exchange->sent += n;
  if (exchange->sent == exchange->body.size()) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    std::string().swap(exchange->body);
    exchange->sent = 0;
  }
  return static_cast<ssize_t>(n);
}

}  // namespace dedup::http2
