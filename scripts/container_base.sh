#!/usr/bin/env bash
# Makes the Debian 12 base image the Dockerfile starts FROM without any image
# registry, unless podman has it already: debootstrap (minbase) from the
# Debian archive, packed into a tarball that is kept in CACHE_DIR (a second
# run reuses it), then imported into podman as docker.io/library/debian:bookworm.
#
# Usage: scripts/container_base.sh [CACHE_DIR]   (default: build/container-cache)
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian),
#              PODMAN (default "podman --cgroup-manager=cgroupfs --runtime=runc").
# Exit codes: 0 imported (or already there), 3 debootstrap could not fetch
# from the mirror, 1 anything else.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache_dir="${1:-build/container-cache}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
read -r -a podman <<<"${PODMAN:-podman --cgroup-manager=cgroupfs --runtime=runc}"
image=docker.io/library/debian:bookworm
tarball="$cache_dir/debian-bookworm-minbase.tar"

if "${podman[@]}" image exists "$image"; then
  echo "container_base: $image already in podman's storage"
  exit 0
fi

if [[ ! -f "$tarball" ]]; then
  mkdir -p "$cache_dir"
  rootfs="$(mktemp -d "$cache_dir/rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  echo "container_base: debootstrap bookworm from $mirror (a few minutes, once)"
  if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$cache_dir/debootstrap.log" 2>&1; then
    echo "container_base: debootstrap failed (log: $cache_dir/debootstrap.log):" >&2
    tail -n 5 "$cache_dir/debootstrap.log" >&2
    exit 3
  fi
  # Security and point-release updates for what the image installs later;
  # no downloaded .debs or package lists left in the image.
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security_mirror bookworm-security main
EOF
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  echo "container_base: cached $tarball ($(du -h "$tarball" | cut -f1))"
fi

if ! out="$("${podman[@]}" import --change 'CMD ["/bin/bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$tarball" "$image" 2>&1)"; then
  echo "container_base: podman import failed: $out" >&2
  exit 1
fi
echo "container_base: imported $tarball as $image"
