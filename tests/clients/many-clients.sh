#!/usr/bin/env bash
# Many tpm2-tss clients at once (signers.c): 16 processes, each with its own ESYS context over
# the device TCTI, each holding three transient objects and a salted HMAC session (48
# objects and 16 sessions in all, while the TPM has room for three objects: the RM swaps
# them) and signing in a loop, every other signature through the session with parameter
# encryption, every ECDSA signature verified with OpenSSL against that client's own public
# key.  No client may see any error (TPM_RC_OBJECT_MEMORY included), every object must have
# its space's own virtual handle, the RM counts no error, every file is released and the
# TPM holds nothing afterwards.  Then the same with 100 signatures each, to give races more
# chances.
. "$(dirname "$0")/lib.sh"
clients_setup fuse
signers=$(signers_path) || exit "$?"
daemon_start a

# run_signers N K: N clients x K signatures; every one released, contexts swapped.
run_signers() {
	local n=$1 k=$2 released saves out
	released=$(stat_of a files_released)
	saves=$(stat_of a context_saves)
	out=$(timeout 70 "$signers" "$(node a)" "$n" "$k") || fail "a client failed (see above): $out"
	[ "$out" = "$n clients x $k signatures verified" ] || fail "clients-signers said '$out'"
	wait_spaces_released a
	released=$(($(stat_of a files_released) - released))
	[ "$released" = "$n" ] || fail "$released files released, $n clients ran"
	saves=$(($(stat_of a context_saves) - saves))
	((saves >= n * (k + 3))) || fail "only $saves context saves for $n x $k signatures: were objects swapped?"
	assert_daemon_clean a
	assert_tpm_empty a
}

log "16 clients x (3 objects + a session) x 20 ECDSA signatures, each verified with OpenSSL"
run_signers 16 20
log "stress: 16 clients x 100 signatures"
run_signers 16 100

finish a
