# shellcheck shell=bash
# Shared helpers for the daemon tests: each test sources this file, then starts its own
# tpmrm-cuse daemons in a temp dir of its own and checks them from outside, as users and
# administrators see them.  The cleanup trap stops every daemon and helper the test
# started (by pid), unmounts what is left, and removes the temp dir.
#
# Environment (ctest sets all three; by hand only TPMRM_CUSE is needed):
#   TPMRM_CUSE            the daemon (or the test's first argument)
#   TPMRM_DAEMON_CLIENTS  tests/daemon/clients.c built; by hand it is compiled into the
#   TPMRM_DAEMON_CTL      temp dir when missing (likewise ctl.c)
#
# Exit status: 0 pass, 1 fail, 77 skip (only when something cannot run on this machine).
#
# Globals set here for the tests: CLIENTS CTL DSTATUS HELPER_PID HELPER_LINE DAEMON_ARGV.
# shellcheck disable=SC2034

set -u -o pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_NAME=$(basename "$0" .sh)
TPMRM_CUSE=${TPMRM_CUSE:-${1:-}}

STOP_BOUND_S=10  # SIGTERM/SIGINT to exit
START_BOUND_S=10 # start to pid file
TOOL_BOUND_S=30  # one tpm2-tools call

declare -A DPID=() DETACHED=() HELPER_FD=() HELPER_IN=()
HELPER_SEQ=0
T=""
WATCHDOG=""

log() {
	printf '# %s\n' "$*"
}

fail() {
	printf 'FAIL: %s: %s\n' "$TEST_NAME" "$*" >&2
	exit 1
}

skip() {
	printf 'SKIP: %s: %s\n' "$TEST_NAME" "$*" >&2
	exit 77
}

# --- environment -------------------------------------------------------------------------

# setup [fuse] [tools]: call once, first; skips (77) when what is named cannot be had.
setup() {
	local need
	[ -n "$TPMRM_CUSE" ] || fail "no daemon: set TPMRM_CUSE or pass its path"
	[ -x "$TPMRM_CUSE" ] || fail "daemon $TPMRM_CUSE is not an executable"
	env --default-signal=INT true 2>/dev/null ||
		skip "env --default-signal (coreutils >= 8.31) is needed to give the daemon a default SIGINT"
	for need in "$@"; do
		case $need in
		fuse)
			[ -c /dev/fuse ] || skip "no /dev/fuse: this machine cannot mount FUSE files"
			if [ "$(id -u)" != 0 ] && ! command -v fusermount3 >/dev/null; then
				skip "not root and no fusermount3: cannot mount a FUSE file"
			fi
			;;
		tools)
			command -v tpm2_getrandom >/dev/null ||
				skip "tpm2-tools are not installed (Debian: tpm2-tools)"
			;;
		esac
	done
	T=$(mktemp -d "${TMPDIR:-/tmp}/tpmrm-$TEST_NAME.XXXXXX") || fail "mktemp"
	case $T in *[[:space:]\\]*) fail "temp dir $T has characters mountinfo escapes" ;; esac
	trap 'cleanup $?' EXIT
	trap 'fail "interrupted (signal)"' INT TERM HUP
	CLIENTS=$(helper_path daemon-clients clients.c "${TPMRM_DAEMON_CLIENTS:-}")
	CTL=$(helper_path daemon-ctl ctl.c "${TPMRM_DAEMON_CTL:-}")
}

# A helper program: as given, beside a build tree's daemon, or compiled now from LIB_DIR.
helper_path() {
	local name=$1 src=$2 given=$3 guess
	if [ -n "$given" ]; then
		[ -x "$given" ] || fail "$given is not an executable"
		echo "$given"
		return
	fi
	guess=$(dirname "$TPMRM_CUSE")/../tests/daemon/$name
	if [ -x "$guess" ] && [ "$guess" -nt "$LIB_DIR/$src" ]; then
		echo "$guess"
		return
	fi
	${CC:-cc} -std=gnu11 -O2 -Wall -D_GNU_SOURCE -o "$T/$name" "$LIB_DIR/$src" ||
		fail "cannot compile $src (set TPMRM_DAEMON_CLIENTS/TPMRM_DAEMON_CTL)"
	echo "$T/$name"
}

