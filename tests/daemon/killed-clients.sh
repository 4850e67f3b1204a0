#!/usr/bin/env bash
# Clients killed with SIGKILL at awkward moments: one whose O_NONBLOCK command is in
# flight (queued behind other clients' RSA key generations), one blocked in its own
# blocking write (waiting for the TPM), one blocked in write behind it (waiting for the
# FUSE file's inode lock), and one holding a session and an object.  The daemon must
# survive and keep serving, every file must be released (wait-spaces 0 5000), and
# nothing of theirs may be left in the TPM (A5, I7).
. "$(dirname "$0")/lib.sh"
setup fuse
deadline 80

daemon_start a

# Every client opens the node first, while the TPM is idle: an open waits for the
# command in flight (open-latency.sh), and the kills below must happen mid-command.
start_helper "$CLIENTS" hold "$(node a)" session-object
holder=$HELPER_PID
blockers=()
for i in 1 2 3 4; do
	start_helper "$CLIENTS" hold "$(node a)" nonblock-rsa
	pid=$HELPER_PID
	blockers+=("$pid")
done
start_helper "$CLIENTS" hold "$(node a)" nonblock-rsa
queued=$HELPER_PID
start_helper "$CLIENTS" hold "$(node a)" block-rsa
writer=$HELPER_PID
start_helper "$CLIENTS" hold "$(node a)" block-rsa
behind=$HELPER_PID
[ "$(stat_of a files_open)" = 8 ] || fail "8 clients opened, the daemon counts $(stat_of a files_open)"

log "a client holding a session and an object"
helper_tell "$holder" go
[[ $HELPER_LINE == "held 0x02"* ]] || fail "holder said '$HELPER_LINE'"
session=${HELPER_LINE#held }
if command -v tpm2_getcap >/dev/null; then
	# The check that follows the kills must be able to see a session left behind.
	out=$(tools a tpm2_getcap handles-saved-session) || fail "tpm2_getcap failed"
	[[ $out == *"0x${session#0x0}"* ]] || fail "the holder's session $session is not in the TPM: '$out'"
fi

log "four O_NONBLOCK RSA-3072 CreatePrimary commands keep the TPM busy"
for pid in "${blockers[@]}"; do
	helper_tell "$pid" go
	[ "$HELPER_LINE" = written ] || fail "blocker $pid said '$HELPER_LINE'"
done

log "SIGKILL: a client whose O_NONBLOCK command is queued"
helper_tell "$queued" go
[ "$HELPER_LINE" = written ] || fail "queued client said '$HELPER_LINE'"
kill_helper "$queued"

log "SIGKILL: a client blocked in its write, and one blocked in write behind it"
helper_tell "$writer" go
[[ $HELPER_LINE == "writing "* ]] || fail "writer said '$HELPER_LINE'"
nr=${HELPER_LINE#writing }
in_write "$writer" "$nr"
helper_tell "$behind" go
in_write "$behind" "$nr"
said=$(helper_said "$writer")
[ -z "$said" ] || fail "the writer's write returned before the kill: it said '$said'"
kill -KILL "$writer" "$behind"
kill_helper "$writer"
kill_helper "$behind"

log "SIGKILL: the holder and the blockers"
kill_helper "$holder"
for pid in "${blockers[@]}"; do
	kill_helper "$pid"
done

log "the daemon survives, releases every file, and the TPM is empty"
alive "${DPID[a]}" || fail "the daemon died: $(tail -n 5 "$(dlog a)")"
assert_tpm_empty a
[ "$(stat_of a files_open)" = 0 ] || fail "stats: files_open $(stat_of a files_open)"

log "and still serves"
timeout 60 "$CLIENTS" mix "$(node a)" 4 10 || fail "raw clients failed after the kills"
if command -v tpm2_getrandom >/dev/null; then
	hex=$(tools a tpm2_getrandom 16 --hex) || fail "tpm2_getrandom failed after the kills"
	[[ $hex =~ ^[0-9a-f]{32}$ ]] || fail "tpm2_getrandom 16 --hex gave '$hex'"
fi
assert_tpm_empty a
! grep 'error:' "$(dlog a)" || fail "the daemon logged errors (broken invariants) for killed clients"

daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a
log "pass"
