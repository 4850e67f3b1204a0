#!/usr/bin/env bash
# ctest wrapper: serve a FUSE-file node with tpmrm-cuse (in-process libtpms, 2 s response
# timeout) in a temporary directory, run tpmrm-conform against it with the control socket
# and --slow, and stop the daemon; then the same with a --raw daemon (the /dev/tpm0
# personality) and tpmrm-conform --tpm0.  Exit status: 0 when both runs passed, else 1
# (tpmrm-conform's status); 77 (skip) without root or /dev/fuse; 1 when a daemon does not
# start.
#
#   run-fuse.sh TPMRM_CUSE TPMRM_CONFORM [EXTRA tpmrm-conform ARGS...]
set -u

daemon=$1
conform=$2
shift 2

if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
	echo "run-fuse: needs root and /dev/fuse; skipping"
	exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/tpmrm-conform.XXXXXX")
pid=
sub=

# Stop the daemon serving $sub, if any, and unmount its node.
stop_daemon() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	pid=
	if [ -n "$sub" ] && grep -q " $sub/node " /proc/mounts; then
		fusermount3 -u "$sub/node" 2>/dev/null || umount -l "$sub/node"
	fi
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	stop_daemon
	rm -rf "$dir"
}
trap cleanup EXIT

# start_daemon NAME [tpmrm-cuse ARGS...]: serve $dir/NAME/node; 0 once it is ready.
start_daemon() {
	sub=$dir/$1
	shift
	mkdir -p "$sub"
	"$daemon" --fuse "$sub/node" --backend libtpms --control "$sub/ctl" -f \
		--response-timeout 2 --pid-file "$sub/pid" "$@" >"$sub/daemon.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		[ -s "$sub/pid" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "run-fuse: tpmrm-cuse $* did not start:"
	cat "$sub/daemon.log"
	return 1
}

# run_conform [tpmrm-conform ARGS...]: against $sub's node; the daemon log on failure.
run_conform() {
	local rc

	"$conform" "$sub/node" --control "$sub/ctl" --timeout-s 2 --slow "$@"
	rc=$?
	if [ "$rc" != 0 ]; then
		echo "run-fuse: daemon log:"
		tail -50 "$sub/daemon.log"
	fi
	return "$rc"
}

status=0

echo "run-fuse: tpmrm personality"
start_daemon rm || exit 1
run_conform "$@" || status=1
stop_daemon

echo "run-fuse: tpm0 personality (tpmrm-cuse --raw, tpmrm-conform --tpm0)"
start_daemon raw --raw || exit 1
run_conform --tpm0 "$@" || status=1
stop_daemon

exit "$status"
