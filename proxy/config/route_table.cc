#include "proxy/config/route_table.h"

#include <algorithm>

#include "common/duration.h"

namespace dedup {
namespace {

bool isDedupMethod(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

// The Host header without its port: "Example.com:8080" → "Example.com",
// "[::1]:8080" → "[::1]".
std::string_view hostName(std::string_view host) {
  if (!host.empty() && host.front() == '[') return host.substr(0, host.find(']') + 1);
  return host.substr(0, host.find(':'));
}

std::string_view pathOf(const std::string& target) {
  return std::string_view(target).substr(0, target.find('?'));
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : std::string(separator)) + part;
  return out;
}

std::string describeAcks(const Profile& profile) {
  if (profile.ack_statuses.empty()) return "2xx";
  std::vector<std::string> codes;
  for (int code : profile.ack_statuses) codes.push_back(std::to_string(code));
  return join(codes, " ");
}

// The preset and key spec of one route: a named preset brings its key spec
// and profile; `key` (a spec or a preset name) overrides the spec.
struct KeyChoice {
  const Preset* preset;
  std::string spec;
};

KeyChoice chooseKey(const Config& config, const RouteConfig* route) {
  const Preset* top_preset = findPreset(config.key);
  if (route != nullptr && !route->preset.empty()) {
    const Preset* preset = findPreset(route->preset);
    const Preset* key_preset = findPreset(route->key);
    std::string spec = route->key.empty() ? (preset ? preset->key_spec : "")
                       : key_preset       ? key_preset->key_spec
                                          : route->key;
    return {preset, spec};
  }
  if (route != nullptr && !route->key.empty()) {
    if (const Preset* preset = findPreset(route->key)) return {preset, preset->key_spec};
    return {findPreset(kDefaultPreset), route->key};
  }
  if (top_preset != nullptr) return {top_preset, top_preset->key_spec};
  return {findPreset(kDefaultPreset), config.key};
}

StatusOr<std::unique_ptr<Route>> buildRoute(const Config& config, const RouteConfig* entry) {
  auto route = std::make_unique<Route>();
  const std::string where = entry ? "routes (" + entry->name + ")" : std::string("key");
  const KeyChoice choice = chooseKey(config, entry);
  if (choice.preset == nullptr) {
    return Status::InvalidArgument(where + " preset: unknown preset '" + entry->preset +
                                   "' (known: " + presetNames() + ")");
  }
  StatusOr<KeyExtractorPtr> extractor = makeKeyExtractor(choice.spec);
  if (!extractor.ok()) {
    return Status::InvalidArgument(where + (entry ? " key" : "") + ": " +
                                   extractor.status().message() +
                                   ", or a preset: " + presetNames());
  }
  route->extractor = std::move(extractor).value();
  route->preset = choice.preset->name;
  route->profile = choice.preset->profile;
  route->retry_horizon = choice.preset->retry_horizon;
  route->require_key = config.require_key;
  route->ttl = config.ttl;
  route->lease = config.effectiveLease();
  if (entry != nullptr) {
    route->name = entry->name;
    route->scope = entry->scope.empty() ? entry->name : entry->scope;
    route->match.path = entry->path;
    route->match.path_is_prefix = entry->path_is_prefix;
    route->match.methods =
        entry->methods.empty() ? std::vector<std::string>{"POST", "PUT", "PATCH"} : entry->methods;
    route->match.host = entry->host;
    route->profile = applyOverride(route->profile, entry->profile);
    if (entry->require_key) route->require_key = *entry->require_key;
    if (entry->ttl) route->ttl = *entry->ttl;
    if (entry->lease) route->lease = *entry->lease;
  }
  if (route->lease <= config.upstream_timeout) {
    // The lease would end while the app may still be working on the first
    // copy: a redelivery would be forwarded next to it.
    const std::string lease_key = entry && entry->lease ? where + " lease" : std::string("lease");
    return Status::InvalidArgument(
        lease_key + ": " + formatDuration(route->lease) + " is not longer than upstream_timeout " +
        formatDuration(config.upstream_timeout) +
        ": a redelivery would reach the app while the first copy may still be there (set it "
        "above upstream_timeout, e.g. " +
        formatDuration(config.upstream_timeout + std::chrono::seconds(5)) + ")");
  }
  route->store_error_forwards = route->profile.store_error_forwards.value_or(
      config.on_store_error == StoreErrorPolicy::kFailOpen);
  return route;
}

// The signature check of one route, from (most specific first) its own
// `signature:`, the preset the route chose itself, the top-level
// --signature, and the top-level preset. A scheme from a preset alone is
// off until a secret file is given; a scheme named explicitly needs one.
Status attachSignature(const Config& config, const RouteConfig* entry, const Preset& preset,
                       RouteTable& table, Route& route) {
  const RouteSignatureConfig own =
      entry != nullptr && entry->signature ? *entry->signature : RouteSignatureConfig{};
  if (own.none) return Status::OK();
  const std::string where =
      entry ? "routes (" + entry->name + ") signature" : std::string("signature");
  const bool route_chose_sender =
      entry != nullptr && (!entry->preset.empty() || !entry->key.empty());
  std::string scheme = own.scheme;
  bool explicit_scheme = !scheme.empty();
  if (scheme.empty() && route_chose_sender) scheme = preset.signature_scheme;
  if (scheme.empty() && !config.signature.empty()) {
    scheme = config.signature;
    explicit_scheme = true;
  }
  if (scheme.empty()) scheme = preset.signature_scheme;
  const std::string secret_file =
      own.secret_file.empty() ? config.signature_secret_file : own.secret_file;
  if (secret_file.empty()) {
    if (!explicit_scheme) return Status::OK();
    return Status::InvalidArgument(where + ": scheme " + scheme +
                                   " needs a secret file (--signature-secret-file, or "
                                   "signature.secret_file on the route)");
  }
  if (scheme.empty()) {
    return Status::InvalidArgument(
        where + ": a secret file is set but preset " + preset.name +
        " names no signature scheme: set --signature or signature.scheme (" +
        signatureSchemeNames() + ")" + (entry ? ", or signature: none on this route" : ""));
  }
  const auto tolerance =
      std::chrono::ceil<std::chrono::seconds>(own.tolerance.value_or(config.signature_tolerance));
  StatusOr<SignatureVerifierPtr> verifier = makeSignatureVerifier(scheme, tolerance);
  if (!verifier.ok()) return Status::InvalidArgument(where + ": " + verifier.status().message());
  route.signature = std::move(verifier).value();
  // One file object per (path, scheme): the scheme decides how a line decodes.
  for (const auto& file : table.signingKeyFiles()) {
    if (file->path() == secret_file && file->scheme() == scheme) {
      route.signing_keys = file;
      return Status::OK();
    }
  }
  const SignatureVerifierPtr decoder = route.signature;
  auto file = std::make_shared<SigningKeyFile>(
      secret_file, scheme,
      [decoder](std::string_view secret) { return decoder->signingKey(secret); });
  if (Status s = file->load(); !s.ok()) {
    return Status::InvalidArgument(where + ".secret_file: " + s.message());
  }
  table.signingKeyFiles().push_back(file);
  route.signing_keys = std::move(file);
  return Status::OK();
}

}  // namespace

Status reloadSigningKeys(const RouteTable& table) {
  std::string failures;
  for (const auto& file : table.signingKeyFiles()) {
    if (Status s = file->load(); !s.ok()) failures += (failures.empty() ? "" : "; ") + s.message();
  }
  return failures.empty() ? Status::OK() : Status::InvalidArgument(failures);
}

bool RouteMatch::matches(const Request& request) const {
  if (!methods.empty() &&
      std::find(methods.begin(), methods.end(), request.method) == methods.end()) {
    return false;
  }
  const std::string_view request_path = pathOf(request.target);
  if (path_is_prefix) {
    // Whole segments: /hooks matches /hooks and /hooks/a, not /hooksx.
    if (request_path.substr(0, path.size()) != path) return false;
    if (request_path.size() > path.size() && path.back() != '/' &&
        request_path[path.size()] != '/') {
      return false;
    }
  } else if (request_path != path) {
    return false;
  }
  if (host.empty()) return true;
  const std::string* header = request.headers.find("Host");
  return header != nullptr && equalsIgnoreCase(hostName(*header), host);
}

bool Route::deduplicates(const Request& request) const {
  if (passthrough_only) return false;
  if (match.methods.empty() && !isDedupMethod(request.method)) return false;
  return !profile.bypasses(request);
}

const Route& RouteTable::match(const Request& request) const {
  for (const auto& route : routes_) {
    if (route->match.matches(request)) return *route;
  }
  return unmatched_;
}

const Route& RouteTable::fallback() const {
  return explicit_routes ? unmatched_ : *routes_.front();
}

const Route* RouteTable::find(const std::string& name) const {
  for (const auto& route : routes_) {
    if (route->name == name) return route.get();
  }
  return nullptr;
}

StatusOr<std::unique_ptr<RouteTable>> buildRoutes(const Config& config) {
  auto table = std::make_unique<RouteTable>();
  table->unmatched().name = "unmatched";
  table->unmatched().scope = "unmatched";
  table->unmatched().passthrough_only = true;
  if (config.routes.empty()) {
    StatusOr<std::unique_ptr<Route>> route = buildRoute(config, nullptr);
    if (!route.ok()) return route.status();
    if (Status s = attachSignature(config, nullptr, *findPreset((*route)->preset), *table, **route);
        !s.ok()) {
      return s;
    }
    table->routes().push_back(std::move(route).value());
    return table;
  }
  // The top-level key still has to be valid: it is every route's default.
  if (StatusOr<std::unique_ptr<Route>> top = buildRoute(config, nullptr); !top.ok()) {
    return top.status();
  }
  table->explicit_routes = true;
  for (const RouteConfig& entry : config.routes) {
    StatusOr<std::unique_ptr<Route>> route = buildRoute(config, &entry);
    if (!route.ok()) return route.status();
    if (Status s = attachSignature(config, &entry, *findPreset((*route)->preset), *table, **route);
        !s.ok()) {
      return s;
    }
    table->routes().push_back(std::move(route).value());
  }
  return table;
}

std::vector<std::string> retryHorizonWarnings(const RouteTable& table) {
  std::vector<std::string> warnings;
  for (const auto& route : table.routes()) {
    if (!route->retry_horizon || route->ttl >= *route->retry_horizon) continue;
    const Preset* preset = findPreset(route->preset);
    warnings.push_back("route " + route->name + ": ttl " + formatDuration(route->ttl) +
                       " is shorter than the retry horizon of " + preset->sender + " (" +
                       formatDuration(*route->retry_horizon) +
                       "): a redelivery after the ttl reaches the app again");
  }
  return warnings;
}

std::string describeRoutes(const RouteTable& table) {
  std::string out;
  for (const auto& route : table.routes()) {
    const RouteMatch& m = route->match;
    const Profile& p = route->profile;
    out += "route " + route->name + "\n";
    out += "  match: " + (m.methods.empty() ? std::string("any method") : join(m.methods, ",")) +
           " " + m.path + (m.path_is_prefix ? " (prefix)" : " (exact)") + ", host " +
           (m.host.empty() ? std::string("any") : m.host) + "\n";
    out += "  preset: " + route->preset + "\n";
    out += "  key: " + route->extractor->spec() + "\n";
    out += "  scope: " + route->scope + "\n";
    out += "  ttl: " + formatDuration(route->ttl) + "\n";
    out += "  lease: " + formatDuration(route->lease) + "\n";
    out += "  fingerprint: " + std::string(p.fingerprint ? "on" : "off") + "\n";
    out += "  acks: " + describeAcks(p) + "\n";
    out += "  duplicate: " + (p.duplicate ? describeAnswer(*p.duplicate) : "replay") + "\n";
    out += "  in_flight: " +
           (p.in_flight_waits
                ? "wait up to " + formatDuration(std::min(p.wait_timeout, route->lease)) +
                      ", then " + describeAnswer(p.in_flight)
                : describeAnswer(p.in_flight)) +
           "\n";
    if (p.replay_headers.mode != ReplayHeaders::Mode::kDefault) {
      out += "  replay_headers: " + describeReplayHeaders(p.replay_headers) + "\n";
    }
    out += "  mismatch: " +
           (p.fingerprint ? describeAnswer(p.mismatch) : std::string("never (no fingerprint)")) +
           "\n";
    out += "  missing_key: " +
           (route->require_key ? describeAnswer(p.missing_key)
                               : std::string("forwarded without dedup")) +
           "\n";
    out += "  store_error: " +
           (route->store_error_forwards ? std::string("forwarded without dedup")
                                        : describeAnswer(p.store_error)) +
           "\n";
    if (route->signature) {
      const size_t secrets = route->signing_keys->keys()->size();
      out += "  signature: " + std::string(route->signature->scheme()) + " (" +
             route->signature->headers() + "), " + std::to_string(secrets) +
             (secrets == 1 ? " secret" : " secrets") + " from " + route->signing_keys->path() +
             "\n";
    } else {
      out += "  signature: not verified\n";
    }
    if (!p.bypass_header.empty()) {
      out += "  never deduplicated: " + p.bypass_header + ": " + join(p.bypass_values, ", ") + "\n";
    }
  }
  out += table.explicit_routes ? "unmatched requests: forwarded untouched, without dedup\n"
                               : "other methods: forwarded untouched, without dedup\n";
  return out;
}

}  // namespace dedup
