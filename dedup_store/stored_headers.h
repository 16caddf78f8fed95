// The section of a stored record that holds a committed answer's replayed
// headers (StoredResponse::headers), shared by the RocksDB and Redis record
// layouts. Both mark its presence with a flag bit in a field they already
// have, so a record without headers is byte for byte what it was before the
// section existed, and records written before still decode.
//
// Layout: varint section_size | section_size bytes of
//           (varint name_size | name | varint value_size | value)*
// (varints: 7 bits a byte, low bits first, high bit = more follows).
//
// Thread-safety: free functions on values.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dedup {

using StoredHeaders = std::vector<std::pair<std::string, std::string>>;

// Appends the section for `headers` to `out`.
void appendHeaderSection(std::string& out, const StoredHeaders& headers);
// Reads one section off the front of `in` into `headers`; false (and `in`
// unspecified) when the section is malformed or truncated.
bool readHeaderSection(std::string_view& in, StoredHeaders& headers);

}  // namespace dedup
