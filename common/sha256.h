// SHA-256 digests (OpenSSL), used for payload fingerprints and key digests.
// Thread-safety: free functions, reentrant.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace dedup {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest sha256(std::string_view data);
// Digest of several parts, each length-prefixed so ("ab","c") != ("a","bc").
Sha256Digest sha256Parts(std::initializer_list<std::string_view> parts);
std::string toHex(const uint8_t* data, size_t size);

}  // namespace dedup
