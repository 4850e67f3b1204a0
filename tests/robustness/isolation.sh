#!/usr/bin/env bash
# Isolation property test: a seeded random interleaving of 6 open files of one node (one
# process; blocking and O_NONBLOCK alternately), thousands of steps, checked against a
# model of the kernel profile (rob-isolation.c): no space can use, flush, save, list or
# guess another space's transient objects (every vhandle 0x80FFFFFF-0x80FFFFFD and
# physical-looking 0x80000000-0x80000010 from the wrong space gives EINVAL; its own
# object otherwise), a session flushed through another space follows spec I14 (the flush
# works; the owner forgets it at its next command, and the kernel's reload quirk leaves
# the owner's later sessions saved in the TPM), and between commands the TPM holds
# exactly what the model says.  The seed is printed; TPMRM_ROB_SEED=N repeats a run.
. "$(dirname "$0")/rob-lib.sh"
rob_setup fuse
deadline 150

seed=${TPMRM_ROB_SEED:-$(((RANDOM << 15) | RANDOM))}
steps=${TPMRM_ROB_ISOLATION_STEPS:-10000}
daemon_start a
log "seed $seed (TPMRM_ROB_SEED=$seed repeats this run)"
out=$(timeout 140 "$ROB" isolation "$(node a)" 6 "$steps" "$seed" "$(sock a)" 2>&1) ||
	fail "seed $seed: $out"
echo "$out" | sed 's/^/# /'
assert_tpm_empty a
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a
log "pass"
