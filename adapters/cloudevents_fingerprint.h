// The fingerprint of one CloudEvent, whichever HTTP content mode carried it
// (CloudEvents HTTP binding 1.0): binary mode (attributes in ce-* headers,
// datacontenttype in Content-Type, data in the body) and structured mode
// (one application/cloudevents+json object) give the same digest for the
// same event, so a redelivery in the other mode is a duplicate, not a
// mismatch.
//
// What is digested: every attribute (name → value as text: strings decoded,
// numbers and booleans as written), sorted by name, then the data: JSON data
// (datacontenttype application/json, text/json or */*+json, or absent in
// structured mode) re-serialised minified, so whitespace and escapes of one
// mode do not count; other data as its bytes (data_base64 decoded, a string
// `data` as its characters). A body that is not what its mode promises
// (structured but not a JSON object) falls back to the digest of its bytes.
//
// Thread-safety: a pure function.
#pragma once

#include "common/http_message.h"
#include "common/sha256.h"

namespace dedup {

Sha256Digest cloudEventFingerprint(const Request& request);

}  // namespace dedup
