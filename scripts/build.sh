#!/usr/bin/env bash
# Configures and builds one CMake preset: release (build/, the default) or
# asan (build-asan/, ASan + UBSan) or tsan (build-tsan/). Usage: scripts/build.sh [release|asan|tsan]
set -euo pipefail

preset="${1:-release}"
case "$preset" in
  release) build_dir=build ;;
  asan) build_dir=build-asan ;;
  tsan) build_dir=build-tsan ;;
  *)
    echo "usage: $0 [release|asan|tsan]" >&2
    exit 2
    ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Ninja is fixed at the first configure of a build dir; a dir configured with
# another generator would make cmake refuse, so say so clearly.
if [[ -f "$build_dir/CMakeCache.txt" ]] &&
  ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$build_dir/CMakeCache.txt"; then
  echo "build: $build_dir was configured with another generator; remove it and rerun" >&2
  exit 1
fi

cmake --preset "$preset" -G Ninja
cmake --build "$build_dir" -j"$(nproc)"
