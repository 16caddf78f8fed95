#include "proxy/admin/admin_key_api.h"

#include <event2/http.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cstdlib>
#include <future>
#include <memory>

#include "proxy/local_response.h"

namespace dedup {
namespace {

constexpr auto kStoreWait = std::chrono::seconds(5);

Response json(int status, std::string body) {
  Response response;
  response.status = status;
  response.headers.add("Content-Type", "application/json");
  response.body = std::move(body) + "\n";
  return response;
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

std::string percentDecoded(std::string_view text) {
  size_t length = 0;
  char* decoded = evhttp_uridecode(std::string(text).c_str(), 0, &length);
  if (decoded == nullptr) return {};
  std::string out(decoded, length);
  std::free(decoded);
  return out;
}

bool tokenMatches(const std::string& token, const std::string* authorization) {
  static constexpr std::string_view kBearer = "Bearer ";
  if (authorization == nullptr || authorization->size() != kBearer.size() + token.size() ||
      authorization->compare(0, kBearer.size(), kBearer) != 0) {
    return false;
  }
  return CRYPTO_memcmp(authorization->data() + kBearer.size(), token.data(), token.size()) == 0;
}

// One store call on the API's loop: `done` gets the store's answer, or a
// timeout if the store takes longer than kStoreWait, whichever comes first.
template <typename Result>
struct Pending {
  std::function<void(StatusOr<Result>)> done;
  TimerPtr timer;
  bool answered = false;

  void finish(StatusOr<Result> result) {
    if (answered) return;
    answered = true;
    timer.reset();
    done(std::move(result));
  }
};

// Runs `call` (given the store's callback) on `loop`; `done` runs there too.
template <typename Result, typename Call>
void ask(EventLoop& loop, Call call, std::function<void(StatusOr<Result>)> done) {
  loop.post([&loop, call = std::move(call), done = std::move(done)]() mutable {
    auto pending = std::make_shared<Pending<Result>>();
    pending->done = std::move(done);
    std::weak_ptr<Pending<Result>> weak = pending;
    pending->timer = loop.createTimer([weak] {
      if (auto p = weak.lock())
        p->finish(Status::Timeout("the dedup store did not answer in time"));
    });
    pending->timer->arm(kStoreWait);
    call([pending](StatusOr<Result> result) { pending->finish(std::move(result)); });
  });
}

}  // namespace

AdminKeyApi::AdminKeyApi(StoreBackend& backend, std::map<std::string, std::string> scopes,
                         std::string token)
    : scopes_(std::move(scopes)), token_(std::move(token)), store_(backend.attach(loop_)) {
  thread_ = std::thread([this] { loop_.run(); });
}

AdminKeyApi::~AdminKeyApi() {
  // The store is destroyed on its loop's thread, then the loop stops.
  std::promise<void> done;
  loop_.post([this, &done] {
    store_.reset();
    done.set_value();
  });
  done.get_future().wait();
  loop_.exit();
  thread_.join();
}

void AdminKeyApi::handle(std::string_view method, std::string_view path,
                         const std::string* authorization, Done done) {
  if (token_.empty()) return done(problemResponse(404, "the key API is off (set --admin-token)"));
  if (!tokenMatches(token_, authorization)) {
    Response response = problemResponse(401, "missing or wrong bearer token");
    response.headers.add("WWW-Authenticate", "Bearer");
    return done(std::move(response));
  }
  const std::string_view rest = path.substr(6);  // after "/keys/"
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size()) {
    return done(problemResponse(400, "use /keys/{route}/{key}"));
  }
  const std::string route = percentDecoded(rest.substr(0, slash));
  const std::string key = percentDecoded(rest.substr(slash + 1));
  const auto scope = scopes_.find(route);
  if (scope == scopes_.end()) return done(problemResponse(404, "no route named '" + route + "'"));
  const StoreKey store_key = StoreKey::of(scope->second, key);
  if (method == "GET") return inspect(route, key, store_key, std::move(done));
  if (method == "DELETE") return forget(route, key, store_key, std::move(done));
  Response response = problemResponse(405, "use GET or DELETE");
  response.headers.add("Allow", "GET, DELETE");
  done(std::move(response));
}

namespace {

Response describe(const std::string& route, const std::string& key,
                  const StatusOr<KeyState>& state) {
  if (!state.ok()) return problemResponse(503, state.status().ToString());
  std::string body = "{\"route\":" + quoted(route) + ",\"key\":" + quoted(key) + ",\"state\":";
  switch (state->kind) {
    case KeyState::Kind::kAbsent:
      return json(404, body + "\"absent\"}");
    case KeyState::Kind::kInFlight:
      return json(200, body + "\"in_flight\",\"attempt\":" + std::to_string(state->attempt) +
                           ",\"lease_expires_in_ms\":" + std::to_string(state->lease_left.count()) +
                           "}");
    case KeyState::Kind::kCommitted:
      return json(200, body + "\"committed\",\"attempt\":" + std::to_string(state->attempt) +
                           ",\"expires_at_unix_ms\":" + std::to_string(state->expires_at_ms) +
                           ",\"stored_status\":" + std::to_string(state->status) + "}");
    case KeyState::Kind::kReleased:
      return json(200, body + "\"released\",\"attempt\":" + std::to_string(state->attempt) +
                           ",\"expires_at_unix_ms\":" + std::to_string(state->expires_at_ms) + "}");
  }
  return problemResponse(500, "unknown key state");
}

Response describe(const std::string& route, const std::string& key,
                  const StatusOr<ForgetOutcome>& outcome) {
  if (!outcome.ok()) return problemResponse(503, outcome.status().ToString());
  const std::string body = "{\"route\":" + quoted(route) + ",\"key\":" + quoted(key);
  switch (*outcome) {
    case ForgetOutcome::kForgotten:
      return json(200, body + ",\"forgotten\":true}");
    case ForgetOutcome::kAbsent:
      return json(404, body + ",\"forgotten\":false,\"state\":\"absent\"}");
    case ForgetOutcome::kInFlight:
      return json(409, body + ",\"forgotten\":false,\"state\":\"in_flight\"}");
  }
  return problemResponse(500, "unknown outcome");
}

}  // namespace

void AdminKeyApi::inspect(const std::string& route, const std::string& key, StoreKey store_key,
                          Done done) {
  ask<KeyState>(
      loop_,
      [this, store_key](InspectCallback answer) { store_->inspect(store_key, std::move(answer)); },
      [route, key, done = std::move(done)](StatusOr<KeyState> state) {
        done(describe(route, key, state));
      });
}

void AdminKeyApi::forget(const std::string& route, const std::string& key, StoreKey store_key,
                         Done done) {
  ask<ForgetOutcome>(
      loop_,
      [this, store_key](ForgetCallback answer) { store_->forget(store_key, std::move(answer)); },
      [route, key, done = std::move(done)](StatusOr<ForgetOutcome> outcome) {
        done(describe(route, key, outcome));
      });
}

}  // namespace dedup
