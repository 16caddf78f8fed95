#include "proxy/config/route_config_parse.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "adapters/signature_verifier.h"
#include "common/duration.h"

namespace dedup {
namespace {

using std::chrono::milliseconds;

// Where a node sits, for messages: "routes[1] (stripe) match.path_prefix, line 7".
struct Place {
  const std::string& path;
  std::string route;

  Status error(const std::string& field, const YAML::Node& node, const std::string& what) const {
    return Status::InvalidArgument(path + ": " + route + (field.empty() ? "" : " " + field) + ": " +
                                   what + " (line " + std::to_string(node.Mark().line + 1) + ")");
  }
};

// " ('text')" for a scalar, so a message quotes what was written.
std::string quoted(const YAML::Node& node) {
  return node.IsScalar() ? " ('" + node.Scalar() + "')" : "";
}

Status checkFields(const Place& place, const std::string& field, const YAML::Node& map,
                   std::initializer_list<std::string_view> known) {
  if (!map.IsMap()) return place.error(field, map, "must be a map");
  for (const auto& entry : map) {
    const std::string name = entry.first.Scalar();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string listed;
      for (std::string_view k : known) listed += (listed.empty() ? "" : ", ") + std::string(k);
      return place.error(field.empty() ? name : field + "." + name, entry.first,
                         "unknown field (known: " + listed + ")");
    }
  }
  return Status::OK();
}

Status scalar(const Place& place, const std::string& field, const YAML::Node& node,
              std::string& out) {
  if (!node.IsScalar()) return place.error(field, node, "must be a single value");
  out = node.Scalar();
  return Status::OK();
}

Status boolean(const Place& place, const std::string& field, const YAML::Node& node, bool& out) {
  std::string text;
  if (Status s = scalar(place, field, node, text); !s.ok()) return s;
  if (text != "true" && text != "false") {
    return place.error(field, node, "must be true or false ('" + text + "')");
  }
  out = text == "true";
  return Status::OK();
}

Status duration(const Place& place, const std::string& field, const YAML::Node& node,
                std::optional<milliseconds>& out) {
  std::string text;
  if (Status s = scalar(place, field, node, text); !s.ok()) return s;
  StatusOr<milliseconds> parsed = parseDuration(text);
  if (!parsed.ok()) return place.error(field, node, parsed.status().message());
  if (parsed->count() == 0) return place.error(field, node, "must be more than 0 ('0')");
  out = *parsed;
  return Status::OK();
}

// An HTTP status the proxy may answer with (200-599) or the app may ack with.
Status statusCode(const Place& place, const std::string& field, const YAML::Node& node, int& out) {
  std::string text;
  if (Status s = scalar(place, field, node, text); !s.ok()) return s;
  int code = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || code < 200 ||
      code > 599) {
    return place.error(field, node, "must be an HTTP status from 200 to 599 ('" + text + "')");
  }
  out = code;
  return Status::OK();
}

Status answer(const Place& place, const std::string& field, const YAML::Node& node,
              AnswerOverride& out, bool retry_after_allowed) {
  if (Status s =
          retry_after_allowed
              ? checkFields(place, field, node, {"status", "body", "content_type", "retry_after"})
              : checkFields(place, field, node, {"status", "body", "content_type"});
      !s.ok()) {
    return s;
  }
  if (node["status"]) {
    int code = 0;
    if (Status s = statusCode(place, field + ".status", node["status"], code); !s.ok()) return s;
    out.status = code;
  }
  for (const auto& [name, target] :
       {std::pair{"body", &out.body}, std::pair{"content_type", &out.content_type}}) {
    if (!node[name]) continue;
    // `body: ""` and `body:` (null) both mean an empty body.
    std::string text;
    if (!node[name].IsNull()) {
      if (Status s = scalar(place, field + "." + name, node[name], text); !s.ok()) return s;
    }
    *target = text;
  }
  if (node["retry_after"]) {
    if (Status s = duration(place, field + ".retry_after", node["retry_after"], out.retry_after);
        !s.ok()) {
      return s;
    }
  }
  return Status::OK();
}

