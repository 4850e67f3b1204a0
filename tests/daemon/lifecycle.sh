#!/usr/bin/env bash
# Daemon lifecycle: detached start with --pid-file, -f in the background, serving, and a
# clean stop on SIGTERM and on SIGINT: exit 0 within a bound, spaces flushed, the node no
# longer a FUSE mount (/proc/self/mountinfo), pid file and control socket gone.
. "$(dirname "$0")/lib.sh"
setup fuse
deadline 50

# serves NAME: a GetRandom through tpm2-tools (when installed) and raw clients.
serves() {
	local name=$1 hex
	if command -v tpm2_getrandom >/dev/null; then
		hex=$(tools "$name" tpm2_getrandom 16 --hex) || fail "tpm2_getrandom on $name failed"
		[[ $hex =~ ^[0-9a-f]{32}$ ]] || fail "tpm2_getrandom 16 --hex on $name gave '$hex'"
	fi
	timeout 60 "$CLIENTS" mix "$(node "$name")" 2 4 >/dev/null || fail "raw clients on $name failed"
}

no_errors_logged() {
	! grep -E 'error:|critical' "$(dlog "$1")" ||
		fail "daemon $1 logged errors during a clean run"
}

log "detached: returns once the node is ready; pid file; serves; SIGTERM"
daemon_start_detached det
[ "$DSTATUS" = 0 ] || fail "detached start exited $DSTATUS: $(cat "$(dlog det)")"
[ -n "${DPID[det]:-}" ] || fail "no pid file after a detached start"
alive "${DPID[det]}" || fail "the pid file names ${DPID[det]}, which is not running"
is_mounted "$(node det)" || fail "detached start returned before $(node det) was mounted"
[ "$(mount_type "$(node det)")" = fuse.tpmrm ] ||
	fail "$(node det) is mounted as $(mount_type "$(node det)"), not fuse.tpmrm"
[ -f "$(node det)" ] && [ "$(stat -c %a "$(node det)")" = 600 ] ||
	fail "node is $(stat -c '%F %a' "$(node det)"), expected a regular file with mode 600"
serves det
daemon_stop det TERM
assert_stopped_cleanly det
no_errors_logged det

log "-f in the background; SIGTERM while clients hold a session, an object, commands"
daemon_start fg
serves fg
start_helper "$CLIENTS" hold "$(node fg)" session-object
holder=$HELPER_PID
start_helper "$CLIENTS" hold "$(node fg)" nonblock-rsa
inflight=$HELPER_PID
start_helper "$CLIENTS" hold "$(node fg)" block-rsa
writer=$HELPER_PID
helper_tell "$holder" go
[[ $HELPER_LINE == "held 0x02"* ]] || fail "holder said '$HELPER_LINE'"
helper_tell "$inflight" go
[ "$HELPER_LINE" = written ] || fail "in-flight client said '$HELPER_LINE'"
helper_tell "$writer" go
[[ $HELPER_LINE == "writing "* ]] || fail "writer said '$HELPER_LINE'"
in_write "$writer" "${HELPER_LINE#writing }"
[ "$(stat_of fg files_open)" = 3 ] || fail "the daemon does not count the 3 open files"
daemon_stop fg TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM with open clients: exit status $DSTATUS, expected 0"
assert_stopped_cleanly fg
grep -q 'stopping' "$(dlog fg)" || fail "no stop message in the log"
no_errors_logged fg
# The command in flight was finished (or failed): its writer is not left hanging.
if alive "$writer"; then
	said=$(helper_said "$writer")
	[ "$said" = returned ] || fail "after the stop the blocked writer said '$said'"
fi
kill_helper "$holder"
kill_helper "$inflight"
kill_helper "$writer"

log "-f in the background; SIGINT"
daemon_start int
serves int
daemon_stop int INT
[ "$DSTATUS" = 0 ] || fail "SIGINT: exit status $DSTATUS, expected 0"
assert_stopped_cleanly int
no_errors_logged int
log "pass"