# The test's own deadline, below ctest's TIMEOUT, so that cleanup still runs.  The
# watchdog's sleep must die with it: it holds ctest's output pipe open.
deadline() {
	local s=$1 me=$$
	(
		trap 'kill "$sp" 2>/dev/null; exit 0' TERM
		sleep "$s" &
		sp=$!
		wait "$sp" || exit 0
		echo "FAIL: $TEST_NAME: took longer than $s s" >&2
		kill -TERM "$me"
	) &
	WATCHDOG=$!
}

# --- mounts and processes ----------------------------------------------------------------

# True while PATH is a mount point (any layer) in this mount namespace.
is_mounted() {
	awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo
}

mount_type() {
	awk -v p="$1" '$5 == p { for (i = 7; $i != "-"; i++); t = $(i + 1) } END { print t }' \
		/proc/self/mountinfo
}

# True while PID runs (a zombie does not count).
alive() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# Wait up to S seconds for PID to end; false if it did not.
wait_gone() {
	local pid=$1 s=$2 i
	for ((i = 0; i < s * 20; i++)); do
		alive "$pid" || return 0
		sleep 0.05
	done
	! alive "$pid"
}

# --- daemons -----------------------------------------------------------------------------
# A daemon NAME serves $T/NAME.node, answers on $T/NAME.sock, logs to $T/NAME.log.

node() { echo "$T/$1.node"; }
sock() { echo "$T/$1.sock"; }
pidf() { echo "$T/$1.pid"; }
dlog() { echo "$T/$1.log"; }

# The daemon's command line into DAEMON_ARGV.  It gets default SIGINT/SIGTERM dispositions
# whatever this shell has: bash starts background jobs with SIGINT ignored, and libfuse
# then leaves SIGINT ignored too.
daemon_cmd() {
	local name=$1
	shift
	# shellcheck disable=SC2054 # the commas are env's
	DAEMON_ARGV=(env --default-signal=INT,TERM,HUP "$TPMRM_CUSE" --fuse "$(node "$name")"
		--control "$(sock "$name")" --pid-file "$(pidf "$name")" "$@")
}

# daemon_start NAME [ARGS...]: in the foreground (-f) as a child of this shell; returns
# once the pid file says the node is ready.
daemon_start() {
	local name=$1 pid i
	shift
	rm -f "$(pidf "$name")" # one a SIGKILLed daemon left
	daemon_cmd "$name" "$@" -f
	"${DAEMON_ARGV[@]}" >>"$(dlog "$name")" 2>&1 &
	pid=$!
	DPID[$name]=$pid
	DETACHED[$name]=""
	for ((i = 0; i < START_BOUND_S * 50; i++)); do
		[ -s "$(pidf "$name")" ] && break
		alive "$pid" || fail "daemon $name exited at start: $(tail -n 5 "$(dlog "$name")")"
		sleep 0.02
	done
	[ -s "$(pidf "$name")" ] || fail "daemon $name not ready after $START_BOUND_S s"
	[ "$(cat "$(pidf "$name")")" = "$pid" ] ||
		fail "pid file of $name says $(cat "$(pidf "$name")"), the daemon is $pid"
	is_mounted "$(node "$name")" || fail "daemon $name is ready but $(node "$name") is not mounted"
}

# daemon_start_detached NAME [ARGS...]: without -f; the command returns once the node is
# ready (or failed).  Sets DSTATUS to its exit status.
daemon_start_detached() {
	local name=$1
	shift
	rm -f "$(pidf "$name")"
	daemon_cmd "$name" "$@"
	timeout "$START_BOUND_S" "${DAEMON_ARGV[@]}" >>"$(dlog "$name")" 2>&1
	DSTATUS=$?
	DETACHED[$name]=1
	if [ -s "$(pidf "$name")" ]; then
		DPID[$name]=$(cat "$(pidf "$name")")
	fi
}

