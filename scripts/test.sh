#!/usr/bin/env bash
# The whole test run, as CI does it: install dependencies, build the release
# preset and run every ctest test (unit, integration, helm, fuzz-corpus, and
# container: the image and the chart's pod under podman, release pass only), then
# the same with ASan + UBSan, and the unit tests under TSan. Exits non-zero if
# any step fails; the last line is a summary of all tests run.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
repo_root="$(pwd)"
log_dir="$(mktemp -d)"
trap 'rm -rf "$log_dir"' EXIT

passed=0
failed=0
failed_steps=()

step() {
  echo
  echo "==> $*"
}

# Adds the counts from ctest's "N% tests passed, F tests failed out of T" line.
count_ctest() {
  local log="$1" line total bad
  line="$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)"
  if [[ -z "$line" ]]; then
    return 1
  fi
  bad="$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$line")"
  total="$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")"
  passed=$((passed + total - bad))
  failed=$((failed + bad))
}

# run_ctest NAME BUILD_DIR [ENV=VALUE...]
run_ctest() {
  local name="$1" dir="$2"
  shift 2
  local log="$log_dir/ctest-$name.log"
  step "ctest ($name)"
  # ctest_labels (optional, set by the caller): run only tests with these labels.
  env "$@" ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$(nproc)" \
    ${ctest_labels:+-L "$ctest_labels"} 2>&1 |
    tee "$log"
  local rc=${PIPESTATUS[0]}
  if ! count_ctest "$log"; then
    failed=$((failed + 1))
  fi
  if [[ $rc -ne 0 ]]; then
    failed_steps+=("ctest-$name")
  fi
}

step "setup"
if ! scripts/setup.sh; then
  echo "test.sh: setup failed; nothing can be built" >&2
  echo "summary: 0 passed, 1 failed"
  exit 1
fi

step "build release"
if scripts/build.sh release; then
  run_ctest release build
else
  failed_steps+=("build-release")
  failed=$((failed + 1))
fi

step "build asan"
if scripts/build.sh asan; then
  run_ctest asan build-asan \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  failed_steps+=("build-asan")
  failed=$((failed + 1))
fi

# ThreadSanitizer on the unit tests (the stores' threads, the event loop):
# the integration suite's timeouts are too tight for TSan's slowdown.
step "build tsan"
if scripts/build.sh tsan; then
  ctest_labels="^unit" run_ctest tsan build-tsan TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
else
  failed_steps+=("build-tsan")
  failed=$((failed + 1))
fi

echo
if [[ ${#failed_steps[@]} -eq 0 ]]; then
  echo "test.sh: all steps passed in $repo_root"
  status=0
else
  echo "test.sh: failed steps: ${failed_steps[*]}"
  status=1
fi
echo "summary: $passed passed, $failed failed"
exit $status
