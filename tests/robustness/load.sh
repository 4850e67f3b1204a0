#!/usr/bin/env bash
# Load: 64 client processes at once on one daemon, 500 commands each (TPMRM_ROB_LOAD_COMMANDS
# changes the count; the sanitizer build runs fewer), half of them O_NONBLOCK: a mix of
# GetRandom, CreatePrimary (ECC), Create + Load, Sign, policy sessions with PolicyPCR,
# hash sequences, GetCapability and FlushContext, never more than 3 objects in a space.
# Every response is checked (signatures verify with the client's own key, digests and
# policy digests match, GetCapability lists exactly the client's own objects) and no
# error at all is allowed: none is required by the spec for this mix.  Afterwards the
# daemon counts no error, and the TPM holds no object and no session.
. "$(dirname "$0")/rob-lib.sh"
rob_setup fuse
deadline 180

clients=${TPMRM_ROB_LOAD_CLIENTS:-64}
commands=${TPMRM_ROB_LOAD_COMMANDS:-500}
daemon_start a
out=$(timeout 170 "$ROB" load "$(node a)" "$clients" "$commands" --seed "${TPMRM_ROB_SEED:-1}" \
	--alarm 160) || fail "clients failed: $out"
echo "$out" | sed 's/^/# /'
[[ $out == *"commands $((clients * commands)) in "*", errors 0"* ]] ||
	fail "expected $((clients * commands)) commands and no error: $out"
assert_tpm_empty a
[ "$(stat_must a client_commands)" -ge $((clients * commands)) ] ||
	fail "the daemon counts $(stat_of a client_commands) commands"
for e in EINVAL ENOMEM EFAULT ENOENT ENODATA ETIME EIO EPIPE other; do
	[ "$(stat_must a "errors_$e")" = 0 ] || fail "the daemon counts errors_$e $(stat_of a "errors_$e")"
done
log "daemon: $(ctl a stats | awk '$1 ~ /^(backend_commands|context_loads|context_saves|flushes)$/' | tr '\n' ' ')"
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a
log "pass"
