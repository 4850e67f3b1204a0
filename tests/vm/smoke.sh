#!/bin/sh
# Smoke test of the scripts/vm-test guest; runs INSIDE the VM:
#
#   scripts/vm-test -- tests/vm/smoke.sh
#   scripts/vm-test --no-tpm -- tests/vm/smoke.sh
#
# Checks CUSE, the kernel's TPM nodes (unless the VM has no TPM: VMTEST_TPM=none),
# tpm2-tools through /dev/tpmrm0, and that the guest kernel's modules load on demand.
# Ends with the line "N passed, N failed"; exits non-zero if anything failed.
# shellcheck disable=SC2016 # the sh -c scripts expand in their own shell
set -u

passed=0
failed=0
skipped=0

check() { # NAME COMMAND...: pass when COMMAND succeeds; its output is shown on failure
	name=$1
	shift
	if out=$("$@" 2>&1); then
		echo "ok   - $name"
		passed=$((passed + 1))
	else
		echo "FAIL - $name"
		printf '%s\n' "$out" | sed 's/^/       /'
		failed=$((failed + 1))
	fi
}

skip() {
	echo "skip - $1"
	skipped=$((skipped + 1))
}

if [ "${VMTEST:-}" != 1 ]; then
	echo "smoke.sh: run me inside the VM: scripts/vm-test -- tests/vm/smoke.sh" >&2
	exit 2
fi

echo "# $(uname -sr) (TPM: ${VMTEST_TPM:-?})"
check "/dev/cuse is a character device" test -c /dev/cuse
check "/dev/fuse is mode 0666" sh -c '[ "$(stat -c %a /dev/fuse)" = 666 ]'
check "writable /tmp" sh -c 'f=$(mktemp) && echo x >"$f" && rm "$f"'

if [ "${VMTEST_TPM:-tpm-tis}" = none ]; then
	skip "/dev/tpm0 and /dev/tpmrm0 (VM without a TPM)"
	skip "tpm2_getrandom through /dev/tpmrm0 (VM without a TPM)"
else
	check "/dev/tpm0 is a character device" test -c /dev/tpm0
	check "/dev/tpmrm0 is a character device" test -c /dev/tpmrm0
	check "tpm2_getrandom -T device:/dev/tpmrm0 8 --hex" \
		sh -c 'r=$(tpm2_getrandom -T device:/dev/tpmrm0 8 --hex) &&
			echo "$r" | grep -Eq "^[0-9a-f]{16}$"'
fi

check "busybox modprobe tpm_vtpm_proxy" busybox modprobe tpm_vtpm_proxy
check "tpm_vtpm_proxy is loaded (/dev/vtpmx)" sh -c 'grep -q "^tpm_vtpm_proxy " /proc/modules && test -c /dev/vtpmx'

# An extra kernel TPM on demand: swtpm behind /dev/vtpmx gives the next /dev/tpmrmN.
vtpm_check() {
	state=$(mktemp -d) || return 1
	before=$(ls /dev/tpmrm* 2>/dev/null)
	swtpm chardev --vtpm-proxy --tpm2 --tpmstate "dir=$state" --flags startup-clear \
		>"$state/out" 2>&1 &
	pid=$!
	node=
	i=0
	while [ $i -lt 100 ] && [ -z "$node" ]; do
		for n in /dev/tpmrm*; do
			[ -c "$n" ] && ! echo "$before" | grep -qx "$n" && node=$n
		done
		[ -n "$node" ] || sleep 0.1
		i=$((i + 1))
	done
	ok=1
	if [ -z "$node" ]; then
		cat "$state/out"
		echo "no new /dev/tpmrmN after 10 s"
	elif tpm2_getrandom -T "device:$node" 8 --hex >/dev/null; then
		echo "$node works"
		ok=0
	fi
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -rf "$state"
	return $ok
}
if command -v swtpm >/dev/null; then
	check "swtpm --vtpm-proxy gives a working /dev/tpmrmN" vtpm_check
else
	skip "swtpm --vtpm-proxy (swtpm not installed on the host)"
fi

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
