#!/usr/bin/env bash
# Without -f the daemon detaches once the node is ready.  A detached daemon must let go
# of its caller's stdout and stderr (as libfuse's fuse_daemonize does), or whoever
# captures the start's output -- out=$(tpmrm-cuse --fuse PATH), a CI step, ssh -- waits
# until the daemon exits, not until the node is ready.
. "$(dirname "$0")/lib.sh"
setup fuse
deadline 50

daemon_cmd a
rm -f "$(pidf a)"
# The start's stdout and stderr go through a pipe to cat, which ends at EOF: when every
# holder of the pipe has closed it.
start=$(date +%s%N)
timeout 5 bash -c '"$@" 2>&1 | cat >"$0"' "$T/start.out" "${DAEMON_ARGV[@]}"
rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
if [ -s "$(pidf a)" ]; then
	DPID[a]=$(cat "$(pidf a)")
	DETACHED[a]=1
fi
[ -n "${DPID[a]:-}" ] || fail "the detached start wrote no pid file: $(cat "$T/start.out")"
[ "$rc" != 124 ] ||
	fail "the detached daemon keeps its caller's stdout/stderr open: a pipe from the start had no EOF after $elapsed_ms ms (the start itself returns at once)"
[ "$rc" = 0 ] || fail "detached start: exit status $rc: $(cat "$T/start.out")"
is_mounted "$(node a)" || fail "the node is not mounted"
daemon_stop a TERM
assert_stopped_cleanly a
log "pass"