# daemon_stop NAME [SIGNAL]: signal it, wait up to STOP_BOUND_S; sets DSTATUS to the exit
# status (foreground daemons only; a detached one is not our child: "").  Fails if the
# daemon is still running after the bound.
daemon_stop() {
	local name=$1 sig=${2:-TERM} pid=${DPID[$1]:-}
	[ -n "$pid" ] || fail "daemon $name has no pid"
	kill -"$sig" "$pid" 2>/dev/null || fail "cannot send SIG$sig to daemon $name ($pid)"
	wait_gone "$pid" "$STOP_BOUND_S" ||
		fail "daemon $name still runs $STOP_BOUND_S s after SIG$sig: $(tail -n 5 "$(dlog "$name")")"
	DSTATUS=""
	if [ -z "${DETACHED[$name]}" ]; then
		wait "$pid"
		DSTATUS=$?
	fi
	unset "DPID[$name]"
}

# After a clean stop: nothing mounted, no pid file, no control socket.
assert_stopped_cleanly() {
	local name=$1
	! is_mounted "$(node "$name")" || fail "$(node "$name") is still a mount after the stop"
	[ ! -e "$(pidf "$name")" ] || fail "pid file $(pidf "$name") is still there after the stop"
	[ ! -e "$(sock "$name")" ] || fail "control socket $(sock "$name") is still there after the stop"
}

# --- talking to a daemon ------------------------------------------------------------------

ctl() {
	local name=$1
	shift
	timeout 20 "$CTL" "$(sock "$name")" "$*"
}

# tools NAME CMD...: one tpm2-tools process on the daemon's node.
tools() {
	local name=$1
	shift
	TPM2TOOLS_TCTI="device:$(node "$name")" timeout "$TOOL_BOUND_S" "$@"
}

# Every file released (FUSE sends RELEASE after close() returns: ask, never sleep).
wait_spaces_released() {
	local out
	out=$(ctl "$1" wait-spaces 0 5000) || fail "control socket of $1 did not answer wait-spaces"
	[ "$out" = "ok 0" ] || fail "files still open 5 s after their clients ended: '$out'"
}

# The TPM holds nothing of any client: no transient object, no session (loaded or saved).
# Asks the control socket and, with tpm2-tools, also the TPM's own session lists through
# the node (sessions are not filtered per space, I5): two views, so that a blind spot in
# one (the control socket once missed every saved session; control.sh) hides no leak.
assert_tpm_empty() {
	local name=$1 out kind
	wait_spaces_released "$name"
	out=$(ctl "$name" handles) || fail "control socket of $name did not answer handles"
	[ "$out" = $'transient\nloaded-session\nsaved-session' ] ||
		fail "the TPM still holds handles: $(echo "$out" | tr '\n' ';')"
	if command -v tpm2_getcap >/dev/null; then
		for kind in handles-loaded-session handles-saved-session; do
			out=$(tools "$name" tpm2_getcap "$kind") || fail "tpm2_getcap $kind failed"
			[ -z "$out" ] || fail "tpm2_getcap $kind lists: $(echo "$out" | tr '\n' ' ')"
		done
		wait_spaces_released "$name"
	fi
}

# stat NAME: one counter from the control socket.
stat_of() {
	ctl "$1" stats | awk -v k="$2" '$1 == k { print $2 }'
}

