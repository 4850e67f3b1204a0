#!/bin/sh
# Runs INSIDE the guest of scripts/vm-test: the conformance suite against the kernel's own
# /dev/tpmrm0 and /dev/tpm0, and against tpmrm-cuse's CUSE nodes (over the very TPM the
# kernel uses, and over libtpms), plus a few tpm2-tools calls through each CUSE node.
#
#   tests/vm/conformance.sh BUILD_DIR OUT_DIR
#
# Writes OUT_DIR/<column>.json (tpmrm-conform --json) and logs; prints a summary that ends
# with "N passed, N failed" (the smoke checks; conformance verdicts are compared on the
# host by scripts/vm/conformance-table).
set -u

build=$1
out=$2
conform=$build/tests/conform/tpmrm-conform
daemon=$build/cuse/tpmrm-cuse
passed=0
failed=0
mkdir -p "$out"

check() { # NAME COMMAND...: one smoke check
	check_name=$1
	shift
	if "$@" >>"$out/smoke.log" 2>&1; then
		echo "ok   - $check_name"
		passed=$((passed + 1))
	else
		echo "FAIL - $check_name (see $out/smoke.log)"
		failed=$((failed + 1))
	fi
}

conform_run() { # COLUMN NODE [ARGS...]: tpmrm-conform, results in OUT/COLUMN.json
	column=$1
	node=$2
	shift 2
	"$conform" "$node" --json "$out/$column.json" "$@" >"$out/$column.log" 2>&1
	echo "conform $column: $(tail -n 1 "$out/$column.log")"
}

start_daemon() { # NAME ARGS...: tpmrm-cuse --cuse NAME, detached; ready when it returns
	name=$1
	shift
	rm -f "/run/$name.pid"
	"$daemon" --cuse "$name" --control "/run/$name.ctl" --pid-file "/run/$name.pid" "$@" \
		2>>"$out/daemon-$name.log"
}

stop_daemon() { # NAME: SIGTERM, and wait until the node is gone
	name=$1
	[ -f "/run/$name.pid" ] || return 1
	kill -TERM "$(cat "/run/$name.pid")"
	i=0
	while [ -e "/dev/$name" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ ! -e "/dev/$name" ]
}

tools_smoke() { # NODE: what a user does first, one process per tool call
	tcti=device:$1
	dir=$(mktemp -d)
	tpm2_getrandom -T "$tcti" 16 --hex >"$dir/rand" &&
		[ "$(wc -c <"$dir/rand")" -eq 32 ] &&
		tpm2_createprimary -T "$tcti" -C o -G ecc -c "$dir/p.ctx" >/dev/null &&
		tpm2_create -T "$tcti" -C "$dir/p.ctx" -G ecc -u "$dir/k.pub" -r "$dir/k.priv" \
			>/dev/null &&
		tpm2_load -T "$tcti" -C "$dir/p.ctx" -u "$dir/k.pub" -r "$dir/k.priv" \
			-c "$dir/k.ctx" >/dev/null &&
		[ -z "$(tpm2_getcap -T "$tcti" handles-transient)" ]
	r=$?
	rm -rf "$dir"
	return $r
}

mode_owner_is() { # NODE MODE UID GID
	[ "$(stat -c '%a %u %g' "$1")" = "$2 $3 $4" ]
}

uname -r >"$out/kernel-release"
echo "# $(uname -r): conformance of the kernel's nodes and of tpmrm-cuse over CUSE"

# The kernel's own nodes first: the reference.  The raw /dev/tpm0 is the backchannel.
conform_run kernel-tpmrm0 /dev/tpmrm0 --backchannel /dev/tpm0
conform_run kernel-tpm0 /dev/tpm0 --tpm0

# Our RM on the very TPM the kernel uses (the device backend's real test).
if check "tpmrm-cuse --cuse tpmrm-cuse --backend device:/dev/tpm0 starts" \
	start_daemon tpmrm-cuse --backend device:/dev/tpm0; then
	conform_run cuse-device /dev/tpmrm-cuse --control /run/tpmrm-cuse.ctl
	check "tpm2-tools through /dev/tpmrm-cuse (device backend)" tools_smoke /dev/tpmrm-cuse
	check "default mode 0600 root:root on /dev/tpmrm-cuse" mode_owner_is /dev/tpmrm-cuse 600 0 0
	check "SIGTERM stops it and removes /dev/tpmrm-cuse" stop_daemon tpmrm-cuse
fi

# Our RM over in-process libtpms, with a mode and an owner (there is no udev here).
if check "tpmrm-cuse --cuse tpmrm-cuse2 --backend libtpms starts" \
	start_daemon tpmrm-cuse2 --backend libtpms --mode 0660 --owner nobody:nogroup; then
	conform_run cuse-libtpms /dev/tpmrm-cuse2 --control /run/tpmrm-cuse2.ctl
	check "tpm2-tools through /dev/tpmrm-cuse2 (libtpms backend)" tools_smoke /dev/tpmrm-cuse2
	check "--mode 0660 --owner nobody:nogroup took effect" \
		mode_owner_is /dev/tpmrm-cuse2 660 "$(id -u nobody)" "$(getent group nogroup | cut -d: -f3)"
	check "SIGTERM stops it and removes /dev/tpmrm-cuse2" stop_daemon tpmrm-cuse2
fi

# The raw personality on the same TPM, against the kernel's /dev/tpm0 column.
if check "tpmrm-cuse --raw --cuse tpm0-cuse --backend device:/dev/tpm0 starts" \
	start_daemon tpm0-cuse --raw --backend device:/dev/tpm0; then
	conform_run cuse-raw /dev/tpm0-cuse --tpm0 --control /run/tpm0-cuse.ctl
	check "SIGTERM stops the raw node" stop_daemon tpm0-cuse
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