Status profile(const Place& place, const YAML::Node& node, ProfileOverride& out) {
  if (Status s = checkFields(place, "profile", node,
                             {"fingerprint", "ack_statuses", "duplicate", "in_flight", "mismatch",
                              "missing_key", "store_error", "replay_headers", "wait_timeout"});
      !s.ok()) {
    return s;
  }
  if (node["fingerprint"]) {
    bool on = true;
    if (Status s = boolean(place, "profile.fingerprint", node["fingerprint"], on); !s.ok()) {
      return s;
    }
    out.fingerprint = on;
  }
  if (const YAML::Node acks = node["ack_statuses"]) {
    if (!acks.IsSequence() || acks.size() == 0) {
      return place.error("profile.ack_statuses", acks, "must be a list of HTTP statuses");
    }
    std::vector<int> codes;
    for (const YAML::Node& item : acks) {
      int code = 0;
      if (Status s = statusCode(place, "profile.ack_statuses", item, code); !s.ok()) return s;
      codes.push_back(code);
    }
    out.ack_statuses = codes;
  }
  if (const YAML::Node duplicate = node["duplicate"]) {
    if (duplicate.IsScalar() && duplicate.Scalar() == "replay") {
      out.duplicate_replays = true;
    } else if (duplicate.IsMap()) {
      if (Status s = answer(place, "profile.duplicate", duplicate, out.duplicate, false); !s.ok()) {
        return s;
      }
    } else {
      return place.error(
          "profile.duplicate", duplicate,
          "must be 'replay' or a map with status, body, content_type" + quoted(duplicate));
    }
  }
  const struct {
    const char* name;
    AnswerOverride* target;
    bool retry_after;
  } answers[] = {{"in_flight", &out.in_flight, true},
                 {"mismatch", &out.mismatch, false},
                 {"missing_key", &out.missing_key, false}};
  for (const auto& a : answers) {
    if (!node[a.name]) continue;
    if (a.target == &out.in_flight && node[a.name].IsScalar()) {
      if (node[a.name].Scalar() != "wait") {
        return place.error("profile.in_flight", node[a.name],
                           "must be 'wait' or a map with status, body, content_type, "
                           "retry_after" +
                               quoted(node[a.name]));
      }
      out.in_flight_waits = true;
      continue;
    }
    if (Status s =
            answer(place, std::string("profile.") + a.name, node[a.name], *a.target, a.retry_after);
        !s.ok()) {
      return s;
    }
  }
  if (node["wait_timeout"]) {
    if (Status s = duration(place, "profile.wait_timeout", node["wait_timeout"], out.wait_timeout);
        !s.ok()) {
      return s;
    }
  }
  if (const YAML::Node headers = node["replay_headers"]) {
    ReplayHeaders replay;
    if (headers.IsScalar() && (headers.Scalar() == "all" || headers.Scalar() == "none")) {
      replay.mode =
          headers.Scalar() == "all" ? ReplayHeaders::Mode::kAll : ReplayHeaders::Mode::kNone;
    } else if (headers.IsSequence()) {
      replay.mode = ReplayHeaders::Mode::kListed;
      for (const YAML::Node& item : headers) {
        std::string name;
        if (Status s = scalar(place, "profile.replay_headers", item, name); !s.ok()) return s;
        const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
          return c > 0x20 && c < 0x7f && c != ':';
        });
        if (!token) {
          return place.error("profile.replay_headers", item,
                             "must be a header name" + quoted(item));
        }
        replay.listed.push_back(name);
      }
    } else {
      return place.error("profile.replay_headers", headers,
                         "must be 'all', 'none' or a list of header names" + quoted(headers));
    }
    out.replay_headers = std::move(replay);
  }
  if (const YAML::Node store_error = node["store_error"]) {
    if (store_error.IsScalar() && store_error.Scalar() == "forward") {
      out.store_error_forwards = true;
    } else if (store_error.IsMap()) {
      if (Status s = answer(place, "profile.store_error", store_error, out.store_error, true);
          !s.ok()) {
        return s;
      }
    } else {
      return place.error("profile.store_error", store_error,
                         "must be 'forward' or a map with status, body, content_type, retry_after" +
                             quoted(store_error));
    }
  }
  return Status::OK();
}

bool validName(const std::string& name) {
  return !name.empty() && name.size() <= 64 &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '_' || c == '-' || c == '.';
         });
}

bool validMethod(const std::string& method) {
  return !method.empty() && std::all_of(method.begin(), method.end(),
                                        [](unsigned char c) { return c >= 'A' && c <= 'Z'; });
}

Status match(const Place& place, const YAML::Node& node, RouteConfig& route) {
  if (Status s = checkFields(place, "match", node, {"path", "path_prefix", "methods", "host"});
      !s.ok()) {
    return s;
  }
  if (node["path"] && node["path_prefix"]) {
    return place.error("match", node, "give either path or path_prefix, not both");
  }
  for (const char* field : {"path", "path_prefix"}) {
    if (!node[field]) continue;
    const std::string name = std::string("match.") + field;
    if (Status s = scalar(place, name, node[field], route.path); !s.ok()) return s;
    if (route.path.empty() || route.path[0] != '/' ||
        route.path.find_first_of("?# \t") != std::string::npos) {
      return place.error(name, node[field],
                         "must be a path starting with '/', without query ('" + route.path + "')");
    }
    route.path_is_prefix = std::string_view(field) == "path_prefix";
  }
  if (const YAML::Node methods = node["methods"]) {
    if (!methods.IsSequence() || methods.size() == 0) {
      return place.error("match.methods", methods, "must be a list such as [POST]");
    }
    for (const YAML::Node& item : methods) {
      std::string method;
      if (Status s = scalar(place, "match.methods", item, method); !s.ok()) return s;
      if (!validMethod(method)) {
        return place.error("match.methods", item,
                           "must be upper-case HTTP methods such as POST ('" + method + "')");
      }
      route.methods.push_back(method);
    }
  }
  if (node["host"]) {
    if (Status s = scalar(place, "match.host", node["host"], route.host); !s.ok()) return s;
    if (route.host.empty() || route.host.find_first_of(" /\t") != std::string::npos) {
      return place.error("match.host", node["host"], "must be a host name ('" + route.host + "')");
    }
  }
  return Status::OK();
}

