// HTTP1_INVARIANT: impossible states crash loudly (STYLE.md). Bad traffic is
// never one of them: it becomes a DecodeError. A decoder used out of order
// (take() without a message) or one that stops making progress is a bug.
#pragma once

namespace dedup::http1 {

[[noreturn]] void invariantFailed(const char* condition, const char* file, int line);

}  // namespace dedup::http1

#define HTTP1_INVARIANT(condition)                                                     \
  do {                                                                                 \
    if (!(condition)) ::dedup::http1::invariantFailed(#condition, __FILE__, __LINE__); \
  } while (0)
