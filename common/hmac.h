// HMAC-SHA256 (RFC 2104) with OpenSSL, and the constant-time comparison that
// must go with it: comparing MACs with memcmp or == tells an attacker, by
// timing, how many leading bytes of a forgery were right.
// Thread-safety: free functions, reentrant.
#pragma once

#include <initializer_list>
#include <string_view>

#include "common/sha256.h"

namespace dedup {

// HMAC-SHA256 with `key` of the concatenation of `parts` (no separators are
// added: "t" "." "body" signs "t.body"). The parts are fed in turn, so a large
// body is never copied.
Sha256Digest hmacSha256(std::string_view key, std::initializer_list<std::string_view> parts);

// True when `given` holds exactly the digest's bytes; the time taken does not
// depend on where they differ.
bool digestEquals(const Sha256Digest& digest, std::string_view given);

}  // namespace dedup
