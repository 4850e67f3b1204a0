# shellcheck shell=bash
# Shared by the robustness tests: tests/daemon/lib.sh (daemons on FUSE files in a temp dir,
# the control socket, cleanup), plus the rob-client program and a swtpm of the test's own.
#
# Environment (ctest sets them): TPMRM_CUSE (the daemon), TPMRM_ROB_CLIENT (rob-client;
# by hand it is found beside the daemon in a build tree), TPMRM_DAEMON_CTL.
# shellcheck disable=SC2034

ROB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../daemon/lib.sh
. "$ROB_DIR/../daemon/lib.sh"

SWTPM_PID=""

# rob_setup [fuse] [tools] [swtpm]: lib.sh's setup, then ROB (the client) and the cleanup
# that also stops a swtpm this test started.
rob_setup() {
	local need want=()
	for need in "$@"; do
		case $need in
		swtpm) command -v swtpm >/dev/null || skip "swtpm is not installed (Debian: swtpm)" ;;
		*) want+=("$need") ;;
		esac
	done
	setup "${want[@]}"
	trap 'rob_cleanup $?' EXIT
	ROB=${TPMRM_ROB_CLIENT:-$(dirname "$TPMRM_CUSE")/../tests/robustness/rob-client}
	[ -x "$ROB" ] || fail "no rob-client at $ROB: set TPMRM_ROB_CLIENT (build the tree)"
}

rob_cleanup() {
	trap - EXIT
	swtpm_kill KILL
	cleanup "$1"
}

# --- a swtpm of our own: data channel $T/swtpm.sock, state in $T/swtpm-state ---

# swtpm_start: start it (startup-clear: the TPM is usable at once, as after a reboot) and
# wait until its data socket accepts (bounded).
swtpm_start() {
	local i
	mkdir -p "$T/swtpm-state"
	swtpm socket --tpm2 --server "type=unixio,path=$T/swtpm.sock" \
		--ctrl "type=unixio,path=$T/swtpm.ctrl" --tpmstate "dir=$T/swtpm-state" \
		--flags not-need-init,startup-clear --log "file=$T/swtpm.log" &
	SWTPM_PID=$!
	for ((i = 0; i < 500; i++)); do
		alive "$SWTPM_PID" || fail "swtpm exited at start: $(tail -n 5 "$T/swtpm.log")"
		[ -S "$T/swtpm.sock" ] && return 0
		sleep 0.02
	done
	fail "swtpm's socket did not appear within 10 s"
}

# swtpm_kill [SIGNAL]: stop it (default SIGKILL: no state written, no shutdown) and reap it.
swtpm_kill() {
	[ -n "$SWTPM_PID" ] || return 0
	kill -"${1:-KILL}" "$SWTPM_PID" 2>/dev/null
	wait_gone "$SWTPM_PID" 10 || fail "swtpm still runs 10 s after SIG${1:-KILL}"
	wait "$SWTPM_PID" 2>/dev/null
	SWTPM_PID=""
}

# --- helpers ---

# A value from the control socket's stats, or fail.
stat_must() {
	local v
	v=$(stat_of "$1" "$2") || fail "control socket of $1 did not answer stats"
	[ -n "$v" ] || fail "no counter $2 in the stats of $1"
	echo "$v"
}

# The number of handles of KIND (transient, loaded-session, saved-session) in the TPM.
tpm_handles() {
	ctl "$1" handles | awk -v k="$2" '$1 == k { print NF - 1 }'
}
