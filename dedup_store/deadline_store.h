// Deadlines for a DedupStore: begin, commit and release each answer within
// `timeout`, with Timeout if the store has not answered by then (a hung disk
// becomes a store-error answer, not a hung sender). The store's own answer,
// when it comes later, is dropped.
//
// While an operation is past its deadline and its store has still not
// answered it, `overdue` (shared by every worker's handle on one backend)
// counts it: the backend reports itself unhealthy until the store answers
// again. inspect, forget and beginNow pass straight through.
//
// One timeout for all operations, so deadlines fall in the order the
// operations were made: one timer per handle, armed for the oldest.
//
// Thread-safety: like any DedupStore, used on its loop's thread only;
// `overdue` is atomic.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "dedup_store/dedup_store.h"

namespace dedup {

class EventLoop;

DedupStorePtr withDeadlines(DedupStorePtr inner, EventLoop& loop, std::chrono::milliseconds timeout,
                            std::shared_ptr<std::atomic<int64_t>> overdue);

}  // namespace dedup
