#include "proxy/downstream/http2/http2_server_codec.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "proxy/http2/fields.h"

namespace dedup::http2 {

struct Http2ServerCodec::Stream {
  explicit Stream(int32_t stream_id) : id(stream_id) {}

  int32_t id;
  Request request;
  std::string path;
  std::string authority;
  std::string cookies;  // RFC 9113 §8.2.3: split cookie fields, joined again
  uint64_t header_bytes = 0;
  uint64_t body_bytes = 0;  // counted in held_body_
  size_t held_back = 0;     // received, window not yet given back
  int reject_status = 0;    // the proxy answers this stream itself
  std::string reject_reason;
  bool headers_done = false;
  bool request_complete = false;  // END_STREAM received
  bool head = false;
  bool answered = false;
  // The send side: the answer's body, read by the data provider.
  std::string send_buffer;
  size_t sent = 0;
  bool send_complete = false;
  bool streaming = false;  // a streamed body is still being appended
};

namespace {

Http2ServerCodec& codecOf(void* user_data) { return *static_cast<Http2ServerCodec*>(user_data); }

std::string_view view(const uint8_t* data, size_t length) {
  return {reinterpret_cast<const char*>(data), length};
}

int onBeginHeadersCallback(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  return codecOf(user_data).onBeginHeaders(frame->hd.stream_id);
}

int onHeaderCallback(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                     size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                     void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  return codecOf(user_data).onHeader(frame->hd.stream_id,
                                     frame->headers.cat != NGHTTP2_HCAT_REQUEST,
                                     view(name, name_length), view(value, value_length));
}

int onFrameRecvCallback(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  return codecOf(user_data).onFrameReceived(frame->hd.stream_id, frame->hd.type == NGHTTP2_HEADERS,
                                            (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0);
}

int onDataChunkCallback(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                        size_t length, void* user_data) {
  return codecOf(user_data).onDataChunk(stream_id, data, length);
}

int onStreamCloseCallback(nghttp2_session*, int32_t stream_id, uint32_t, void* user_data) {
  return codecOf(user_data).onStreamClose(stream_id);
}

int onFrameSendCallback(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  return codecOf(user_data).onFrameSent(frame->hd.stream_id,
                                        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0);
}

ssize_t readBodyCallback(nghttp2_session*, int32_t stream_id, uint8_t* buffer, size_t length,
                         uint32_t* flags, nghttp2_data_source*, void* user_data) {
  return codecOf(user_data).readBody(stream_id, buffer, length, flags);
}

}  // namespace

StatusOr<std::unique_ptr<Http2ServerCodec>> Http2ServerCodec::create(CodecHandler& handler,
                                                                     const Http2Limits& limits) {
  std::unique_ptr<Http2ServerCodec> codec(new Http2ServerCodec(handler, limits));
  if (Status s = codec->init(); !s.ok()) return s;
  return codec;
}

Http2ServerCodec::Http2ServerCodec(CodecHandler& handler, const Http2Limits& limits)
    : handler_(handler), limits_(limits) {}

Http2ServerCodec::~Http2ServerCodec() {
  if (session_ != nullptr) nghttp2_session_del(session_);
}

Status Http2ServerCodec::init() {
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) return Status::IOError("nghttp2: no memory");
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeadersCallback);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeaderCallback);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameRecvCallback);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunkCallback);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamCloseCallback);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, onFrameSendCallback);

  nghttp2_option* option = nullptr;
  if (nghttp2_option_new(&option) != 0) {
    nghttp2_session_callbacks_del(callbacks);
    return Status::IOError("nghttp2: no memory");
  }
  // The window is given back as the body is taken (consume()), not on receipt.
  nghttp2_option_set_no_auto_window_update(option, 1);
#ifdef DEDUP_HAVE_NGHTTP2_STREAM_RESET_RATE_LIMIT
  nghttp2_option_set_stream_reset_rate_limit(option, limits_.reset_burst, limits_.reset_rate);
#endif
#ifdef DEDUP_HAVE_NGHTTP2_MAX_CONTINUATIONS
  nghttp2_option_set_max_continuations(option, limits_.max_continuations);
#endif
  const int rv = nghttp2_session_server_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  if (rv != 0) return Status::IOError(std::string("nghttp2: ") + nghttp2_strerror(rv));

  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(limits_.stream_window)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<uint32_t>(std::min<uint64_t>(limits_.max_header_list_bytes, UINT32_MAX))},
  };
  if (int s = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
      s != 0) {
    return Status::IOError(std::string("nghttp2: ") + nghttp2_strerror(s));
  }
  if (int s = nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                                    limits_.connection_window);
      s != 0) {
    return Status::IOError(std::string("nghttp2: ") + nghttp2_strerror(s));
  }
  return Status::OK();
}

