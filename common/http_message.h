// An HTTP request or response as the parts exchange it: fully buffered,
// framing already removed (no chunked encoding, no Content-Length needed by
// readers). Shared by proxy/ (which parses and writes them) and adapters/
// (which read keys from them). Thread-safety: plain values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dedup {

struct Header {
  std::string name;
  std::string value;
};

class Headers {
 public:
  // First value of a header, case-insensitive name; nullptr when absent.
  const std::string* find(std::string_view name) const;
  // Number of headers with this name.
  size_t count(std::string_view name) const;
  void add(std::string name, std::string value) {
    entries_.push_back({std::move(name), std::move(value)});
  }
  // Replaces every header of this name with one.
  void set(std::string_view name, std::string value);
  // Removes every header of this name; returns how many were removed.
  size_t remove(std::string_view name);

  const std::vector<Header>& entries() const { return entries_; }
  std::vector<Header>& entries() { return entries_; }
  bool empty() const { return entries_.empty(); }

 private:
  std::vector<Header> entries_;
};

// ASCII case-insensitive comparisons and lower-casing, as HTTP tokens (field
// names, media types) are compared.
bool equalsIgnoreCase(std::string_view a, std::string_view b);
bool startsWithIgnoreCase(std::string_view text, std::string_view prefix);
std::string toLowerAscii(std::string_view text);

struct Request {
  std::string method;     // "POST"
  std::string target;     // origin-form: "/path?query"
  int version_minor = 1;  // HTTP/1.<version_minor>
  Headers headers;
  std::string body;
  bool keep_alive = true;  // what the sender asked for (version + Connection)
};

struct Response {
  int status = 200;
  std::string reason;  // empty: the standard phrase for status
  int version_minor = 1;
  Headers headers;
  std::string body;
  bool keep_alive = true;
};

// The standard reason phrase for a status code ("Conflict"), or "Unknown".
std::string_view reasonPhrase(int status);

}  // namespace dedup
