// What a commit keeps of the app's acknowledging answer, and so what its
// replays carry (README "What the sender gets").
//
// The status always. Then, within `max_stored` bytes: first the headers the
// route's profile replays (ReplayHeaders; each costs name + value + 4 bytes,
// as on the wire), then Content-Type and the body if they fit beside them. A
// longer body is replayed as status and headers only.
//
// Thread-safety: a pure function.
#pragma once

#include <cstdint>

#include "adapters/profile.h"
#include "common/http_message.h"
#include "dedup_store/dedup_store.h"

namespace dedup {

// `app` has had its hop-by-hop headers removed already.
StoredResponse storedResponse(const ReplayHeaders& replay, const Response& app,
                              uint64_t max_stored);

}  // namespace dedup
