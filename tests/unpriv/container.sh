#!/usr/bin/env bash
# The inside of a container, for userns.sh and bind-node.sh: run by `unshare --mount` (as
# root) or `unshare --user --map-root-user --mount` (as an ordinary user, as rootless
# containers are).  Like podman and docker, it gives /dev a tmpfs of its own with a few host
# devices bind-mounted into it, then puts a TPM node at /dev/tpmrm0 and runs tpm2-tools with
# no TCTI configured at all: tpm2-tss's default discovery must find /dev/tpmrm0.
#
#   container.sh daemon DAEMON CTL WORK
#	pattern (a): tpmrm-cuse runs in here with --fuse /dev/tpmrm0, over a file of WORK
#	bind-mounted there; fusermount3 is covered by /bin/false first, so the mount must be
#	libfuse's own mount(2).  Checked through the control socket (CTL): it served the
#	tools, nothing is left in the TPM; then SIGTERM, and nothing is mounted.
#   container.sh bind NODE WORK [denied]
#	pattern (b): the host daemon's NODE bind-mounted at /dev/tpmrm0 (the caller checks
#	the daemon's side); with "denied", opening it must give EACCES instead.
#   container.sh follow DIR NAME WORK
#	pattern (b) across a restart of the host daemon: DIR/NAME bind-mounted at
#	/dev/tpmrm0, and DIR bind-mounted (recursively, rslave) at WORK/tpm.  Prints
#	"ready" once both serve, waits for a line on stdin (the daemon has restarted), then
#	prints what each gives now: "file ERRNO, directory served|ERRNO".
#
# WORK: a directory of the container's user.  Output: '# ...' lines; exit 0 pass, 1 fail.
set -u -o pipefail

TOOL_BOUND_S=30
START_BOUND_S=10
STOP_BOUND_S=10
DPID=""

log() {
	printf '# container: %s\n' "$*"
}

fail() {
	printf 'FAIL: container: %s\n' "$*" >&2
	exit 1
}

alive() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

wait_gone() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		alive "$1" || return 0
		sleep 0.05
	done
	! alive "$1"
}

on_exit() {
	if [ -n "$DPID" ] && alive "$DPID"; then
		kill -TERM "$DPID" 2>/dev/null
		wait_gone "$DPID" "$STOP_BOUND_S" || kill -KILL "$DPID" 2>/dev/null
	fi
}
trap on_exit EXIT
trap 'fail "interrupted (signal)"' INT TERM HUP

# The filesystem type of the top mount at PATH.
top_mount_type() {
	awk -v p="$1" '$5 == p { for (i = 7; $i != "-"; i++); t = $(i + 1) } END { print t }' \
		/proc/self/mountinfo
}

# /dev as containers have it: a tmpfs with the host's basic devices bind-mounted (a device
# node made on a tmpfs in a user namespace would not open: it is nodev), plus an empty
# file tpmrm0 for a node to be mounted on.
make_dev() {
	local d=$WORK/dev n
	mkdir -p "$d" || fail "mkdir $d"
	mount -n -t tmpfs -o mode=0755,size=64k tmpfs "$d" || fail "cannot mount a tmpfs for /dev"
	for n in null zero full random urandom tty fuse; do
		[ -e "/dev/$n" ] || continue
		touch "$d/$n" && mount -n --bind "/dev/$n" "$d/$n" || fail "cannot bind /dev/$n"
	done
	touch "$d/tpmrm0" || fail "cannot create $d/tpmrm0"
	mount -n --move "$d" /dev || fail "cannot move the tmpfs to /dev"
	[ -f /dev/tpmrm0 ] && [ -c /dev/null ] || fail "/dev is not as made"
}

# tpm2-tools with no TCTI option or variable; a tabrmd TCTI, if installed, finds no D-Bus
# and fails at once.  Their complaints about it go to WORK/tools.err.
no_tcti() {
	env -u TPM2TOOLS_TCTI -u TPM2TOOLS_TCTI_NAME -u TPM2TOOLS_DEVICE_FILE -u TCTI \
		DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent \
		DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent timeout "$TOOL_BOUND_S" "$@" \
		2>>"$WORK/tools.err"
}