Status Http2ServerCodec::receive(std::string_view bytes) {
  const ssize_t rv = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (rv < 0) {
    // nghttp2 gives up on the session without always telling the peer why:
    // a GOAWAY goes out before the connection closes (nothing if this was
    // never HTTP/2).
    if (rv != NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
      nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
    }
    return Status::InvalidArgument(std::string("http2: ") + nghttp2_strerror(static_cast<int>(rv)));
  }
  return Status::OK();
}

Status Http2ServerCodec::produce(std::string& out, size_t limit) {
  while (out.size() < limit) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      return Status::IOError(std::string("http2: ") + nghttp2_strerror(static_cast<int>(n)));
    }
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  return Status::OK();
}

void Http2ServerCodec::drain() {
  if (draining_) return;
  draining_ = true;
  last_stream_id_ = nghttp2_session_get_last_proc_stream_id(session_);
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, last_stream_id_, NGHTTP2_NO_ERROR, nullptr, 0);
}

bool Http2ServerCodec::wantsRead() const {
  return unanswered_ < limits_.max_concurrent_streams && nghttp2_session_want_read(session_);
}

bool Http2ServerCodec::busy() const {
  if (unanswered_ > 0 || nghttp2_session_want_write(session_) != 0) return true;
  // A streamed answer waiting for more of the app's body.
  for (const auto& [id, stream] : streams_) {
    if (stream->streaming && !stream->send_complete) return true;
  }
  return false;
}

bool Http2ServerCodec::finished() const {
  return !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_);
}

