#!/usr/bin/env bash
# Builds the .deb from this build tree with cpack and checks that it carries everything a
# user needs (binary, mount helper, man pages, systemd unit, completion) and declares its
# runtime dependencies. Usage: deb_contents_test.sh BUILD_DIR
set -euo pipefail
build=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

(cd "$build" && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1) || { cat "$out/cpack.log"; exit 1; }
deb=$(ls "$out"/popfs_*.deb)
contents=$(dpkg-deb -c "$deb")
depends=$(dpkg-deb -f "$deb" Depends)

failed=0
expect_file() {
  if grep -qE "$1" <<<"$contents"; then echo "ok: $1"; else echo "MISSING in $deb: $1"; failed=1; fi
}
expect_depend() {
  if grep -qw "$1" <<<"$depends"; then echo "ok: depends on $1"; else echo "MISSING dependency: $1 (Depends: $depends)"; failed=1; fi
}
expect_file '/bin/popfs$'
expect_file '/sbin/mount\.popfs$'
expect_file '/sbin/mount\.fuse\.popfs'
expect_file '/man1/popfs\.1'
expect_file '/man5/popfs-config\.5'
expect_file '/systemd/user/popfs@\.service$'
expect_file '/bash-completion/completions/popfs$'
expect_depend fuse3
expect_depend libfuse3-3
expect_depend liblmdb0
expect_depend libssl3

# The unit and the helper must name the installed binary, not the build tree.
mkdir -p "$out/x" && dpkg-deb -x "$deb" "$out/x"
if grep -rq "$build" "$out/x/usr/lib/systemd/user/" "$out/x/usr/sbin/mount.popfs" 2>/dev/null; then
  echo "the packaged unit or helper refers to the build tree $build"; failed=1
fi
[ $failed -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $failed
