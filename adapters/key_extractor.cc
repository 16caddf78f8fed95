#include "adapters/key_extractor.h"

#include "adapters/header_key_extractor.h"

namespace dedup {

StatusOr<KeyExtractorPtr> makeKeyExtractor(std::string_view spec) {
  constexpr std::string_view kHeader = "header:";
  if (spec.substr(0, kHeader.size()) == kHeader) {
    const std::string_view name = spec.substr(kHeader.size());
    if (name.empty() || name.find_first_of(" :\t\r\n") != std::string_view::npos) {
      return Status::InvalidArgument("'" + std::string(spec) + "' has no valid header name");
    }
    return KeyExtractorPtr(std::make_unique<HeaderKeyExtractor>(std::string(name)));
  }
  return Status::InvalidArgument("unknown key spec '" + std::string(spec) +
                                 "' (supported: header:NAME)");
}

}  // namespace dedup
