#!/usr/bin/env bash
# A daemon killed with SIGKILL leaves its mount behind (it answers ENOTCONN); the next
# daemon on the same path recovers it, starts and serves, and its own clean stop leaves no
# mount at all on the path.  With a libtpms state directory, the kill is also a
# non-orderly TPM stop that the next start must see (resetCount + 1), the counterpart
# of the orderly SIGTERM stop checked in state-dir.sh.
. "$(dirname "$0")/lib.sh"
setup fuse
deadline 50

state=$T/state
log "first daemon, then SIGKILL"
daemon_start a --backend "libtpms:$state"
timeout 60 "$CLIENTS" mix "$(node a)" 2 4 >/dev/null || fail "raw clients failed on the first daemon"
if command -v tpm2_readclock >/dev/null; then
	resets=$(tools a tpm2_readclock | awk '$1 == "reset_count:" { print $2 }')
	[ -n "$resets" ] || fail "tpm2_readclock gave no reset_count"
fi
daemon_stop a KILL
is_mounted "$(node a)" || fail "no stale mount after SIGKILL: the test cannot show recovery"
err=$(stat "$(node a)" 2>&1) && fail "stat of the stale node succeeded: $err"
[[ $err == *"not connected"* ]] || fail "stat of the stale node: '$err', expected ENOTCONN"

log "second daemon on the same path and state directory"
cp "$(dlog a)" "$T/first.log"
daemon_start a --backend "libtpms:$state"
[ -e "$(node a)" ] || fail "the node answers ENOTCONN after the second daemon started"
timeout 60 "$CLIENTS" mix "$(node a)" 4 10 >/dev/null || fail "raw clients failed on the second daemon"
if [ -n "${resets:-}" ]; then
	hex=$(tools a tpm2_getrandom 16 --hex) || fail "tpm2_getrandom failed on the second daemon"
	[[ $hex =~ ^[0-9a-f]{32}$ ]] || fail "tpm2_getrandom 16 --hex gave '$hex'"
	after=$(tools a tpm2_readclock | awk '$1 == "reset_count:" { print $2 }')
	[ "$after" = $((resets + 1)) ] ||
		fail "reset_count $resets before SIGKILL, $after after: expected a TPM Reset"
fi
assert_tpm_empty a

log "clean stop: no mount of either daemon left"
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a
log "pass"
