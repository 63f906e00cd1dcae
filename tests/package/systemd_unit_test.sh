#!/usr/bin/env bash
# systemd-analyze verify accepts the user unit popfs@.service as `cmake --install` writes it
# from this build tree: its ExecStart=/ExecStop= name the installed copy of the built popfs
# (so the binary really exists), Documentation= the installed man pages (found through
# MANPATH). Verified as a user unit and as an instance, like `systemctl --user start
# popfs@work` loads it. Any output counts as a failure: systemd reports unknown keys and bad
# values only as warnings. Usage: systemd_unit_test.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d /tmp/popfs-unit-verify.XXXXXX)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
unit=$work/prefix/lib/systemd/user/popfs@.service
grep -q "^ExecStart=$work/prefix/bin/popfs " "$unit" || { echo "ExecStart does not name the installed binary:"; grep Exec "$unit"; exit 1; }
[ -x "$work/prefix/bin/popfs" ] || { echo "no installed binary at $work/prefix/bin/popfs"; exit 1; }
mkdir -p "$work/units"
cp "$unit" "$work/units/popfs@work.service"
mkdir -m 0700 "$work/runtime"

failed=0
for file in "$unit" "$work/units/popfs@work.service"; do
  if out=$(XDG_RUNTIME_DIR=$work/runtime MANPATH=$work/prefix/share/man systemd-analyze verify --user "$file" 2>&1) &&
     [ -z "$out" ]; then
    echo "ok: systemd-analyze verify --user $(basename "$file")"
  else
    echo "FAIL: systemd-analyze verify --user $(basename "$file"):"
    echo "$out"
    failed=1
  fi
done
[ $failed -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $failed
