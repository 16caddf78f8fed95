#include "adapters/signing_key_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/mutex.h"

namespace dedup {
namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && isSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && isSpace(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

StatusOr<SigningKeys> parseSigningKeys(std::string_view contents,
                                       const SigningKeyFile::Decode& decode) {
  SigningKeys keys;
  size_t line_number = 0;
  while (!contents.empty()) {
    ++line_number;
    const size_t newline = contents.find('\n');
    const std::string_view line = trim(contents.substr(0, newline));
    contents =
        newline == std::string_view::npos ? std::string_view() : contents.substr(newline + 1);
    if (line.empty()) continue;
    StatusOr<std::string> key = decode(line);
    if (!key.ok()) {
      return Status::InvalidArgument("line " + std::to_string(line_number) + ": " +
                                     key.status().message());
    }
    keys.push_back(std::move(key).value());
  }
  if (keys.empty()) return Status::InvalidArgument("holds no secret (one secret per line)");
  return keys;
}

Status SigningKeyFile::load() {
  std::FILE* file = std::fopen(path_.c_str(), "rb");
  if (file == nullptr) {
    return Status::InvalidArgument("cannot read " + path_ + ": " + std::strerror(errno));
  }
  std::string contents;
  char buffer[4096];
  size_t n;
  // A secret file is small; a huge one is a mistake (the wrong path).
  constexpr size_t kMaxBytes = 1 << 20;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0 && contents.size() <= kMaxBytes) {
    contents.append(buffer, n);
  }
  const int error = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (error != 0) {
    return Status::InvalidArgument("cannot read " + path_ + ": " + std::strerror(error));
  }
  if (contents.size() > kMaxBytes) {
    return Status::InvalidArgument(path_ + ": larger than 1MiB, not a secret file");
  }
  StatusOr<SigningKeys> keys = parseSigningKeys(contents, decode_);
  if (!keys.ok()) return Status::InvalidArgument(path_ + ": " + keys.status().message());
  auto fresh = std::make_shared<const SigningKeys>(std::move(keys).value());
  MutexLock lock(keys_mu_);
  keys_.swap(fresh);  // the old set is freed after the lock, with `fresh`
  return Status::OK();
}

}  // namespace dedup
