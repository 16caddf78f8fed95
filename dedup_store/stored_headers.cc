#include "dedup_store/stored_headers.h"

#include <cstdint>

namespace dedup {
namespace {

void putVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

bool getVarint(std::string_view& in, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    const auto byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

bool getString(std::string_view& in, std::string& out) {
  uint64_t size = 0;
  if (!getVarint(in, size) || size > in.size()) return false;
  out.assign(in.substr(0, size));
  in.remove_prefix(size);
  return true;
}

}  // namespace

void appendHeaderSection(std::string& out, const StoredHeaders& headers) {
  std::string section;
  for (const auto& [name, value] : headers) {
    putVarint(section, name.size());
    section += name;
    putVarint(section, value.size());
    section += value;
  }
  putVarint(out, section.size());
  out += section;
}

bool readHeaderSection(std::string_view& in, StoredHeaders& headers) {
  uint64_t size = 0;
  if (!getVarint(in, size) || size > in.size()) return false;
  std::string_view section = in.substr(0, size);
  in.remove_prefix(size);
  headers.clear();
  while (!section.empty()) {
    std::string name;
    std::string value;
    if (!getString(section, name) || name.empty() || !getString(section, value)) return false;
    headers.emplace_back(std::move(name), std::move(value));
  }
  return true;
}

}  // namespace dedup