tools_failed() {
	fail "$*: $(tail -n 8 "$WORK/tools.err")"
}

run_tools() {
	local hex start end
	start=$(date +%s%N)
	hex=$(no_tcti tpm2_getrandom 8 --hex) || tools_failed "tpm2_getrandom 8 --hex (default TCTI) failed"
	end=$(date +%s%N)
	[[ $hex =~ ^[0-9a-f]{16}$ ]] || fail "tpm2_getrandom 8 --hex gave '$hex'"
	log "tpm2_getrandom 8 --hex with no TCTI configured: $hex ($(((end - start) / 1000000)) ms)"
	rm -f "$WORK/primary.ctx"
	no_tcti tpm2_createprimary -C o -c "$WORK/primary.ctx" >/dev/null ||
		tools_failed "tpm2_createprimary (default TCTI) failed"
	[ -s "$WORK/primary.ctx" ] || fail "tpm2_createprimary wrote no context file"
	no_tcti tpm2_readpublic -c "$WORK/primary.ctx" >/dev/null ||
		tools_failed "tpm2_readpublic of the primary's saved context failed"
	log "tpm2_createprimary, tpm2_readpublic of its saved context"
}

ctl() {
	timeout 20 "$CTL" "$WORK/c.sock" "$*"
}

start_daemon() {
	local i
	rm -f "$WORK/d.pid"
	# bash gives background jobs SIGINT ignored: the daemon gets its default back.
	# shellcheck disable=SC2054 # the commas are env's
	env --default-signal=INT,TERM,HUP "$DAEMON" --fuse /dev/tpmrm0 --backend "libtpms:$WORK/state" \
		--control "$WORK/c.sock" --pid-file "$WORK/d.pid" -f >"$WORK/daemon.log" 2>&1 &
	DPID=$!
	for ((i = 0; i < START_BOUND_S * 50; i++)); do
		[ -s "$WORK/d.pid" ] && break
		alive "$DPID" || fail "the daemon exited at start: $(cat "$WORK/daemon.log")"
		sleep 0.02
	done
	[ "$(cat "$WORK/d.pid" 2>/dev/null)" = "$DPID" ] ||
		fail "the daemon is not ready after $START_BOUND_S s: $(cat "$WORK/daemon.log")"
}

stop_daemon() {
	local status
	kill -TERM "$DPID" || fail "cannot signal the daemon"
	wait_gone "$DPID" "$STOP_BOUND_S" || fail "the daemon still runs $STOP_BOUND_S s after SIGTERM"
	wait "$DPID"
	status=$?
	DPID=""
	[ "$status" = 0 ] || fail "the daemon exited with $status after SIGTERM: $(cat "$WORK/daemon.log")"
	[ "$(top_mount_type /dev/tpmrm0)" != fuse.tpmrm ] || fail "/dev/tpmrm0 is still mounted"
	[ ! -e "$WORK/d.pid" ] && [ ! -e "$WORK/c.sock" ] || fail "pid file or socket left behind"
}

pattern_daemon() {
	local out
	make_dev
	touch "$WORK/tpmrm0.file" && mount -n --bind "$WORK/tpmrm0.file" /dev/tpmrm0 ||
		fail "cannot bind-mount a file at /dev/tpmrm0"
	if [ -e /usr/bin/fusermount3 ]; then
		mount -n --bind /bin/false /usr/bin/fusermount3 || fail "cannot cover fusermount3"
		/usr/bin/fusermount3 -V >/dev/null 2>&1 && fail "fusermount3 still runs"
	fi
	start_daemon
	[ "$(top_mount_type /dev/tpmrm0)" = fuse.tpmrm ] ||
		fail "/dev/tpmrm0's top mount is $(top_mount_type /dev/tpmrm0), not fuse.tpmrm"
	log "daemon $DPID serves /dev/tpmrm0 ($(id -un 2>/dev/null || id -u) here, uid $(awk '{ print $2 }' /proc/self/uid_map) outside)"
	run_tools
	out=$(ctl "wait-spaces 0 5000") || fail "the control socket did not answer"
	[ "$out" = "ok 0" ] || fail "files still open after the tools ended: '$out'"
	out=$(ctl stats | awk '$1 == "files_released" { print $2 }')
	[ "${out:-0}" -ge 3 ] || fail "the daemon released $out files: the tools did not use it"
	out=$(ctl handles) || fail "the control socket did not answer handles"
	[ "$out" = $'transient\nloaded-session\nsaved-session' ] ||
		fail "the TPM still holds handles: $(echo "$out" | tr '\n' ';')"
	stop_daemon
	log "SIGTERM: the daemon stopped cleanly, /dev/tpmrm0 unmounted"
}