// `signature: none`, or `signature: {scheme, secret_file, tolerance}`.
Status signature(const Place& place, const YAML::Node& node,
                 std::optional<RouteSignatureConfig>& out) {
  RouteSignatureConfig config;
  if (node.IsScalar() && node.Scalar() == "none") {
    config.none = true;
    out = config;
    return Status::OK();
  }
  if (!node.IsMap()) {
    return place.error(
        "signature", node,
        "must be 'none' or a map with scheme, secret_file, tolerance" + quoted(node));
  }
  if (Status s = checkFields(place, "signature", node, {"scheme", "secret_file", "tolerance"});
      !s.ok()) {
    return s;
  }
  for (const auto& [field, target] :
       {std::pair{"scheme", &config.scheme}, std::pair{"secret_file", &config.secret_file}}) {
    if (!node[field]) continue;
    const std::string name = std::string("signature.") + field;
    if (Status s = scalar(place, name, node[field], *target); !s.ok()) return s;
    if (target->empty()) return place.error(name, node[field], "must not be empty");
  }
  if (!config.scheme.empty() &&
      !makeSignatureVerifier(config.scheme, kDefaultSignatureTolerance).ok()) {
    return place.error("signature.scheme", node["scheme"],
                       "must be one of " + signatureSchemeNames() + quoted(node["scheme"]));
  }
  if (node["tolerance"]) {
    if (Status s = duration(place, "signature.tolerance", node["tolerance"], config.tolerance);
        !s.ok()) {
      return s;
    }
  }
  out = config;
  return Status::OK();
}

Status route(const Place& place, const YAML::Node& node, RouteConfig& out) {
  if (Status s = checkFields(place, "", node,
                             {"name", "match", "preset", "key", "scope", "ttl", "lease",
                              "require_key", "profile", "signature"});
      !s.ok()) {
    return s;
  }
  if (node["signature"]) {
    if (Status s = signature(place, node["signature"], out.signature); !s.ok()) return s;
  }
  for (const auto& [field, target] : {std::pair{"preset", &out.preset}, std::pair{"key", &out.key},
                                      std::pair{"scope", &out.scope}}) {
    if (!node[field]) continue;
    if (Status s = scalar(place, field, node[field], *target); !s.ok()) return s;
    if (target->empty()) return place.error(field, node[field], "must not be empty");
  }
  if (!out.scope.empty() && !validName(out.scope)) {
    return place.error("scope", node["scope"],
                       "must be letters, digits, '_', '-' or '.' ('" + out.scope + "')");
  }
  if (node["match"]) {
    if (Status s = match(place, node["match"], out); !s.ok()) return s;
  }
  if (node["ttl"]) {
    if (Status s = duration(place, "ttl", node["ttl"], out.ttl); !s.ok()) return s;
  }
  if (node["lease"]) {
    if (Status s = duration(place, "lease", node["lease"], out.lease); !s.ok()) return s;
  }
  if (node["require_key"]) {
    bool required = false;
    if (Status s = boolean(place, "require_key", node["require_key"], required); !s.ok()) return s;
    out.require_key = required;
  }
  if (node["profile"]) return profile(place, node["profile"], out.profile);
  return Status::OK();
}

}  // namespace

Status parseRoutes(const YAML::Node& routes, const std::string& path,
                   std::vector<RouteConfig>& out) {
  if (!routes.IsSequence()) {
    return Place{path, "routes"}.error("", routes, "must be a list of routes (- name: ...)");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < routes.size(); ++i) {
    const YAML::Node node = routes[i];
    Place place{path, "routes[" + std::to_string(i) + "]"};
    if (!node.IsMap() || !node["name"] || !node["name"].IsScalar()) {
      return place.error("name", node, "every route needs a name");
    }
    RouteConfig config;
    config.name = node["name"].Scalar();
    config.line = node.Mark().line + 1;
    place.route += " (" + config.name + ")";
    if (!validName(config.name) || config.name == "unmatched") {
      return place.error(
          "name", node["name"],
          "must be letters, digits, '_', '-' or '.', and not 'unmatched' ('" + config.name + "')");
    }
    if (!names.insert(config.name).second) {
      return place.error("name", node["name"], "another route has this name");
    }
    if (Status s = route(place, node, config); !s.ok()) return s;
    out.push_back(std::move(config));
  }
  return Status::OK();
}

}  // namespace dedup
