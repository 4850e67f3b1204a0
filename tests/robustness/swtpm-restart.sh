#!/usr/bin/env bash
# The TPM dies under load: --backend swtpm:unix:SOCK, 8 tolerant clients running, swtpm
# SIGKILLed and restarted on the same state, twice.  While it is away the clients get
# errors (EIO from write, or from read on O_NONBLOCK files: B9, F2), and after it comes
# back they get errors for what the dead TPM held (its objects' saved contexts no longer
# load: I11); every client starts over on a fresh open file each time.  No client hangs
# (each runs against an alarm), no answer that comes back is wrong, the daemon neither
# crashes nor logs a broken invariant, and once swtpm is back it serves again (the swtpm
# backend reconnects once per command): strict clients see no error at all, and the TPM
# is left empty.
. "$(dirname "$0")/rob-lib.sh"
rob_setup fuse swtpm
deadline 80

swtpm_start
daemon_start a --backend "swtpm:unix:$T/swtpm.sock"
timeout 60 "$ROB" load "$(node a)" 4 40 >"$T/before.out" 2>&1 ||
	fail "clients failed before any fault: $(cat "$T/before.out")"

log "8 tolerant clients for 6 s; swtpm SIGKILLed twice under them"
"$ROB" load "$(node a)" 8 1000000 --tolerant --seconds 6 --alarm 50 >"$T/load.out" 2>&1 &
load=$!
for round in 1 2; do
	sleep 1
	alive "$load" || fail "the clients ended before swtpm was killed: $(cat "$T/load.out")"
	swtpm_kill KILL
	log "swtpm killed ($round)"
	sleep 0.5
	alive "${DPID[a]}" || fail "the daemon died with swtpm: $(tail -n 5 "$(dlog a)")"
	swtpm_start
	log "swtpm restarted on the same state ($round)"
done
wait_gone "$load" 45 || fail "tolerant clients still run 45 s later: a hang"
wait "$load"
status=$?
log "$(cat "$T/load.out")"
[ "$status" = 0 ] || fail "tolerant clients failed (exit $status): $(cat "$T/load.out")"
grep -Eq '^load: errors:.* EIO [1-9]' "$T/load.out" ||
	fail "no client saw EIO while swtpm was away: the kill proved nothing"
alive "${DPID[a]}" || fail "the daemon died: $(tail -n 5 "$(dlog a)")"

log "swtpm is back: strict clients see no error"
out=$(timeout 60 "$ROB" load "$(node a)" 8 100) || fail "clients failed after swtpm came back: $out"
log "$out"
assert_tpm_empty a
! grep 'error:' "$(dlog a)" || fail "the daemon logged errors (broken invariants)"
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a
log "pass"
