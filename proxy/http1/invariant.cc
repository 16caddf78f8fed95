#include "proxy/http1/invariant.h"

#include <cstdio>
#include <cstdlib>

namespace dedup::http1 {

void invariantFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: HTTP/1 codec invariant failed: %s\n", file, line, condition);
  std::abort();
}

}  // namespace dedup::http1