Http2ServerCodec::Stream* Http2ServerCodec::find(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

const Http2ServerCodec::Stream* Http2ServerCodec::find(int32_t stream_id) const {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

int Http2ServerCodec::onBeginHeaders(int32_t stream_id) {
  if (draining_ && stream_id > last_stream_id_) {
    // Opened before the sender saw the GOAWAY, which promised it is never
    // processed: the sender may retry it elsewhere.
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  auto stream = std::make_unique<Stream>(stream_id);
  streams_.emplace(stream_id, std::move(stream));
  return 0;
}

int Http2ServerCodec::onHeader(int32_t stream_id, bool trailer, std::string_view name,
                               std::string_view value) {
  Stream* stream = find(stream_id);
  if (stream == nullptr) return 0;
  // Counted before anything is kept: past the cap nothing more is stored, so
  // a header block that HPACK inflates costs CPU only, never memory.
  stream->header_bytes += name.size() + value.size() + 32;
  if (stream->reject_status != 0) return 0;
  if (stream->header_bytes > limits_.max_header_list_bytes) {
    reject(*stream, 431, "request header list too large");
    return 0;
  }
  if (trailer) return 0;  // trailers carry nothing a delivery uses
  if (!name.empty() && name[0] == ':') {
    if (name == ":method") {
      stream->request.method = value;
      stream->head = value == "HEAD";
    } else if (name == ":path") {
      stream->path = value;
    } else if (name == ":authority") {
      stream->authority = value;
    }
    return 0;  // :scheme, :protocol: nothing to forward
  }
  if (name == "cookie") {
    if (!stream->cookies.empty()) stream->cookies += "; ";
    stream->cookies.append(value);
    return 0;
  }
  stream->request.headers.add(std::string(name), std::string(value));
  return 0;
}

int Http2ServerCodec::onFrameReceived(int32_t stream_id, bool headers_frame, bool end_stream) {
  Stream* stream = find(stream_id);
  if (stream == nullptr) return 0;
  if (headers_frame && !stream->headers_done) {
    stream->headers_done = true;
    // Rejected while its headers were decoded: answer without waiting for the body.
    if (stream->reject_status != 0 && !stream->answered) {
      submit(*stream, handler_.onRejected(stream->reject_status, stream->reject_reason));
    }
  }
  if (end_stream && !stream->request_complete) {
    stream->request_complete = true;
    complete(*stream);
  }
  return 0;
}

void Http2ServerCodec::complete(Stream& stream) {
  if (stream.reject_status == 0 && (stream.request.method.empty() || stream.path.empty())) {
    reject(stream, 400, "request without :method or :path (CONNECT is not proxied)");
  }
  if (stream.reject_status != 0) {
    if (!stream.answered) {
      submit(stream, handler_.onRejected(stream.reject_status, stream.reject_reason));
    }
    return;
  }
  Request& request = stream.request;
  request.target = std::move(stream.path);
  if (!stream.authority.empty() && request.headers.find("Host") == nullptr) {
    request.headers.add("host", std::move(stream.authority));
  }
  if (!stream.cookies.empty()) request.headers.add("cookie", std::move(stream.cookies));
  request.version_minor = 1;
  request.keep_alive = true;
  complete_body_ += stream.body_bytes;
  ++unanswered_;
  awaiting_.insert(static_cast<uint64_t>(stream.id));
  // The body has left the window's accounting of incomplete streams: the next
  // oldest stream may progress.
  handler_.onRequest(static_cast<uint64_t>(stream.id), std::move(request));
  consumeHeldBack();
}

void Http2ServerCodec::reject(Stream& stream, int status, std::string_view reason) {
  stream.reject_status = status;
  stream.reject_reason = reason;
  held_body_ -= stream.body_bytes;
  stream.body_bytes = 0;
  stream.request = Request();
  if (stream.held_back > 0) {
    consume(stream, stream.held_back);
    stream.held_back = 0;
  }
  consumeHeldBack();
}

int Http2ServerCodec::onDataChunk(int32_t stream_id, const uint8_t* data, size_t length) {
  Stream* stream = find(stream_id);
  // The connection's window comes back at once: held-back bytes must not
  // starve the other streams. Each stream's own window is what waits.
  nghttp2_session_consume_connection(session_, length);
  if (stream == nullptr) return 0;
  if (stream->reject_status != 0) {
    consume(*stream, length);  // discarded: the sender may go on sending
    return 0;
  }
  if (stream->body_bytes + length > limits_.max_body_bytes) {
    consume(*stream, length);
    reject(*stream, 413, "request body too large");
    if (stream->headers_done && !stream->answered) {
      submit(*stream, handler_.onRejected(stream->reject_status, stream->reject_reason));
    }
    return 0;
  }
  stream->request.body.append(reinterpret_cast<const char*>(data), length);
  stream->body_bytes += length;
  held_body_ += length;
  if (mayConsume(*stream)) {
    consume(*stream, length);
  } else {
    stream->held_back += length;
  }
  return 0;
}

bool Http2ServerCodec::mayConsume(const Stream& stream) const {
  if (held_body_ <= limits_.held_body_budget) return true;
  // Answers will free the budget: wait for them.
  if (complete_body_ > 0) return false;
  // Only incomplete requests hold it: the oldest one progresses, so streams
  // that each hold part of the budget can never stall one another for good.
  for (const auto& [id, other] : streams_) {
    if (!other->request_complete && other->reject_status == 0) return id == stream.id;
  }
  return false;
}

void Http2ServerCodec::consume(Stream& stream, size_t length) {
  nghttp2_session_consume_stream(session_, stream.id, length);
}

void Http2ServerCodec::consumeHeldBack() {
  for (auto& [id, stream] : streams_) {
    if (stream->held_back == 0 || !mayConsume(*stream)) continue;
    consume(*stream, stream->held_back);
    stream->held_back = 0;
  }
}

int Http2ServerCodec::onStreamClose(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return 0;
  Stream& stream = *it->second;
  held_body_ -= stream.body_bytes;
  if (stream.request_complete) complete_body_ -= stream.body_bytes;
  streams_.erase(it);
  consumeHeldBack();
  return 0;
}

int Http2ServerCodec::onFrameSent(int32_t stream_id, bool end_stream) {
  if (!end_stream) return 0;
  Stream* stream = find(stream_id);
  // A rejected request's answer is out while the sender may still be sending:
  // tell it to stop (RFC 9113 §8.1).
  if (stream != nullptr && stream->reject_status != 0 && !stream->request_complete) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

void Http2ServerCodec::respond(uint64_t slot, Response response) {
  if (awaiting_.erase(slot) > 0 && unanswered_ > 0) --unanswered_;
  Stream* stream = find(static_cast<int32_t>(slot));
  if (stream == nullptr || stream->answered) return;  // reset by the sender meanwhile
  submit(*stream, std::move(response));
}

bool Http2ServerCodec::respondHead(uint64_t slot, Response head,
                                   std::optional<uint64_t> body_length) {
  if (awaiting_.erase(slot) > 0 && unanswered_ > 0) --unanswered_;
  Stream* stream = find(static_cast<int32_t>(slot));
  if (stream == nullptr || stream->answered) return false;  // reset by the sender meanwhile
  submit(*stream, std::move(head), true, body_length);
  return true;
}

bool Http2ServerCodec::appendBody(uint64_t slot, std::string_view bytes) {
  Stream* stream = find(static_cast<int32_t>(slot));
  // Gone, cut, or an answer without a body (HEAD, 204, 304): dropped.
  if (stream == nullptr || !stream->streaming || stream->send_complete) return false;
  if (stream->sent > 0) {
    stream->send_buffer.erase(0, stream->sent);
    stream->sent = 0;
  }
  stream->send_buffer.append(bytes);
  resumeData(*stream);
  return true;
}

void Http2ServerCodec::finishBody(uint64_t slot) {
  Stream* stream = find(static_cast<int32_t>(slot));
  if (stream == nullptr || !stream->streaming || stream->send_complete) return;
  stream->send_complete = true;
  resumeData(*stream);
}

void Http2ServerCodec::abortStream(uint64_t slot) {
  if (awaiting_.erase(slot) > 0 && unanswered_ > 0) --unanswered_;
  Stream* stream = find(static_cast<int32_t>(slot));
  if (stream == nullptr) return;
  stream->answered = true;
  stream->streaming = false;
  std::string().swap(stream->send_buffer);
  stream->sent = 0;
  // Not a 502: the sender must not take a partial answer for a whole one.
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream->id, NGHTTP2_INTERNAL_ERROR);
}

size_t Http2ServerCodec::pendingBody(uint64_t slot) const {
  const Stream* stream = find(static_cast<int32_t>(slot));
  if (stream == nullptr) return 0;
  return stream->send_buffer.size() - stream->sent;
}

void Http2ServerCodec::resumeData(Stream& stream) {
  // Fails harmlessly when the stream's data is not deferred now.
  nghttp2_session_resume_data(session_, stream.id);
}

void Http2ServerCodec::submit(Stream& stream, Response response, bool streamed,
                              std::optional<uint64_t> body_length) {
  stream.answered = true;
  // RFC 9110 §6.4.1: 1xx, 204 and 304 never carry a body (nor its length).
  const bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;
  const bool send_body = !bodiless && !stream.head &&
                         (streamed ? !(body_length && *body_length == 0) : !response.body.empty());
  const std::string status = std::to_string(response.status);
  std::optional<std::string> length;
  if (!streamed) {
    length = std::to_string(response.body.size());
  } else if (body_length) {
    length = std::to_string(*body_length);
  }
  std::vector<std::string> names;
  names.reserve(response.headers.entries().size());
  for (const Header& h : response.headers.entries()) names.push_back(http2::lowerCaseName(h.name));
  std::vector<nghttp2_nv> fields;
  fields.reserve(names.size() + 2);
  fields.push_back(http2::field(":status", status));
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty() || http2::isConnectionSpecific(names[i])) continue;
    fields.push_back(http2::field(names[i], response.headers.entries()[i].value));
  }
  if (!bodiless && length) fields.push_back(http2::field("content-length", *length));

  nghttp2_data_provider provider{};
  provider.read_callback = readBodyCallback;
  if (send_body) {
    stream.send_buffer = std::move(response.body);
    stream.sent = 0;
    stream.send_complete = !streamed;
    stream.streaming = streamed;
  }
  const int rv = nghttp2_submit_response(session_, stream.id, fields.data(), fields.size(),
                                         send_body ? &provider : nullptr);
  if (rv != 0) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.id, NGHTTP2_INTERNAL_ERROR);
  }
}

ssize_t Http2ServerCodec::readBody(int32_t stream_id, uint8_t* buffer, size_t length,
                                   uint32_t* flags) {
  Stream* stream = find(stream_id);
  if (stream == nullptr) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 0;
  }
  const size_t n = std::min(length, stream->send_buffer.size() - stream->sent);
  std::memcpy(buffer, stream->send_buffer.data() + stream->sent, n);
  stream->sent += n;
  if (stream->sent == stream->send_buffer.size()) {
    if (!stream->send_complete) {
      // More of the answer is still to come: nghttp2_session_resume_data()
      // restarts the stream once it is appended.
      if (n == 0) return NGHTTP2_ERR_DEFERRED;
      return static_cast<ssize_t>(n);
    }
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    std::string().swap(stream->send_buffer);
    stream->sent = 0;
  }
  return static_cast<ssize_t>(n);
}

}  // namespace dedup::http2
