#!/usr/bin/env bash
# tpm2-pytss ESAPI workflows (issue 6, item 2) through a daemon's node: pytss.py, run by
# Debian's /usr/bin/python3 (python3-tpm2-pytss), asserts keys, signatures, HMAC and policy
# sessions with parameter encryption, NV, and ContextSave/ContextLoad of an object and of a
# session across processes; then the control socket and tpm2_getcap must find nothing of
# it left in the TPM, and the daemon must have served it (files released, no errors).
# shellcheck source=../daemon/lib.sh
. "$(dirname "$0")/../daemon/lib.sh"
PY=/usr/bin/python3
setup fuse
deadline 100
[ -x "$PY" ] || skip "no $PY (Debian: python3)"
"$PY" -c 'import tpm2_pytss' 2>/dev/null ||
	skip "tpm2-pytss is not importable by $PY (Debian: python3-tpm2-pytss)"

daemon_start a
# ESAPI logs every TPM error at WARNING; the script provokes some on purpose.
TSS2_LOG=esys+none timeout 90 "$PY" "$(dirname "$0")/pytss.py" "$(node a)" "$T" ||
	fail "pytss.py failed"
wait_spaces_released a
released=$(stat_of a files_released)
[ "${released:-0}" -ge 8 ] || fail "the daemon released $released files: pytss.py did not use it"
for k in errors_EINVAL errors_ENOMEM errors_EFAULT errors_ENOENT errors_EIO errors_other; do
	[ "$(stat_of a "$k")" = 0 ] || fail "the daemon counted $k $(stat_of a "$k")"
done
assert_tpm_empty a
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a
log "pass"
