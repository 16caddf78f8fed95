// Structured log lines: one event per line, logfmt (default) or JSON.
//
//   LOG_WARN("upstream timed out", {{"route", route}, {"key", key}});
//
// Thread-safety: any thread; each line goes out in one write(2) to stderr.
#pragma once

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
