// Structured log lines: one event per line, logfmt (default) or JSON.
//
//   LOG_WARN("upstream timed out", {{"route", route}, {"key", key}});
//
// Log writes never block the caller: a line is appended to a bounded buffer
// (kBufferBytes) that a logging thread writes to stderr, so a slow stderr (a
// pipe to the container runtime) cannot stall an event loop. When the buffer
// is full the line is dropped and counted (droppedLines()). Lines about bad
// input go through a RateLimit, so a flood of bad requests costs a few lines
// a second (suppressedLines() counts the rest).
//
// Thread-safety: any thread; each line goes out whole, in order.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <utility>

namespace dedup::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kLogfmt, kJson };

using Field = std::pair<std::string_view, std::string_view>;

void configure(Level level, Format format);
bool enabled(Level level);
void write(Level level, std::string_view message, std::initializer_list<Field> fields);
// Waits (bounded) until the lines written so far reached stderr. Call before exit.
void flush();

// Bytes of log lines waiting for stderr; past it new lines are dropped.
inline constexpr size_t kBufferBytes = 1 << 20;
// Since the start of the process.
uint64_t droppedLines();
uint64_t suppressedLines();

// At most `per_second` lines of one kind each second; the others are counted
// in suppressedLines(). One static instance per kind of line:
//   static log::RateLimit limit(5);
//   if (limit.allow()) LOG_INFO(...);
// Thread-safety: any thread (lock-free).
class RateLimit {
 public:
  explicit RateLimit(uint32_t per_second) : per_second_(per_second) {}
  bool allow();

 private:
  const uint32_t per_second_;
  std::atomic<int64_t> second_{0};
  std::atomic<uint32_t> used_{0};
};

// "debug" | "info" | "warn" | "error"; false when the name is unknown.
bool parseLevel(std::string_view name, Level* level);
bool parseFormat(std::string_view name, Format* format);

}  // namespace dedup::log

#define DEDUP_LOG(level, msg, ...)                                                    \
  do {                                                                                \
    if (::dedup::log::enabled(level)) ::dedup::log::write(level, msg, {__VA_ARGS__}); \
  } while (0)
#define LOG_DEBUG(msg, ...) DEDUP_LOG(::dedup::log::Level::kDebug, msg, __VA_ARGS__)
#define LOG_INFO(msg, ...) DEDUP_LOG(::dedup::log::Level::kInfo, msg, __VA_ARGS__)
#define LOG_WARN(msg, ...) DEDUP_LOG(::dedup::log::Level::kWarn, msg, __VA_ARGS__)
#define LOG_ERROR(msg, ...) DEDUP_LOG(::dedup::log::Level::kError, msg, __VA_ARGS__)
// Logs only while `limit` allows it (a static RateLimit per kind of line).
#define LOG_LIMITED(limit, level, msg, ...)              \
  do {                                                   \
    if (::dedup::log::enabled(level) && (limit).allow()) \
      ::dedup::log::write(level, msg, {__VA_ARGS__});    \
  } while (0)
