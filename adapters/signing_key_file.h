// SigningKeyFile: the secrets of one signature scheme, read from a file that
// holds one secret per line (blank lines and surrounding whitespace ignored),
// so Kubernetes can mount a Secret and a secret can rotate: while the sender
// moves from the old secret to the new one, both lines are in the file.
//
// load() reads the file (at start-up, and again on SIGHUP); a failed reload
// keeps the keys in force. Thread-safety: load() from one thread at a time
// (the main thread); keys() from any thread at any time: the whole key set is
// swapped at once (a shared_ptr replaced under a mutex held only to copy the
// pointer), so a worker checking a request keeps the set it started with.
// Not std::atomic<std::shared_ptr>: libstdc++ 12's races under TSan.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "adapters/signature_verifier.h"
#include "common/mutex.h"
#include "common/status.h"

namespace dedup {

class SigningKeyFile {
 public:
  // `decode` turns one line into its HMAC key (SignatureVerifier::signingKey).
  using Decode = std::function<StatusOr<std::string>(std::string_view secret)>;

  // `scheme` names the scheme whose decode this is, for sharing one file
  // object between routes of the same file and scheme.
  SigningKeyFile(std::string path, std::string scheme, Decode decode)
      : path_(std::move(path)), scheme_(std::move(scheme)), decode_(std::move(decode)) {}

  // Reads the file and, if it holds at least one valid secret, makes its
  // keys current. Errors name the file and the line, never the secret.
  Status load();
  // The keys in force; empty before the first successful load().
  std::shared_ptr<const SigningKeys> keys() const {
    MutexLock lock(keys_mu_);
    return keys_;
  }
  const std::string& path() const { return path_; }
  const std::string& scheme() const { return scheme_; }

 private:
  const std::string path_;
  const std::string scheme_;
  const Decode decode_;
  mutable Mutex keys_mu_;
  std::shared_ptr<const SigningKeys> keys_ GUARDED_BY(keys_mu_) =
      std::make_shared<const SigningKeys>();
};

// The keys of a secret file's contents; InvalidArgument "line N: why".
StatusOr<SigningKeys> parseSigningKeys(std::string_view contents,
                                       const SigningKeyFile::Decode& decode);

}  // namespace dedup
