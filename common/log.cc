#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>
#include <thread>

#include "common/mutex.h"

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

// The bounded buffer and the thread that writes it to stderr, started at the
// first line. Never destroyed: a thread blocked on a stuck stderr must not hold
// up the process's exit (main() calls flush(), bounded, instead).
class Sink {
 public:
  void add(std::string&& line) {
    {
      MutexLock lock(mutex_);
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
      if (pending_.size() + line.size() > kBufferBytes) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      pending_ += line;
    }
    wake_.notify_one();
  }

  void flush() {
    MutexLock lock(mutex_);
    written_.wait_for(lock.native(), std::chrono::seconds(2),
                      [this]() REQUIRES(mutex_) { return pending_.empty() && !writing_; });
  }

  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  void run() {
    std::string batch;
    MutexLock lock(mutex_);
    for (;;) {
      wake_.wait(lock.native(), [this]() REQUIRES(mutex_) { return !pending_.empty(); });
      batch.swap(pending_);
      writing_ = true;
      lock.native().unlock();
      // Blocking writes, off every event loop.
      std::string_view rest = batch;
      while (!rest.empty()) {
        const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // stderr is gone: nothing more to do with these lines
        rest.remove_prefix(static_cast<size_t>(n));
      }
      batch.clear();
      lock.native().lock();
      writing_ = false;
      written_.notify_all();
    }
  }

  Mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable written_;
  std::string pending_ GUARDED_BY(mutex_);
  bool writing_ GUARDED_BY(mutex_) = false;
  std::thread thread_ GUARDED_BY(mutex_);
  std::atomic<uint64_t> dropped_{0};
};

Sink& sink() {
  static Sink* instance = new Sink;
  return *instance;
}

std::atomic<uint64_t> g_suppressed{0};

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool RateLimit::allow() {
  const int64_t now = nowSeconds();
  int64_t second = second_.load(std::memory_order_relaxed);
  if (second != now && second_.compare_exchange_strong(second, now, std::memory_order_relaxed)) {
    used_.store(0, std::memory_order_relaxed);
  }
  if (used_.fetch_add(1, std::memory_order_relaxed) < per_second_) return true;
  g_suppressed.fetch_add(1, std::memory_order_relaxed);
  return false;
}

uint64_t droppedLines() { return sink().dropped(); }
uint64_t suppressedLines() { return g_suppressed.load(std::memory_order_relaxed); }
void flush() { sink().flush(); }

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
  sink().add(std::move(line));
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
