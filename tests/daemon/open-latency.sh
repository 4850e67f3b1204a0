#!/usr/bin/env bash
# A1: open() of the node creates a private space and nothing else.  The kernel's
# tpmrm_open allocates the space without touching the chip, so an open never waits for
# another client's command.  Here one client keeps the TPM busy with back-to-back
# RSA-3072 CreatePrimary commands (about 0.15 s each) while another opens the node ten
# times, 50 ms apart (so each open lands at a random point of a key generation): the ten
# open() calls together must take less than 0.25 s.  On an idle daemon they take about
# 1 ms; an open that waits for the command in flight takes half a key generation on
# average, and ten of them take about 0.75 s.
. "$(dirname "$0")/lib.sh"
setup fuse
deadline 50

daemon_start a
idle=$(timeout 30 "$CLIENTS" opens "$(node a)" 10 50) || fail "opens on an idle daemon failed"
log "idle daemon: $idle"

start_helper "$CLIENTS" busy "$(node a)" 20
busy=$HELPER_PID
[ "$HELPER_LINE" = busy ] || fail "the busy client said '$HELPER_LINE'"
during=$(timeout 30 "$CLIENTS" opens "$(node a)" 10 50) || fail "opens on a busy daemon failed"
log "busy daemon: $during"
total=$(echo "$during" | awk '{ print $4 }')
awk -v t="$total" 'BEGIN { exit !(t < 0.25) }' ||
	fail "10 opens took $total s while another client's commands ran: open() waits for the TPM command in flight (A1)"
said=$(helper_said "$busy")
[ -z "$said" ] || fail "the busy client finished before the opens did: the test proved nothing"

kill_helper "$busy"
assert_tpm_empty a
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a
log "pass"
