#include "adapters/cloudevents_fingerprint.h"

#include <simdjson.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "common/http_message.h"

namespace dedup {
namespace {

using Attributes = std::vector<std::pair<std::string, std::string>>;

// The media type without parameters, lower case: "application/json".
std::string mediaType(std::string_view content_type) {
  const size_t end = content_type.find(';');
  std::string_view type = content_type.substr(0, end);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return toLowerAscii(type);
}

bool isJsonMediaType(std::string_view content_type) {
  const std::string type = mediaType(content_type);
  return type == "application/json" || type == "text/json" ||
         (type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0);
}

// Binary-mode header values are percent-encoded (HTTP binding 3.1.3.2).
std::string percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = hexDigitValue(text[i + 1]);
      const int low = hexDigitValue(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+') {
      value = 62;
    } else if (c == '/') {
      value = 63;
    } else if (c == '=') {
      break;
    } else {
      return std::nullopt;
    }
    bits = (bits << 6) | static_cast<uint32_t>(value);
    if (++count == 4) {
      out.push_back(static_cast<char>((bits >> 16) & 0xff));
      out.push_back(static_cast<char>((bits >> 8) & 0xff));
      out.push_back(static_cast<char>(bits & 0xff));
      bits = 0;
      count = 0;
    }
  }
  if (count == 1) return std::nullopt;
  if (count == 2) out.push_back(static_cast<char>((bits >> 4) & 0xff));
  if (count == 3) {
    out.push_back(static_cast<char>((bits >> 10) & 0xff));
    out.push_back(static_cast<char>((bits >> 2) & 0xff));
  }
  return out;
}

// JSON text in one canonical spelling: parsed and written back minified.
std::optional<std::string> canonicalJson(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  const simdjson::padded_string padded(text);
  simdjson::dom::element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) return std::nullopt;
  return simdjson::minify(root);
}

void appendField(std::string& out, std::string_view text) {
  const uint64_t size = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
  out.append(text);
}

// The digest of attributes (sorted here) and data, each length-prefixed.
Sha256Digest digest(Attributes attributes, std::optional<std::string> data) {
  std::sort(attributes.begin(), attributes.end());
  std::string text = "cloudevent/1";
  appendField(text, std::to_string(attributes.size()));
  for (const auto& [name, value] : attributes) {
    appendField(text, name);
    appendField(text, value);
  }
  // An empty body in binary mode is no data, as in structured mode.
  if (data && !data->empty()) appendField(text, *data);
  return sha256(text);
}

Sha256Digest binaryFingerprint(const Request& request) {
  Attributes attributes;
  for (const Header& header : request.headers.entries()) {
    if (header.name.size() > 3 && startsWithIgnoreCase(header.name, "ce-")) {
      attributes.emplace_back(toLowerAscii(std::string_view(header.name).substr(3)),
                              percentDecode(header.value));
    }
  }
  const std::string* content_type = request.headers.find("Content-Type");
  if (content_type != nullptr) attributes.emplace_back("datacontenttype", *content_type);
  if (request.body.empty()) return digest(std::move(attributes), {});
  std::optional<std::string> data;
  if (content_type != nullptr && isJsonMediaType(*content_type)) data = canonicalJson(request.body);
  if (!data) data = request.body;
  return digest(std::move(attributes), std::move(data));
}

std::optional<Sha256Digest> structuredFingerprint(const Request& request) {
  thread_local simdjson::dom::parser parser;
  const simdjson::padded_string padded(request.body);
  simdjson::dom::object event;
  if (parser.parse(padded).get(event) != simdjson::SUCCESS) return std::nullopt;

  Attributes attributes;
  std::optional<simdjson::dom::element> data;
  std::optional<std::string> data_base64;
  bool has_content_type = false;
  for (const auto field : event) {
    const std::string_view name = field.key;
    if (name == "data") {
      data = field.value;
      continue;
    }
    if (name == "data_base64") {
      std::string_view encoded;
      if (field.value.get_string().get(encoded) != simdjson::SUCCESS) return std::nullopt;
      data_base64 = base64Decode(encoded);
      if (!data_base64) return std::nullopt;
      continue;
    }
    std::string value;
    std::string_view text;
    if (field.value.get_string().get(text) == simdjson::SUCCESS) {
      value = text;
    } else {
      value = simdjson::minify(field.value);
    }
    if (name == "datacontenttype") has_content_type = true;
    attributes.emplace_back(std::string(name), std::move(value));
  }
  if (data_base64) return digest(std::move(attributes), std::move(data_base64));
  if (!data) return digest(std::move(attributes), {});

  // Structured JSON mode: no datacontenttype means application/json.
  std::string content_type = "application/json";
  for (const auto& [name, value] : attributes) {
    if (name == "datacontenttype") content_type = value;
  }
  if (!has_content_type) attributes.emplace_back("datacontenttype", content_type);
  std::string_view text;
  if (!isJsonMediaType(content_type) && data->get_string().get(text) == simdjson::SUCCESS) {
    return digest(std::move(attributes), std::string(text));
  }
  return digest(std::move(attributes), simdjson::minify(*data));
}

}  // namespace

Sha256Digest cloudEventFingerprint(const Request& request) {
  const std::string* content_type = request.headers.find("Content-Type");
  if (content_type != nullptr && startsWithIgnoreCase(*content_type, "application/cloudevents")) {
    if (std::optional<Sha256Digest> structured = structuredFingerprint(request)) return *structured;
    return sha256(request.body);
  }
  return binaryFingerprint(request);
}

}  // namespace dedup
