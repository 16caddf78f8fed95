#include "common/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace dedup {
namespace {

// SHA-256 fetched once: EVP_sha256() makes every EVP_DigestInit_ex() look
// the algorithm up by name again (OpenSSL 3), which cost more than hashing a
// key. One context per thread, reset by each init, so nothing is allocated
// per digest either.
const EVP_MD* sha256Algorithm() {
  static EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) std::abort();
    return fetched;
  }();
  return md;
}

class DigestContext {
 public:
  DigestContext() : ctx_(threadContext()) {
    if (EVP_DigestInit_ex(ctx_, sha256Algorithm(), nullptr) != 1) std::abort();
  }
  void update(std::string_view data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }
  Sha256Digest finish() {
    Sha256Digest out{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, out.data(), &len);
    return out;
  }

 private:
  struct Owned {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Owned() { EVP_MD_CTX_free(ctx); }
  };
  static EVP_MD_CTX* threadContext() {
    thread_local Owned owned;
    if (owned.ctx == nullptr) std::abort();
    return owned.ctx;
  }

  EVP_MD_CTX* ctx_;
};

}  // namespace

Sha256Digest sha256(std::string_view data) {
  DigestContext ctx;
  ctx.update(data);
  return ctx.finish();
}

Sha256Digest sha256Parts(std::initializer_list<std::string_view> parts) {
  DigestContext ctx;
  for (std::string_view part : parts) {
    const uint64_t n = part.size();
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>(n >> (8 * i));
    ctx.update(std::string_view(len, sizeof(len)));
    ctx.update(part);
  }
  return ctx.finish();
}

std::string toHex(const uint8_t* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

}  // namespace dedup
