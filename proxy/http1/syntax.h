// Character classes and small helpers from the HTTP grammar (RFC 9110 §5.6,
// RFC 9112), shared by the HTTP/1 decoders and writers of this folder. ASCII
// only and locale-free: these run on every header of every message.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace dedup::http1 {

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
inline constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

inline bool isTokenChar(char c) { return kTokenChars[static_cast<unsigned char>(c)]; }

inline bool isOws(char c) { return c == ' ' || c == '\t'; }

inline std::string_view trimOws(std::string_view s) {
  size_t begin = 0;
  size_t end = s.size();
  while (begin < end && isOws(s[begin])) ++begin;
  while (end > begin && isOws(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

inline char asciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// `lower` must already be lower case (a literal such as "content-length").
inline bool equalsLower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (asciiLower(s[i]) != lower[i]) return false;
  }
  return true;
}

// Calls `f(element)` for each non-empty, OWS-trimmed element of a
// comma-separated list (RFC 9110 §5.6.1: empty elements are ignored).
template <typename F>
void forEachListElement(std::string_view list, F&& f) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view element = trimOws(list.substr(0, comma));
    if (!element.empty()) f(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace dedup::http1