pattern_bind() {
	local err
	make_dev
	mount -n --bind "$NODE" /dev/tpmrm0 || fail "cannot bind-mount $NODE at /dev/tpmrm0"
	[ "$(top_mount_type /dev/tpmrm0)" = fuse.tpmrm ] ||
		fail "/dev/tpmrm0's top mount is $(top_mount_type /dev/tpmrm0), not fuse.tpmrm"
	if [ "${MODE:-}" = denied ]; then
		err=$(open_errno /dev/tpmrm0)
		[ "$err" = EACCES ] || fail "opening /dev/tpmrm0: $err, expected EACCES"
		log "/dev/tpmrm0 (the host's node) refuses this user: EACCES"
		return
	fi
	log "the host's node is /dev/tpmrm0 here"
	run_tools
}

# The errno name open(PATH, O_RDWR) gives, or OK.
open_errno() {
	/usr/bin/python3 -c '
import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_RDWR))
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
else:
    print("OK")' "$1"
}

pattern_follow() {
	local hex file dir
	make_dev
	mount -n --bind "$DIR/$NAME" /dev/tpmrm0 || fail "cannot bind-mount $DIR/$NAME at /dev/tpmrm0"
	mkdir -p "$WORK/tpm" && mount -n --rbind "$DIR" "$WORK/tpm" &&
		mount -n --make-rslave "$WORK/tpm" || fail "cannot bind $DIR at $WORK/tpm (rslave)"
	no_tcti tpm2_getrandom 8 --hex >/dev/null || tools_failed "tpm2_getrandom on /dev/tpmrm0"
	TPM2TOOLS_TCTI=device:$WORK/tpm/$NAME timeout "$TOOL_BOUND_S" tpm2_getrandom 8 --hex \
		>/dev/null 2>>"$WORK/tools.err" || tools_failed "tpm2_getrandom on $WORK/tpm/$NAME"
	echo ready
	read -r _ || fail "no word from the test"
	file=$(open_errno /dev/tpmrm0)
	dir=$(open_errno "$WORK/tpm/$NAME")
	if [ "$dir" = OK ]; then
		hex=$(TPM2TOOLS_TCTI=device:$WORK/tpm/$NAME timeout "$TOOL_BOUND_S" \
			tpm2_getrandom 8 --hex 2>>"$WORK/tools.err") || tools_failed "tpm2_getrandom after the restart"
		[[ $hex =~ ^[0-9a-f]{16}$ ]] && dir=served
	fi
	echo "file $file, directory $dir"
}

case ${1:-} in
daemon)
	[ $# = 4 ] || fail "usage: container.sh daemon DAEMON CTL WORK"
	DAEMON=$2 CTL=$3 WORK=$4
	pattern_daemon
	;;
bind)
	[ $# -ge 3 ] || fail "usage: container.sh bind NODE WORK [denied]"
	NODE=$2 WORK=$3 MODE=${4:-}
	pattern_bind
	;;
follow)
	[ $# = 4 ] || fail "usage: container.sh follow DIR NAME WORK"
	DIR=$2 NAME=$3 WORK=$4
	pattern_follow
	;;
*)
	fail "usage: container.sh daemon DAEMON CTL WORK | bind NODE WORK [denied] | follow DIR NAME WORK"
	;;
esac
