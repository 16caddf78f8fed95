#!/usr/bin/env bash
# Assembles the runtime image's root filesystem (the Dockerfile's build stage
# calls it): the stripped dedup-proxy binary, /bin/sleep (the chart's preStop
# hook), exactly the shared libraries `ldd` resolves for the two, the dynamic
# loader, a passwd/group naming the non-root user 65532, and the directories
# the process uses. For every Debian package a file was taken from, its dpkg
# status goes to var/lib/dpkg/status.d/ and its copyright file along, as
# distroless images do, so scanners see which package versions are inside.
#
# Usage: scripts/container_rootfs.sh BINARY ROOTFS
set -euo pipefail

binary="$1"
rootfs="$2"
uid=65532

if [[ -e "$rootfs" ]]; then
  echo "container_rootfs: $rootfs already exists" >&2
  exit 1
fi

# Merged /usr, as Debian 12: /bin, /lib, /lib64, /sbin point into /usr, so the
# loader path in the binary (/lib64/ld-linux-x86-64.so.2) and the library
# paths ldd prints (/lib/x86_64-linux-gnu/…) resolve inside the image too.
mkdir -p "$rootfs"/usr/{bin,sbin,lib,lib64,local/bin} "$rootfs"/{etc,tmp,var/lib/dpkg/status.d}
for dir in bin sbin lib lib64; do
  ln -s "usr/$dir" "$rootfs/$dir"
done
chmod 1777 "$rootfs/tmp"

install -m 0755 -s "$binary" "$rootfs/usr/local/bin/dedup-proxy"
install -m 0755 "$(realpath /bin/sleep)" "$rootfs/usr/bin/sleep"

# Every file ldd names for the two programs (libraries and the loader), at its
# real path; a symlink in between (libfoo.so.1 -> libfoo.so.1.2.3) is kept too.
files=("$(realpath /bin/sleep)")
while read -r path; do
  [[ -n "$path" ]] || continue
  real="$(realpath "$path")"
  files+=("$real")
  mkdir -p "$rootfs$(dirname "$real")"
  cp -a "$real" "$rootfs$real"
  canonical="$(realpath -s "$path" | sed -E 's#^/(lib|lib64|bin|sbin)/#/usr/\1/#')"
  if [[ "$canonical" != "$real" && ! -e "$rootfs$canonical" ]]; then
    mkdir -p "$rootfs$(dirname "$canonical")"
    ln -s "$(realpath -m --relative-to="$(dirname "$canonical")" "$real")" "$rootfs$canonical"
  fi
done < <(for program in "$binary" /bin/sleep; do
  # "libfoo.so.1 => /lib/…/libfoo.so.1 (0x…)", and the loader "/lib64/ld-… (0x…)".
  ldd "$program" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $2 ~ /^\(/ {print $1}'
done | sort -u)

# Which Debian package each file came from (merged /usr: dpkg may know either
# spelling of the path).
owner() {
  local file="$1" alt
  alt="$(sed -E 's#^/usr/(lib|lib64|bin|sbin)/#/\1/#' <<<"$file")"
  dpkg -S "$file" 2>/dev/null || dpkg -S "$alt" 2>/dev/null || true
}
mapfile -t packages < <(for f in "${files[@]}"; do owner "$f"; done | cut -d: -f1 | sort -u)
for pkg in "${packages[@]}"; do
  [[ -n "$pkg" ]] || continue
  dpkg -s "$pkg" >"$rootfs/var/lib/dpkg/status.d/$pkg"
  if [[ -f "/usr/share/doc/$pkg/copyright" ]]; then
    install -D -m 0644 "/usr/share/doc/$pkg/copyright" "$rootfs/usr/share/doc/$pkg/copyright"
  fi
done

cat >"$rootfs/etc/passwd" <<EOF
root:x:0:0:root:/root:/usr/sbin/nologin
nonroot:x:$uid:$uid:dedup-proxy:/var/lib/dedup-proxy:/usr/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<EOF
root:x:0:
nonroot:x:$uid:
EOF

# The data directory is the one place the process writes (the store's
# default rocksdb:./dedup-data is relative to it); the config is mounted.
install -d -m 0750 -o "$uid" -g "$uid" "$rootfs/var/lib/dedup-proxy"
install -d -m 0755 "$rootfs/etc/dedup-proxy"

echo "container_rootfs: $(du -sh "$rootfs" | cut -f1) in $rootfs from packages: ${packages[*]}"
