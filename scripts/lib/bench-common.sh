# shellcheck shell=bash
# shellcheck disable=SC2154  # the variables below are the caller's
# Shared by scripts/bench-fs and scripts/bench-memory (sourced, not run). The caller sets:
#   bench_name   its name, for messages ("bench-fs")
#   root         the repository
#   mountpoint   where popfs is mounted, once known
#   popfs        the popfs binary, once built
#   daemon_pid   the popfs process serving the mount ("" when none)
#   server_bin, work   for start_demo_server, which sets server_pid

die() { echo "$bench_name: $*" >&2; exit 1; }

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# bench_build TARGET...: the release build in build/benchfs-rel (or $bench_build_dir). In a tree others edit while
# we build, an object compiled from a header that changed mid-compile looks up to date to
# ninja (we saw a stale FsOptions this way): when sources changed during the build, rebuild
# from clean, a bounded number of times.
bench_build() {
  local build=${bench_build_dir:-$root/build/benchfs-rel} stamp changed attempt
  timeout 300 cmake --preset release -B "$build" >/dev/null
  for attempt in 1 2 3; do
    stamp=$(mktemp "/tmp/popfs-$bench_name-stamp.XXXXXX")
    timeout 3600 cmake --build "$build" -j 2 --target "$@"
    changed=$(cd "$root" && find src include tools tests/support -type f -newer "$stamp" | head -n 3)
    rm -f "$stamp"
    [ -z "$changed" ] && return 0
    echo "$bench_name: sources changed during the build ($changed ...); rebuilding from clean" >&2
    [ "$attempt" = 3 ] && { echo "$bench_name: the tree keeps changing; measuring anyway" >&2; return 0; }
    cmake --build "$build" --target clean >/dev/null
  done
}

is_mounted() { grep -qs " $mountpoint fuse" /proc/mounts; }

stop_pid() {  # SIGTERM, then SIGKILL after 10 s; reaps our children
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

wait_pid_gone() {  # $1 pid, $2 seconds; true once the process is gone (child or not)
  local pid=$1 deadline=$((SECONDS + $2))
  [ -n "$pid" ] || return 0
  while kill -0 "$pid" 2>/dev/null; do
    # a zombie child of ours counts as gone
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.02
  done
  wait "$pid" 2>/dev/null || true
  return 0
}

unmount_popfs() {  # commit and unmount; then wait for the daemon to exit so its cache is free
  if is_mounted; then
    timeout 60 "$popfs" umount "$mountpoint" >&2 ||
      fusermount3 -u "$mountpoint" 2>/dev/null || fusermount3 -uz "$mountpoint" 2>/dev/null || true
  fi
  if [ -n "$daemon_pid" ]; then
    wait_pid_gone "$daemon_pid" 30 || { echo "$bench_name: popfs $daemon_pid did not exit after unmount; stopping it" >&2; stop_pid "$daemon_pid"; }
    daemon_pid=""
  fi
}

find_daemon() {  # the popfs process whose arguments name our mountpoint
  local dir
  # -ef, a shell builtin: a readlink process per process here took most of a second
  for dir in /proc/[0-9]*; do
    [ "$dir/exe" -ef "$popfs" ] 2>/dev/null || continue
    tr '\0' '\n' <"$dir/cmdline" 2>/dev/null | grep -qxF -- "$mountpoint" && { echo "${dir#/proc/}"; return 0; }
  done
  return 1
}

# start_demo_server SECONDS ARGS...: popfs-demo-server ARGS --dir $work/server in the
# background (server_pid), waits for its server.env and loads it.
start_demo_server() {
  local seconds=$1
  shift
  "$server_bin" "$@" --dir "$work/server" >"$work/server.out" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 $((seconds * 20))); do
    [ -f "$work/server/server.env" ] && break
    kill -0 "$server_pid" 2>/dev/null || die "the demo server failed: $(cat "$work/server.out")"
    sleep 0.05
  done
  [ -f "$work/server/server.env" ] || die "the demo server did not become ready in $seconds s"
  # shellcheck disable=SC1091
  . "$work/server/server.env"   # POP3S_PORT CA_FILE MAIL_USER PASSWORD_FILE MAILDIR DOVECOT_LOG MESSAGE_COUNT WIRE_BYTES
}
