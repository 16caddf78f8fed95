#include "common/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace dedup {
namespace {

class DigestContext {
 public:
  DigestContext() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) std::abort();
  }
  ~DigestContext() { EVP_MD_CTX_free(ctx_); }
  void update(std::string_view data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }
  Sha256Digest finish() {
    Sha256Digest out{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, out.data(), &len);
    return out;
  }

 private:
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
