#include <cstring>

#include "dedup_store/dedup_store.h"

namespace dedup {

StoreKey StoreKey::of(std::string_view scope, std::string_view key) {
  const Sha256Digest full = sha256Parts({scope, key});
  StoreKey out;
  std::memcpy(out.digest.data(), full.data(), kSize);
  return out;
}

}  // namespace dedup
