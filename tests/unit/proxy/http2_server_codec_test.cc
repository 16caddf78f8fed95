// The HTTP/2 server codec against a real nghttp2 client session, wired back
// to back in memory (no sockets): what the client sends arrives as Requests,
// answers arrive on their streams, and the limits hold.
#include "proxy/downstream/http2/http2_server_codec.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace dedup::http2 {
namespace {

class RecordingHandler : public CodecHandler {
 public:
  void onRequest(uint64_t slot, Request request) override {
    requests.emplace_back(slot, std::move(request));
  }
  Response onRejected(int status, std::string_view) override {
    rejected.push_back(status);
    Response response;
    response.status = status;
    response.body = "rejected";
    return response;
  }
  std::vector<std::pair<uint64_t, Request>> requests;
  std::vector<int> rejected;
};

// One client stream as the client saw it.
struct ClientStream {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  bool closed = false;
  uint32_t close_error = 0;
  // What the client still has to send.
  std::string upload;
  size_t uploaded = 0;
  bool end_upload = true;  // false: the stream stays open after `upload`
};

class Client {
 public:
  explicit Client(size_t max_header_block = 0) {
    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(
        callbacks,
        [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t name_length,
           const uint8_t* value, size_t value_length, uint8_t, void* self) {
          ClientStream& s = static_cast<Client*>(self)->streams[frame->hd.stream_id];
          std::string n(reinterpret_cast<const char*>(name), name_length);
          std::string v(reinterpret_cast<const char*>(value), value_length);
          if (n == ":status") s.status = std::stoi(v);
          s.headers[n] = v;
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        callbacks,
        [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t length, void* self) {
          static_cast<Client*>(self)->streams[id].body.append(reinterpret_cast<const char*>(data),
                                                              length);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        callbacks, [](nghttp2_session*, int32_t id, uint32_t error, void* self) {
          ClientStream& s = static_cast<Client*>(self)->streams[id];
          s.closed = true;
          s.close_error = error;
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        callbacks, [](nghttp2_session*, const nghttp2_frame* frame, void* self) {
          if (frame->hd.type == NGHTTP2_GOAWAY) {
            static_cast<Client*>(self)->goaway_error = static_cast<int>(frame->goaway.error_code);
          }
          return 0;
        });
    nghttp2_option* option;
    nghttp2_option_new(&option);
    if (max_header_block > 0)
      nghttp2_option_set_max_send_header_block_length(option, max_header_block);
    nghttp2_session_client_new2(&session, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~Client() { nghttp2_session_del(session); }

  // Submits a request; returns its stream id.
  int32_t request(const std::string& method, const std::string& path,
                  std::vector<std::pair<std::string, std::string>> headers = {},
                  std::string body = "", bool end = true) {
    std::vector<std::pair<std::string, std::string>> all = {
        {":method", method}, {":path", path}, {":scheme", "http"}, {":authority", "app.test"}};
    all.insert(all.end(), headers.begin(), headers.end());
    std::vector<nghttp2_nv> nv;
    for (auto& [n, v] : all) {
      nv.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                    n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider{};
    provider.read_callback = [](nghttp2_session*, int32_t id, uint8_t* buffer, size_t length,
                                uint32_t* flags, nghttp2_data_source*, void* self) -> ssize_t {
      ClientStream& s = static_cast<Client*>(self)->streams[id];
      const size_t n = std::min(length, s.upload.size() - s.uploaded);
      std::memcpy(buffer, s.upload.data() + s.uploaded, n);
      s.uploaded += n;
      if (s.uploaded == s.upload.size()) {
        if (!s.end_upload)
          return n == 0 ? static_cast<ssize_t>(NGHTTP2_ERR_DEFERRED) : static_cast<ssize_t>(n);
        *flags |= NGHTTP2_DATA_FLAG_EOF;
      }
      return static_cast<ssize_t>(n);
    };
    const bool has_body = !body.empty() || !end;
    const int32_t id = nghttp2_submit_request(session, nullptr, nv.data(), nv.size(),
                                              has_body ? &provider : nullptr, nullptr);
    ClientStream& s = streams[id];
    s.upload = std::move(body);
    s.end_upload = end;
    return id;
  }

  void reset(int32_t id) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  }

  nghttp2_session* session;
  std::map<int32_t, ClientStream> streams;
  int goaway_error = -1;
};

// Moves bytes both ways until neither side has anything to say. Returns the
// first error the server codec reported.
Status pump(Client& client, Http2ServerCodec& server) {
  for (int round = 0; round < 10000; ++round) {
    bool moved = false;
    const uint8_t* data;
    ssize_t n;
    std::string to_server;
    while ((n = nghttp2_session_mem_send(client.session, &data)) > 0) {
      to_server.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    if (!to_server.empty()) {
      moved = true;
      if (Status s = server.receive(to_server); !s.ok()) return s;
    }
    std::string to_client;
    if (Status s = server.produce(to_client, 1 << 20); !s.ok()) return s;
    if (!to_client.empty()) {
      moved = true;
      nghttp2_session_mem_recv(client.session, reinterpret_cast<const uint8_t*>(to_client.data()),
                               to_client.size());
    }
    if (!moved) return Status::OK();
  }
  return Status::IOError("pump did not settle");
}

std::unique_ptr<Http2ServerCodec> makeServer(CodecHandler& handler, Http2Limits limits = {}) {
  auto codec = Http2ServerCodec::create(handler, limits);
  EXPECT_TRUE(codec.ok());
  return std::move(codec.value());
}

Response answer(int status, std::string body, std::vector<Header> headers = {}) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  for (auto& h : headers) response.headers.add(h.name, h.value);
  return response;
}

TEST(Http2ServerCodec, StreamBecomesRequestAndAnswerComesBack) {
  RecordingHandler handler;
  auto server = makeServer(handler);
  Client client;
  const int32_t id = client.request(
      "POST", "/hooks?x=1", {{"idempotency-key", "k1"}, {"cookie", "a=1"}, {"cookie", "b=2"}},
      "{\"n\":1}");
  ASSERT_TRUE(pump(client, *server).ok());
  ASSERT_EQ(handler.requests.size(), 1u);
  const auto& [slot, request] = handler.requests[0];
  EXPECT_EQ(slot, static_cast<uint64_t>(id));
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/hooks?x=1");
  EXPECT_EQ(request.body, "{\"n\":1}");
  ASSERT_NE(request.headers.find("Host"), nullptr);
  EXPECT_EQ(*request.headers.find("Host"), "app.test");
  ASSERT_NE(request.headers.find("Idempotency-Key"), nullptr);
  EXPECT_EQ(*request.headers.find("Idempotency-Key"), "k1");
  EXPECT_EQ(*request.headers.find("Cookie"), "a=1; b=2");
  EXPECT_TRUE(server->busy());

  server->respond(slot, answer(201, "done",
                               {{"Idempotent-Replayed", "true"},
                                {"Connection", "keep-alive"},
                                {"Retry-After", "1"}}));
  ASSERT_TRUE(pump(client, *server).ok());
  const ClientStream& s = client.streams[id];
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_error, 0u);
  EXPECT_EQ(s.status, 201);
  EXPECT_EQ(s.body, "done");
  EXPECT_EQ(s.headers.at("idempotent-replayed"), "true");
  EXPECT_EQ(s.headers.at("retry-after"), "1");
  EXPECT_EQ(s.headers.at("content-length"), "4");
  EXPECT_EQ(s.headers.count("connection"), 0u);
  EXPECT_FALSE(server->busy());
}

TEST(Http2ServerCodec, HeadAnswerHasLengthButNoBody) {
  RecordingHandler handler;
  auto server = makeServer(handler);
  Client client;
  const int32_t id = client.request("HEAD", "/");
  ASSERT_TRUE(pump(client, *server).ok());
  ASSERT_EQ(handler.requests.size(), 1u);
  server->respond(id, answer(200, "hello"));
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_EQ(client.streams[id].status, 200);
  EXPECT_EQ(client.streams[id].headers.at("content-length"), "5");
  EXPECT_EQ(client.streams[id].body, "");
}

TEST(Http2ServerCodec, HundredConcurrentStreamsAnsweredOutOfOrder) {
  RecordingHandler handler;
  auto server = makeServer(handler);
  Client client;
  std::vector<int32_t> ids;
  for (int i = 0; i < 100; ++i) {
    ids.push_back(client.request("POST", "/", {{"idempotency-key", std::to_string(i)}},
                                 "body" + std::to_string(i)));
  }
  ASSERT_TRUE(pump(client, *server).ok());
  ASSERT_EQ(handler.requests.size(), 100u);
  EXPECT_FALSE(server->wantsRead());  // 100 unanswered: backpressure
  for (auto it = handler.requests.rbegin(); it != handler.requests.rend(); ++it) {
    server->respond(it->first, answer(200, "answer to " + it->second.body));
  }
  EXPECT_TRUE(server->wantsRead());
  ASSERT_TRUE(pump(client, *server).ok());
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(client.streams[ids[i]].body, "answer to body" + std::to_string(i));
  }
}

TEST(Http2ServerCodec, StreamResetBeforeItsEndIsNeverHandedOver) {
  RecordingHandler handler;
  auto server = makeServer(handler);
  Client client;
  const int32_t id = client.request("POST", "/", {{"idempotency-key", "k"}}, "partial", false);
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_EQ(server->heldBodyBytes(), 7u);
  EXPECT_FALSE(server->busy());  // waiting for the sender, not for the app
  client.reset(id);
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_TRUE(handler.requests.empty());
  EXPECT_EQ(server->heldBodyBytes(), 0u);
}

TEST(Http2ServerCodec, AnswerToAStreamResetAfterItsEndIsDropped) {
  RecordingHandler handler;
  auto server = makeServer(handler);
  Client client;
  const int32_t id = client.request("POST", "/", {}, "whole");
  ASSERT_TRUE(pump(client, *server).ok());
  ASSERT_EQ(handler.requests.size(), 1u);
  client.reset(id);
  ASSERT_TRUE(pump(client, *server).ok());
  server->respond(id, answer(200, "late"));
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_EQ(client.streams[id].status, 0);
  EXPECT_FALSE(server->busy());
  EXPECT_TRUE(server->wantsRead());
}

TEST(Http2ServerCodec, HeaderListOverTheCapIs431) {
  RecordingHandler handler;
  Http2Limits limits;
  limits.max_header_list_bytes = 1024;
  auto server = makeServer(handler, limits);
  Client client;
  const int32_t id = client.request("POST", "/", {{"x-big", std::string(2000, 'a')}}, "body");
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_TRUE(handler.requests.empty());
  EXPECT_EQ(handler.rejected, std::vector<int>{431});
  EXPECT_EQ(client.streams[id].status, 431);
}

TEST(Http2ServerCodec, BodyOverTheLimitIs413AndTheStreamIsStopped) {
  RecordingHandler handler;
  Http2Limits limits;
  limits.max_body_bytes = 1000;
  auto server = makeServer(handler, limits);
  Client client;
  const int32_t id = client.request("POST", "/", {}, std::string(5000, 'x'), false);
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_TRUE(handler.requests.empty());
  EXPECT_EQ(handler.rejected, std::vector<int>{413});
  EXPECT_EQ(client.streams[id].status, 413);
  EXPECT_TRUE(client.streams[id].closed);
  EXPECT_EQ(server->heldBodyBytes(), 0u);
  EXPECT_FALSE(server->busy());
}

TEST(Http2ServerCodec, HeldBodiesStayWithinTheBudgetUntilAnswersFreeIt) {
  RecordingHandler handler;
  Http2Limits limits;
  limits.held_body_budget = 150 * 1024;
  limits.stream_window = 16 * 1024;
  auto server = makeServer(handler, limits);
  Client client;
  for (int i = 0; i < 3; ++i) client.request("POST", "/", {}, std::string(100 * 1024, 'a' + i));
  ASSERT_TRUE(pump(client, *server).ok());
  ASSERT_EQ(handler.requests.size(), 1u);
  // Until the client has our SETTINGS, each stream has the protocol's 65535.
  EXPECT_LE(server->heldBodyBytes(), limits.held_body_budget + 3 * 65535);

  server->respond(handler.requests[0].first, answer(200, "ok"));
  ASSERT_TRUE(pump(client, *server).ok());
  ASSERT_EQ(handler.requests.size(), 2u);
  EXPECT_EQ(handler.requests[1].second.body, std::string(100 * 1024, 'b'));
  // Until the client has our SETTINGS, each stream has the protocol's 65535.
  EXPECT_LE(server->heldBodyBytes(), limits.held_body_budget + 3 * 65535);

  server->respond(handler.requests[1].first, answer(200, "ok"));
  ASSERT_TRUE(pump(client, *server).ok());
  ASSERT_EQ(handler.requests.size(), 3u);
  EXPECT_EQ(handler.requests[2].second.body, std::string(100 * 1024, 'c'));
}

TEST(Http2ServerCodec, IncompleteStreamsSharingTheBudgetStillProgress) {
  RecordingHandler handler;
  Http2Limits limits;
  limits.held_body_budget = 64 * 1024;
  limits.stream_window = 32 * 1024;
  limits.connection_window = 128 * 1024;
  auto server = makeServer(handler, limits);
  Client client;
  for (int i = 0; i < 4; ++i) client.request("POST", "/", {}, std::string(200 * 1024, 'a' + i));
  ASSERT_TRUE(pump(client, *server).ok());
  // The oldest incomplete stream always progresses; answers free the rest.
  for (size_t answered = 0; answered < 4; ++answered) {
    ASSERT_GT(handler.requests.size(), answered);
    server->respond(handler.requests[answered].first, answer(200, "ok"));
    ASSERT_TRUE(pump(client, *server).ok());
  }
  ASSERT_EQ(handler.requests.size(), 4u);
  EXPECT_EQ(handler.requests[3].second.body, std::string(200 * 1024, 'd'));
}

TEST(Http2ServerCodec, DrainSendsGoawayAndFinishesTheStreamsTaken) {
  RecordingHandler handler;
  auto server = makeServer(handler);
  Client client;
  const int32_t id = client.request("POST", "/", {}, "x");
  ASSERT_TRUE(pump(client, *server).ok());
  server->drain();
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_EQ(client.goaway_error, NGHTTP2_NO_ERROR);
  EXPECT_FALSE(server->finished());
  server->respond(id, answer(200, "bye"));
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_EQ(client.streams[id].body, "bye");
  EXPECT_TRUE(server->finished());
}

TEST(Http2ServerCodec, RequestWithoutPathIsRejected) {
  RecordingHandler handler;
  auto server = makeServer(handler);
  Client client;
  nghttp2_nv nv[] = {
      {(uint8_t*)":method", (uint8_t*)"CONNECT", 7, 7, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t*)":authority", (uint8_t*)"a:1", 10, 3, NGHTTP2_NV_FLAG_NONE},
  };
  const int32_t id = nghttp2_submit_request(client.session, nullptr, nv, 2, nullptr, nullptr);
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_TRUE(handler.requests.empty());
  EXPECT_EQ(client.streams[id].status, 400);
}

// As HTTP/1.1 requires Host, the app (and the routes) always get one: nghttp2
// resets such a stream itself.
TEST(Http2ServerCodec, RequestWithoutAuthorityOrHostIsReset) {
  RecordingHandler handler;
  auto server = makeServer(handler);
  Client client;
  nghttp2_nv nv[] = {
      {(uint8_t*)":method", (uint8_t*)"POST", 7, 4, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t*)":scheme", (uint8_t*)"http", 7, 4, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t*)":path", (uint8_t*)"/", 5, 1, NGHTTP2_NV_FLAG_NONE},
  };
  const int32_t id = nghttp2_submit_request(client.session, nullptr, nv, 3, nullptr, nullptr);
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_TRUE(handler.requests.empty());
  EXPECT_TRUE(client.streams[id].closed);
  EXPECT_EQ(client.streams[id].close_error, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
}

#ifdef DEDUP_HAVE_NGHTTP2_MAX_CONTINUATIONS
TEST(Http2ServerCodec, ContinuationFloodEndsTheConnection) {
  RecordingHandler handler;
  Http2Limits limits;
  limits.max_header_list_bytes = 1 << 30;  // the continuation cap must act first
  auto server = makeServer(handler, limits);
  Client client(/*max_header_block=*/1 << 20);
  std::vector<std::pair<std::string, std::string>> headers;
  for (int i = 0; i < 300; ++i)
    headers.emplace_back("x-h" + std::to_string(i), std::string(1000, 'v'));
  client.request("POST", "/", headers, "x");
  // A fatal error: the connection writes what it can and closes.
  const Status status = pump(client, *server);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("CONTINUATION"), std::string::npos) << status.message();
  EXPECT_TRUE(handler.requests.empty());
}
#endif

#ifdef DEDUP_HAVE_NGHTTP2_STREAM_RESET_RATE_LIMIT
TEST(Http2ServerCodec, RapidResetEndsTheConnection) {
  RecordingHandler handler;
  Http2Limits limits;
  limits.reset_burst = 50;
  limits.reset_rate = 1;
  auto server = makeServer(handler, limits);
  Client client;
  for (int i = 0; i < 200 && !server->finished(); ++i) {
    const int32_t id = client.request("POST", "/", {}, "partial", false);
    pump(client, *server);  // HEADERS out before the reset, as an attacker sends them
    client.reset(id);
    pump(client, *server);
  }
  EXPECT_TRUE(handler.requests.empty());
  EXPECT_TRUE(server->finished());
  EXPECT_NE(client.goaway_error, -1);
}
#endif

TEST(Http2ServerCodec, StreamedAnswerArrivesAsItIsAppendedWithoutLengthWhenUnknown) {
  RecordingHandler handler;
  auto server = makeServer(handler);
  Client client;
  const int32_t id = client.request("POST", "/", {}, "x");
  ASSERT_TRUE(pump(client, *server).ok());
  ASSERT_EQ(handler.requests.size(), 1u);
  EXPECT_TRUE(server->respondHead(id, answer(200, "first "), std::nullopt));
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_EQ(client.streams[id].status, 200);
  EXPECT_EQ(client.streams[id].headers.count("content-length"), 0u);
  EXPECT_EQ(client.streams[id].body, "first ");
  EXPECT_FALSE(client.streams[id].closed);
  EXPECT_TRUE(server->busy());  // waiting for more of the app's body
  EXPECT_TRUE(server->appendBody(id, "second "));
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_EQ(client.streams[id].body, "first second ");
  EXPECT_TRUE(server->appendBody(id, "third"));
  server->finishBody(id);
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_EQ(client.streams[id].body, "first second third");
  EXPECT_TRUE(client.streams[id].closed);
  EXPECT_EQ(client.streams[id].close_error, 0u);
  EXPECT_EQ(server->pendingBody(id), 0u);
  EXPECT_FALSE(server->busy());
}

TEST(Http2ServerCodec, StreamedAnswerWithKnownLengthCarriesIt) {
  RecordingHandler handler;
  auto server = makeServer(handler);
  Client client;
  const int32_t id = client.request("POST", "/", {}, "x");
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_TRUE(server->respondHead(id, answer(200, "ab"), uint64_t{4}));
  EXPECT_TRUE(server->appendBody(id, "cd"));
  server->finishBody(id);
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_EQ(client.streams[id].headers.at("content-length"), "4");
  EXPECT_EQ(client.streams[id].body, "abcd");
  EXPECT_TRUE(client.streams[id].closed);
}

TEST(Http2ServerCodec, AbortedStreamedAnswerIsResetNotAnswered) {
  RecordingHandler handler;
  auto server = makeServer(handler);
  Client client;
  const int32_t id = client.request("POST", "/", {}, "x");
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_TRUE(server->respondHead(id, answer(200, "part"), uint64_t{100}));
  ASSERT_TRUE(pump(client, *server).ok());
  server->abortStream(id);
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_EQ(client.streams[id].status, 200);
  EXPECT_TRUE(client.streams[id].closed);
  EXPECT_EQ(client.streams[id].close_error, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_FALSE(server->appendBody(id, "more"));  // gone: dropped
  EXPECT_FALSE(server->busy());
}

TEST(Http2ServerCodec, StreamedAnswerToAStreamResetByTheSenderIsDropped) {
  RecordingHandler handler;
  auto server = makeServer(handler);
  Client client;
  const int32_t id = client.request("POST", "/", {}, "x");
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_TRUE(server->respondHead(id, answer(200, "part"), std::nullopt));
  ASSERT_TRUE(pump(client, *server).ok());
  client.reset(id);
  ASSERT_TRUE(pump(client, *server).ok());
  EXPECT_FALSE(server->appendBody(id, "more"));
  EXPECT_EQ(server->pendingBody(id), 0u);
  server->finishBody(id);
  EXPECT_FALSE(server->busy());
}

}  // namespace
}  // namespace dedup::http2
