#include "common/hmac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstdlib>

namespace dedup {
namespace {

// Fetched once: looking the algorithm up by name is the costly part of a MAC
// on a short payload. An EVP_MAC is immutable and may be shared by threads.
EVP_MAC* hmacAlgorithm() {
  static EVP_MAC* const mac = [] {
    EVP_MAC* fetched = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (fetched == nullptr) std::abort();
    return fetched;
  }();
  return mac;
}

struct MacContext {
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmacAlgorithm());
  ~MacContext() { EVP_MAC_CTX_free(ctx); }
};

}  // namespace

Sha256Digest hmacSha256(std::string_view key, std::initializer_list<std::string_view> parts) {
  MacContext mac;
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  // An empty key is legal HMAC; OpenSSL wants a non-null pointer for it.
  static const unsigned char kEmpty = 0;
  const auto* key_bytes =
      key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  if (mac.ctx == nullptr || EVP_MAC_init(mac.ctx, key_bytes, key.size(), params) != 1) {
    std::abort();  // out of memory or a broken OpenSSL: nothing to recover
  }
  for (std::string_view part : parts) {
    EVP_MAC_update(mac.ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size());
  }
  Sha256Digest out{};
  size_t length = 0;
  if (EVP_MAC_final(mac.ctx, out.data(), &length, out.size()) != 1 || length != out.size()) {
    std::abort();
  }
  return out;
}

bool digestEquals(const Sha256Digest& digest, std::string_view given) {
  // The length is public (every SHA-256 MAC has 32 bytes): no need to hide it.
  if (given.size() != digest.size()) return false;
  return CRYPTO_memcmp(digest.data(), given.data(), digest.size()) == 0;
}

}  // namespace dedup
