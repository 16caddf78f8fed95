// What the HTTP/1 fuzzers share: how an input is read (a control byte, a
// split seed, then the byte stream), how it is fed in pieces, and how a
// broken invariant is reported (abort, so libFuzzer keeps the input).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "common/http_message.h"

#define FUZZ_CHECK(condition)                                                                     \
  do {                                                                                            \
    if (!(condition)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                               \
    }                                                                                             \
  } while (0)

namespace dedup::fuzz {

struct FuzzInput {
  uint8_t control = 0;  // bits pick limits and options; see each fuzzer
  size_t split = 0;     // where the stream is cut in two, data-dependent
  std::string_view stream;
};

// Returns false when the input is too short to carry a header.
inline bool readInput(const uint8_t* data, size_t size, FuzzInput& in) {
  if (size < 3) return false;
  in.control = data[0];
  in.stream = std::string_view(reinterpret_cast<const char*>(data + 3), size - 3);
  const size_t seed = static_cast<size_t>(data[1]) | static_cast<size_t>(data[2]) << 8;
  in.split = seed % (in.stream.size() + 1);
  return true;
}

// The feeding patterns every input is decoded under; results must agree.
inline std::vector<std::vector<size_t>> cutPatterns(const FuzzInput& in) {
  std::vector<std::vector<size_t>> patterns;
  patterns.push_back({});          // all at once
  patterns.push_back({in.split});  // two pieces, at a data-dependent point
  // Byte at a time (small inputs only: it is the slow one).
  if (in.stream.size() <= 512) {
    std::vector<size_t> bytes;
    for (size_t i = 1; i < in.stream.size(); ++i) bytes.push_back(i);
    patterns.push_back(std::move(bytes));
  }
  return patterns;
}

inline bool sameHeaders(const Headers& a, const Headers& b) {
  if (a.entries().size() != b.entries().size()) return false;
  for (size_t i = 0; i < a.entries().size(); ++i) {
    if (a.entries()[i].name != b.entries()[i].name) return false;
    if (a.entries()[i].value != b.entries()[i].value) return false;
  }
  return true;
}

// http-parser 2.9.4 takes a field named "Transfer-Encoding<more>" for a
// Transfer-Encoding and rejects it next to the Content-Length a writer adds.
inline bool hasTransferEncodingLookalike(const Headers& headers) {
  constexpr std::string_view kName = "transfer-encoding";
  for (const Header& h : headers.entries()) {
    if (h.name.size() <= kName.size()) continue;
    bool same = true;
    for (size_t i = 0; i < kName.size() && same; ++i) {
      const char c = h.name[i];
      same = (c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c) == kName[i];
    }
    if (same) return true;
  }
  return false;
}

// A copy without the fields the writers own (framing, connection).
inline Headers withoutFraming(const Headers& headers) {
  Headers out = headers;
  out.remove("Content-Length");
  out.remove("Transfer-Encoding");
  out.remove("Connection");
  return out;
}

}  // namespace dedup::fuzz
