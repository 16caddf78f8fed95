#include "adapters/json_key_extractor.h"

#include <simdjson.h>

#include <vector>

#include "adapters/derived_key.h"

namespace dedup {

bool validJsonPointer(std::string_view pointer) {
  if (pointer.empty() || pointer[0] != '/') return false;
  for (size_t i = 0; i < pointer.size(); ++i) {
    if (pointer[i] != '~') continue;
    if (i + 1 >= pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1')) return false;
  }
  return true;
}

namespace {

ExtractedKey valueAt(const simdjson::dom::element& root, std::string_view pointer,
                     bool strings_only) {
  const std::string what = "JSON value " + std::string(pointer);
  simdjson::dom::element value;
  const simdjson::error_code error = root.at_pointer(pointer).get(value);
  switch (error) {
    case simdjson::SUCCESS:
      break;
    case simdjson::NO_SUCH_FIELD:
    case simdjson::INDEX_OUT_OF_BOUNDS:
    case simdjson::INCORRECT_TYPE:        // walks into a string or a number
    case simdjson::INVALID_JSON_POINTER:  // e.g. "/01" or "/-" into an array
      return ExtractedKey::missing();
    default:
      return ExtractedKey::invalid(what + ": " + simdjson::error_message(error));
  }
  const simdjson::dom::element_type type = value.type();
  if (strings_only && type != simdjson::dom::element_type::STRING) {
    return ExtractedKey::invalid(what + " is not a string");
  }
  // A key keeps its JSON type: the number 123 is "#123", the string "123" is
  // "123", and a string that starts with '#' gets one more ("#a" → "##a"), so
  // no string and no number share a key (README "Keys").
  switch (type) {
    case simdjson::dom::element_type::STRING: {
      std::string text(value.get_string().value_unsafe());
      if (!strings_only && !text.empty() && text.front() == '#') text.insert(0, 1, '#');
      return checkDerivedKey(what, std::move(text));
    }
    case simdjson::dom::element_type::INT64:
      return ExtractedKey::found("#" + std::to_string(value.get_int64().value_unsafe()));
    case simdjson::dom::element_type::UINT64:
      return ExtractedKey::found("#" + std::to_string(value.get_uint64().value_unsafe()));
    case simdjson::dom::element_type::DOUBLE:
      return ExtractedKey::invalid(what +
                                   " is a number that is not an integer (or overflows 64 bits)");
    case simdjson::dom::element_type::BOOL:
      return ExtractedKey::invalid(what + " is a boolean, not a string or an integer");
    case simdjson::dom::element_type::NULL_VALUE:
      return ExtractedKey::invalid(what + " is null, not a string or an integer");
    case simdjson::dom::element_type::ARRAY:
      return ExtractedKey::invalid(what + " is an array, not a string or an integer");
    case simdjson::dom::element_type::OBJECT:
      return ExtractedKey::invalid(what + " is an object, not a string or an integer");
  }
  return ExtractedKey::invalid(what + " has an unknown type");
}

}  // namespace

std::vector<ExtractedKey> extractJsonValues(std::string_view body,
                                            std::initializer_list<std::string_view> pointers,
                                            bool strings_only) {
  std::vector<ExtractedKey> keys;
  keys.reserve(pointers.size());
  // One parser per worker thread: reuses its buffers across requests.
  thread_local simdjson::dom::parser parser;
  const simdjson::padded_string padded(body);
  simdjson::dom::element root;
  const simdjson::error_code error = parser.parse(padded).get(root);
  if (error != simdjson::SUCCESS) {
    const std::string why = std::string("body is not JSON: ") + simdjson::error_message(error);
    for (size_t i = 0; i < pointers.size(); ++i) keys.push_back(ExtractedKey::invalid(why));
    return keys;
  }
  for (std::string_view pointer : pointers) keys.push_back(valueAt(root, pointer, strings_only));
  return keys;
}

ExtractedKey JsonKeyExtractor::extract(const Request& request) const {
  if (request.body.empty()) return ExtractedKey::missing();
  return std::move(extractJsonValues(request.body, {pointer_}).front());
}

}  // namespace dedup
