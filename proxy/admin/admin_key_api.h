// AdminKeyApi: the admin port's view of single keys, for operators.
//
//   GET    /keys/{route}/{key}  → 200 with the key's state (in flight with its
//                                 attempt and lease left; committed with its
//                                 expiry and stored status), 404 when absent
//   DELETE /keys/{route}/{key}  → 200 forgotten (its next delivery is
//                                 processed again), 404 absent, 409 in flight
//
// Off unless a token is configured; every request must then carry
// "Authorization: Bearer TOKEN" (401 otherwise). Store calls run on a loop and
// thread of their own, so the admin loop never waits for the store: /healthz
// and /readyz answer while a /keys call is still running. A store that does
// not answer in kStoreWait gets 503. Thread-safety: handle() from any thread;
// `done` runs once, on the API's own thread (or the caller's, for answers
// that need no store).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/event_loop.h"
#include "common/http_message.h"
#include "dedup_store/dedup_store.h"

namespace dedup {

class AdminKeyApi {
 public:
  // `scopes`: each route's name → the scope its keys are counted in.
  AdminKeyApi(StoreBackend& backend, std::map<std::string, std::string> scopes, std::string token);
  ~AdminKeyApi();
  AdminKeyApi(const AdminKeyApi&) = delete;
  AdminKeyApi& operator=(const AdminKeyApi&) = delete;

  static bool handles(std::string_view path) { return path.substr(0, 6) == "/keys/"; }
  using Done = std::function<void(Response)>;
  // `path` is still percent-encoded; `authorization` may be null.
  void handle(std::string_view method, std::string_view path, const std::string* authorization,
              Done done);

 private:
  void inspect(const std::string& route, const std::string& key, StoreKey store_key, Done done);
  void forget(const std::string& route, const std::string& key, StoreKey store_key, Done done);

  std::map<std::string, std::string> scopes_;
  std::string token_;
  EventLoop loop_;
  DedupStorePtr store_;
  std::thread thread_;
};

}  // namespace dedup
