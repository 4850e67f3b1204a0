#!/usr/bin/env bash
# Concurrency: 8 client processes, each with its own open file, 50 operations each, half
# of them blocking and half O_NONBLOCK + poll; GetRandom mixed with CreatePrimary ECC +
# ReadPublic + FlushContext.  Every response must answer its own client's command and
# every new object must be 0x80FFFFFF in its own space (daemon-clients checks).
# Afterwards: every file released, no RM error counted, nothing left in the TPM.  Then
# the same with 16 clients x 200 operations, to give races more chances.
. "$(dirname "$0")/lib.sh"
setup fuse
deadline 80

clients=8
ops=50
daemon_start a
before=$(stat_of a files_released)
timeout 70 "$CLIENTS" mix "$(node a)" "$clients" "$ops" || fail "a client saw a wrong response"
wait_spaces_released a
released=$(($(stat_of a files_released) - before))
[ "$released" = "$clients" ] || fail "$released files released, $clients clients ran"
# 25 GetRandom + 25 x 3 for each client.
expected=$((clients * (ops / 2 + 3 * (ops - ops / 2))))
commands=$(stat_of a client_commands)
[ "$commands" -ge "$expected" ] || fail "the RM counted $commands commands, the clients sent $expected"
errors=$(ctl a stats | awk '$1 ~ /^errors_/ && $2 != 0')
[ -z "$errors" ] || fail "the RM counted errors: $errors"
assert_tpm_empty a

log "stress: 16 clients x 200 operations"
timeout 70 "$CLIENTS" mix "$(node a)" 16 200 || fail "a client saw a wrong response"
errors=$(ctl a stats | awk '$1 ~ /^errors_/ && $2 != 0')
[ -z "$errors" ] || fail "the RM counted errors: $errors"
assert_tpm_empty a
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a
log "pass"