# A helper process whose first output line we wait for: start_helper CMD...
# Sets HELPER_PID to its pid and HELPER_LINE to that line.  Its stdin and stdout are
# fifos that stay open here until kill_helper: helper_tell writes to it, helper_said reads
# what it printed later, and its writes never raise SIGPIPE.
start_helper() {
	local base in out
	base=$T/helper.$((++HELPER_SEQ))
	mkfifo "$base.in" "$base.out" || fail "mkfifo"
	"$@" <"$base.in" >"$base.out" &
	HELPER_PID=$!
	disown "$HELPER_PID" # its death by SIGKILL is the plan, not news
	exec {in}>"$base.in" {out}<"$base.out"
	HELPER_IN[$HELPER_PID]=$in
	HELPER_FD[$HELPER_PID]=$out
	HELPER_LINE=""
	read -r -t 30 HELPER_LINE <&"$out" || fail "helper '$*' printed nothing in 30 s"
}

# helper_tell PID LINE: send LINE, then wait for the helper's next line (HELPER_LINE).
helper_tell() {
	echo "$2" >&"${HELPER_IN[$1]}" || fail "cannot write to helper $1"
	HELPER_LINE=""
	read -r -t 30 HELPER_LINE <&"${HELPER_FD[$1]}" || fail "helper $1 said nothing after '$2'"
}

# helper_said PID: the next line the helper printed, if any, without waiting.
helper_said() {
	local line=""
	read -r -t 0.01 line <&"${HELPER_FD[$1]}" || true
	echo "$line"
}

# in_write PID NR: wait up to 10 s until PID sits in system call NR (write), i.e. is
# blocked in write(); /proc/PID/syscall names the call a sleeping task is in.
in_write() {
	local i nr
	for ((i = 0; i < 500; i++)); do
		read -r nr _ <"/proc/$1/syscall" 2>/dev/null || nr=""
		[ "$nr" = "$2" ] && return 0
		sleep 0.02
	done
	fail "client $1 never blocked in write (syscall $2): $(cat "/proc/$1/syscall" 2>&1)"
}

# Kill a helper with SIGKILL and wait (up to 30 s) until it is gone.  A helper blocked in
# a FUSE request dies only once the daemon answers (or dies): cleanup passes "nowait".
kill_helper() {
	local pid=$1 fd=${HELPER_FD[$1]:-} in=${HELPER_IN[$1]:-}
	kill -KILL "$pid" 2>/dev/null
	if [ "${2:-}" != nowait ]; then
		wait_gone "$pid" 30 || fail "helper $pid still runs 30 s after SIGKILL"
	fi
	[ -n "$fd" ] && exec {fd}<&-
	[ -n "$in" ] && exec {in}>&-
	unset "HELPER_FD[$pid]" "HELPER_IN[$pid]"
	return 0
}

# --- cleanup ------------------------------------------------------------------------------

cleanup() {
	local rc=$1 name pid f helpers=("${!HELPER_FD[@]}")
	trap - EXIT INT TERM HUP
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
	for pid in "${helpers[@]}"; do
		kill_helper "$pid" nowait
	done
	for name in "${!DPID[@]}"; do
		pid=${DPID[$name]}
		alive "$pid" || continue
		kill -TERM "$pid" 2>/dev/null
		wait_gone "$pid" "$STOP_BOUND_S" || kill -KILL "$pid" 2>/dev/null
		wait_gone "$pid" 2
	done
	for pid in "${helpers[@]}"; do # their daemons are gone: nothing blocks them now
		wait_gone "$pid" 2
	done
	if [ -n "$T" ]; then
		for f in "$T"/*.node; do
			[ -e "$f" ] || is_mounted "$f" || continue
			while is_mounted "$f"; do
				umount -l "$f" 2>/dev/null || fusermount3 -u -z "$f" 2>/dev/null || break
			done
		done
		if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
			for f in "$T"/*.log; do
				[ -s "$f" ] || continue
				echo "--- $(basename "$f") (last 30 lines)"
				tail -n 30 "$f"
			done
		fi
		if awk -v t="$T/" 'index($5, t) == 1 { bad = 1 } END { exit !bad }' /proc/self/mountinfo; then
			echo "cleanup: something under $T is still mounted; leaving it" >&2
			[ "$rc" = 0 ] && rc=1
		else
			rm -rf "$T"
		fi
	fi
	exit "$rc"
}
