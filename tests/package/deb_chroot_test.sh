#!/usr/bin/env bash
# The Debian package built from this tree (cpack -G DEB) on a clean Debian 12 root:
#   1. lintian reports no error (warnings and infos are printed);
#   2. a fresh debootstrap --variant=minbase chroot, with the host's Debian 12 apt sources,
#      installs it with `apt-get install ./popfs_*.deb` (dependencies from the mirror);
#   3. `popfs --version` runs inside it and prints the version, `popfs --help` the usage,
#      the man pages and helper are where man(1) and mount(8) look;
#   4. systemd-analyze verify (the chroot's own, installed for it) accepts the user unit as
#      the package installed it: ExecStart= binary and Documentation= pages resolved there.
# The chroot lives in a temp dir that is removed at the end, failure or not, after every
# mount under it is unmounted. Needs root, debootstrap, lintian and the network to the mirror.
# Usage: deb_chroot_test.sh BUILD_DIR VERSION
set -euo pipefail
build=$1
version=$2

# Unmounts everything under a chroot (deepest first), then removes its work dir without ever
# crossing into another file system (a mount we failed to undo must not be emptied).
mounts_under() { awk -v r="$1" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r; }
remove_work_dir() {
  local dir=$1 m
  for m in $(mounts_under "$dir/root"); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  if [ -n "$(mounts_under "$dir/root")" ]; then
    echo "deb_chroot_test: mounts left under $dir/root; not removing $dir" >&2
    return
  fi
  rm -rf --one-file-system "$dir"
}

# A run killed outright (SIGKILL from a ctest timeout) cannot clean up after itself: remove
# what such runs of this test left, once their process is gone.
for stale in /tmp/popfs-deb-chroot.*; do
  [ -f "$stale/pid" ] || continue
  kill -0 "$(cat "$stale/pid")" 2>/dev/null && continue
  echo "deb_chroot_test: removing $stale, left by an earlier run"
  remove_work_dir "$stale"
done

work=$(mktemp -d /tmp/popfs-deb-chroot.XXXXXX)
echo $$ >"$work/pid"
root=$work/root
trap 'remove_work_dir "$work"' EXIT
trap 'exit 130' INT TERM HUP

failed=0
fail() { echo "FAIL: $*"; failed=1; }
elapsed() { echo "$(( $(date +%s) - start ))s"; }

# 1. Build the package and lint it.
start=$(date +%s)
(cd "$build" && cpack -G DEB -B "$work/deb" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; exit 1; }
deb=$(ls "$work"/deb/popfs_*.deb)
echo "deb_chroot_test: built $(basename "$deb") in $(elapsed)"

start=$(date +%s)
# --fail-on error: exit non-zero on E: tags only; warnings are listed for the record.
lintian --fail-on error --display-info "$deb" >"$work/lintian.log" 2>&1 && lint_status=0 || lint_status=$?
sed 's/^/lintian: /' "$work/lintian.log"
if [ "$lint_status" -ne 0 ] || grep -q '^E: ' "$work/lintian.log"; then
  fail "lintian reports errors for $(basename "$deb")"
else
  echo "ok: lintian reports no error ($(grep -c '^W: ' "$work/lintian.log" || true) warnings) in $(elapsed)"
fi

# 2. A clean Debian 12 root from the mirror the host uses.
sources=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Identifier: Packages' 2>/dev/null |
          awk '$2 ~ /^bookworm(-updates|-security)?$/' | sort -u)
mirror=$(awk '$2 == "bookworm" { print $1; exit }' <<<"$sources")
if [ -z "$mirror" ]; then
  echo "deb_chroot_test: no Debian 12 (bookworm) mirror in the host's apt sources" >&2
  exit 1
fi
start=$(date +%s)
if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log"
  echo "deb_chroot_test: debootstrap from $mirror failed" >&2
  exit 1
fi
echo "deb_chroot_test: debootstrap --variant=minbase bookworm from $mirror in $(elapsed)"

awk '{ print "deb " $1 " " $2 " " $3 }' <<<"$sources" >"$root/etc/apt/sources.list"
mount -t proc proc "$root/proc"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
            DEBIAN_FRONTEND=noninteractive "$@"; }

start=$(date +%s)
cp "$deb" "$root/tmp/"
if in_root apt-get update -q >"$work/apt.log" 2>&1 &&
   in_root sh -c 'cd /tmp && apt-get install -y -q ./popfs_*.deb' >>"$work/apt.log" 2>&1; then
  echo "ok: apt-get install ./$(basename "$deb") in a clean root ($(elapsed))"
else
  tail -n 40 "$work/apt.log"
  fail "apt-get install of the package failed in the clean root"
fi

# 3. It runs there.
if out=$(in_root popfs --version 2>&1) && grep -qx "popfs $version" <<<"$out"; then
  echo "ok: popfs --version in the chroot prints \"$out\""
else
  fail "popfs --version in the chroot: expected \"popfs $version\", got: $out"
fi
if out=$(in_root popfs --help 2>&1) && grep -q '^Usage: popfs ' <<<"$out"; then
  echo "ok: popfs --help in the chroot prints the usage"
else
  fail "popfs --help in the chroot: $out"
fi
for file in /usr/sbin/mount.popfs /usr/sbin/mount.fuse.popfs /usr/share/man/man1/popfs.1.gz \
            /usr/share/man/man5/popfs-config.5.gz /usr/share/man/man8/mount.popfs.8.gz \
            /usr/share/doc/popfs/copyright /usr/lib/systemd/user/popfs@.service; do
  if in_root test -e "$file"; then echo "ok: $file installed"; else fail "$file not installed"; fi
done
if out=$(in_root mount.popfs 2>&1); [ $? -ne 0 ] && grep -q '^usage: mount.popfs' <<<"$out"; then
  echo "ok: mount.popfs runs (usage without arguments)"
else
  fail "mount.popfs without arguments: $out"
fi

# 4. The unit as installed, verified inside the chroot by its own systemd (installed for
# this only; man-db so the Documentation= pages are looked up): ExecStart=/usr/bin/popfs,
# /usr/bin/fusermount3 from fuse3 and the man pages must all be there. Any output is a
# complaint (unknown keys are only warnings), so the output must be empty.
start=$(date +%s)
if in_root apt-get install -y -q --no-install-recommends systemd man-db >>"$work/apt.log" 2>&1; then
  if out=$(in_root XDG_RUNTIME_DIR=/run/user/0 sh -c \
             'mkdir -p -m 0700 /run/user/0 && systemd-analyze verify --user /usr/lib/systemd/user/popfs@.service' 2>&1) &&
     [ -z "$out" ]; then
    echo "ok: systemd-analyze verify --user accepts the installed popfs@.service ($(elapsed))"
  else
    fail "systemd-analyze verify of the installed unit: $out"
  fi
else
  tail -n 20 "$work/apt.log"
  fail "could not install systemd in the chroot to verify the unit"
fi

[ $failed -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $failed
