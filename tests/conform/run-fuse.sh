#!/usr/bin/env bash
# ctest wrapper: serve a FUSE-file node with tpmrm-cuse (in-process libtpms, 2 s response
# timeout) in a temporary directory, run tpmrm-conform against it with the control socket
# and --slow, stop the daemon.  Exit status: tpmrm-conform's; 77 (skip) without root or
# /dev/fuse; 1 when the daemon does not start.
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

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	if grep -q " $dir/node " /proc/mounts; then
		fusermount3 -u "$dir/node" 2>/dev/null || umount -l "$dir/node"
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

"$daemon" --fuse "$dir/node" --backend libtpms --control "$dir/ctl" -f \
	--response-timeout 2 --pid-file "$dir/pid" >"$dir/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	[ -s "$dir/pid" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$dir/pid" ]; then
	echo "run-fuse: tpmrm-cuse did not start:"
	cat "$dir/daemon.log"
	exit 1
fi

"$conform" "$dir/node" --control "$dir/ctl" --timeout-s 2 --slow "$@"
rc=$?
if [ "$rc" != 0 ]; then
	echo "run-fuse: daemon log:"
	tail -50 "$dir/daemon.log"
fi
exit "$rc"
