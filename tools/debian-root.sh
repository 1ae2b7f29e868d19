#!/usr/bin/env bash
# Runs the project in a minimal root of another Debian release on this machine: today that is how
# the suite meets Debian 13's toolchain (clang 19, MinGW-w64 with GCC 14) and Wine 10 on a Debian 12
# machine. Not part of `./run.sh test` (CI): run it by hand.
#
#   tools/debian-root.sh [RELEASE] [COMMAND ...]
#       RELEASE   12 or 13 (default 13)
#       COMMAND   run in the checkout inside the root, as root (default: ./run.sh test)
#   e.g. tools/debian-root.sh 13 ./run.sh demo
#
# The root is made once with `debootstrap --variant=minbase` from the Debian mirror this machine's
# apt uses, kept in build/debian-RELEASE/root, and reused (with whatever run.sh installed into it).
# Delete that folder to start afresh. Inside, the checkout is /src, and its build/ is
# build/debian-RELEASE/build of this checkout: that release's compilers and Wine prefix never meet
# this machine's. Everything is mounted in a private mount namespace (unshare), so no mount is
# visible outside it or outlives it, and the trap unmounts in order as well. Needs root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf '[debian-root] %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

release=13
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then release="$1"; shift; fi
case "$release" in
  12) suite=bookworm ;;
  13) suite=trixie ;;
  *) die "release $release: only 12 (bookworm) and 13 (trixie) are known" ;;
esac
[ $# -gt 0 ] || set -- ./run.sh test

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, mount, chroot): run it with sudo"
for tool in unshare mount chroot; do
  command -v "$tool" >/dev/null || die "needs $tool (util-linux, coreutils)"
done

# A private mount namespace: every mount below vanishes with this process, whatever happens.
if [ -z "${WIRE_DEBIAN_ROOT_NS:-}" ]; then
  exec env WIRE_DEBIAN_ROOT_NS=1 unshare --mount --propagation private -- "$0" "$release" "$@"
fi

CACHE="$ROOT/build/debian-$release"
CHROOT="$CACHE/root"
mkdir -p "$CACHE/build"

# The Debian mirror this machine's apt uses (deb822 or one-line format); debootstrap's own default
# when there is none.
host_mirror() {
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri="$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
      /etc/apt/sources.list.d/debian.sources)"
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri="$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { print $i; exit } }' \
      /etc/apt/sources.list)"
  fi
  echo "$uri"
}

if [ ! -f "$CHROOT/.wire-root-complete" ]; then
  if ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null || die "needs debootstrap"
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  mirror="$(host_mirror)"
  log "making a minimal Debian $release ($suite) root in $CHROOT (once; a few minutes)"
  rm -rf "$CHROOT.partial"
  # shellcheck disable=SC2086 # an empty mirror is no argument: debootstrap's default
  debootstrap --variant=minbase "$suite" "$CHROOT.partial" $mirror >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
  touch "$CHROOT.partial/.wire-root-complete"
  mv "$CHROOT.partial" "$CHROOT"
fi

# Name resolution for apt inside, as on this machine.
cp /etc/resolv.conf "$CHROOT/etc/resolv.conf" 2>/dev/null || true
# Every installed Debian has an /etc/hosts naming localhost (the installer writes it), but a
# bookworm minbase root made here had none (the trixie one had one). Without it `localhost` does
# not resolve under Wine, which Windows' own resolver always does: the name tests would fail.
if [ ! -s "$CHROOT/etc/hosts" ]; then
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$CHROOT/etc/hosts"
fi

MOUNTED=()
mount_at() { # target mount-arguments...
  local target="$1"; shift
  mkdir -p "$target"
  mount "$@" "$target"
  MOUNTED+=("$target")
}
unmount_all() {
  local i
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" 2>/dev/null || true
  done
}
trap unmount_all EXIT

for target in "$CHROOT/src" "$CHROOT/proc" "$CHROOT/dev" "$CHROOT/sys"; do
  if mountpoint -q "$target"; then die "$target is already a mount point: another run is using this root"; fi
done
mount_at "$CHROOT/proc" -t proc proc
mount_at "$CHROOT/sys" --bind /sys
mount_at "$CHROOT/dev" --bind /dev
mount_at "$CHROOT/dev/pts" --bind /dev/pts
mount_at "$CHROOT/dev/shm" -t tmpfs -o mode=1777 tmpfs
mount_at "$CHROOT/src" --bind "$ROOT"
mount_at "$CHROOT/src/build" --bind "$CACHE/build"

log "Debian $release: $*"
start=$(date +%s)
status=0
chroot "$CHROOT" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  ${CI:+CI="$CI"} ${WIRE_FUZZ_SECONDS:+WIRE_FUZZ_SECONDS="$WIRE_FUZZ_SECONDS"} \
  /bin/bash -c 'cd /src && exec "$@"' bash "$@" || status=$?
log "Debian $release: exit $status after $(($(date +%s) - start)) s"
exit "$status"
