#!/usr/bin/env bash
# The FUSE file's write serialisation (spec 7, "Transport differences"; facts.md): every
# open of the node shares one inode, and the kernel holds its lock for a whole direct-io
# write, so one client's blocking RSA-2048 CreatePrimary (a key generation each) delays
# every other client's write(), O_NONBLOCK ones too.  Latency suffers; results must not:
# while one client makes 30 RSA primaries (each read back with ReadPublic, then
# flushed), 4 others run GetRandom and ECC primaries, blocking and O_NONBLOCK, and every
# response must be right, every client must get work done meanwhile, and nothing may be
# left in the TPM.
. "$(dirname "$0")/lib.sh"
setup fuse
deadline 80

daemon_start a
timeout 70 "$CLIENTS" slow "$(node a)" 4 30 || fail "a client saw a wrong response or starved"
errors=$(ctl a stats | awk '$1 ~ /^errors_/ && $2 != 0')
[ -z "$errors" ] || fail "the RM counted errors: $errors"
assert_tpm_empty a
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a
log "pass"
