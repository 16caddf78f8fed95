// AdminKeyApi: the admin port's view of single keys, for operators.
//
//   GET    /keys/{route}/{key}  → 200 with the key's state (in flight with its
//                                 attempt and lease left; committed with its
//                                 expiry and stored status), 404 when absent
//   DELETE /keys/{route}/{key}  → 200 forgotten (its next delivery is
//                                 processed again), 404 absent, 409 in flight
//
// Off unless a token is configured; every request must then carry
// "Authorization: Bearer TOKEN" (401 otherwise). Store calls run on a loop of
// its own, and handle() waits for them (bounded): this is the admin port, never
// the delivery path. Thread-safety: handle() from one thread at a time.
#pragma once

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
  // `path` is still percent-encoded; `authorization` may be null.
  Response handle(std::string_view method, std::string_view path, const std::string* authorization);

 private:
  Response inspect(const std::string& route, const std::string& scope, const std::string& key);
  Response forget(const std::string& route, const std::string& scope, const std::string& key);

  std::map<std::string, std::string> scopes_;
  std::string token_;
  EventLoop loop_;
  DedupStorePtr store_;
  std::thread thread_;
};

}  // namespace dedup
