// `cloudevents`: the key is the event's source + "\n" + id (an id is only
// unique within its source). Binary mode reads the ce-source and ce-id
// headers; structured mode (Content-Type application/cloudevents+json) reads
// the body's "source" and "id"; batch mode is kInvalid (one key per request).
// The same event in either mode is the same message: same key, same
// fingerprint.
#pragma once

#include "adapters/key_extractor.h"

namespace dedup {

class CloudEventsKeyExtractor : public KeyExtractor {
 public:
  ExtractedKey extract(const Request& request) const override;
  // The event's attributes and data, whichever mode carried it
  // (cloudevents_fingerprint.h).
  Sha256Digest fingerprint(const Request& request) const override;
  std::string spec() const override { return "cloudevents"; }
};

}  // namespace dedup
