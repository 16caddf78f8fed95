// Text encodings of binary values: hex (RFC 4648 base16, either case) and
// base64 (RFC 4648, standard alphabet, padded). Used to read signatures and
// secrets that senders send as text. Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dedup {

// 0-15 for a hex digit (either case); -1 for any other character.
int hexDigitValue(char c);

// The bytes of hex digits (upper or lower case); nullopt for an odd length or
// a character that is not a hex digit.
std::optional<std::string> decodeHex(std::string_view text);

// The bytes of padded base64; nullopt for a length that is not a multiple of
// 4, a character outside the alphabet, or misplaced padding.
std::optional<std::string> decodeBase64(std::string_view text);
std::string encodeBase64(std::string_view bytes);

}  // namespace dedup
