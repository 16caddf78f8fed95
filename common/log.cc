#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace dedup::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kLogfmt};

std::string_view levelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void appendLogfmtValue(std::string& out, std::string_view s) {
  const bool plain = !s.empty() && s.find_first_of(" =\"\\\n\r\t") == std::string_view::npos;
  if (plain) {
    out += s;
  } else {
    appendJsonString(out, s);  // logfmt quoting uses the same escapes
  }
}

}  // namespace

void configure(Level level, Format format) {
  g_level = level;
  g_format = format;
}

bool enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(128);
  if (g_format.load(std::memory_order_relaxed) == Format::kJson) {
    line += "{\"ts\":\"" + timestamp() + "\",\"level\":\"";
    line += levelName(level);
    line += "\",\"msg\":";
    appendJsonString(line, message);
    for (const Field& f : fields) {
      line += ',';
      appendJsonString(line, f.first);
      line += ':';
      appendJsonString(line, f.second);
    }
    line += "}\n";
  } else {
    line += "ts=" + timestamp() + " level=";
    line += levelName(level);
    line += " msg=";
    appendLogfmtValue(line, message);
    for (const Field& f : fields) {
      line += ' ';
      line += f.first;
      line += '=';
      appendLogfmtValue(line, f.second);
    }
    line += '\n';
  }
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

bool parseLevel(std::string_view name, Level* level) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (name == levelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

bool parseFormat(std::string_view name, Format* format) {
  if (name == "logfmt") {
    *format = Format::kLogfmt;
    return true;
  }
  if (name == "json") {
    *format = Format::kJson;
    return true;
  }
  return false;
}

}  // namespace dedup::log
