# shellcheck shell=bash
# Shared helpers for the client tests: real TPM clients (tpm2-tools, one process per call as
# users work; tpm2-tss ESYS programs) on a tpmrm-cuse FUSE file.  Sources the daemon tests'
# library (tests/daemon/lib.sh: setup, daemons, `tools`, assert_tpm_empty, cleanup) and adds
# what these tests share: expected failures, tampering, the end-of-test checks, and test
# users and groups that are removed again at exit.
#
# Environment, besides the daemon library's (TPMRM_CUSE, TPMRM_DAEMON_CLIENTS,
# TPMRM_DAEMON_CTL):
#   TPMRM_CLIENTS_SIGNERS  signers.c built; by hand it is compiled into the temp dir
#
# Exit status: 0 pass, 1 fail, 77 skip (only when something cannot run on this machine).
# shellcheck disable=SC2034

CLIENTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../daemon/lib.sh
. "$CLIENTS_DIR/../daemon/lib.sh"

TEST_USERS=()
TEST_GROUPS=()

# The daemon library's cleanup (stop daemons, unmount, remove the temp dir, exit), run
# after removing this test's users and groups.
eval "daemon_lib_$(declare -f cleanup)"
cleanup() {
	local rc=$1 u g
	for u in "${TEST_USERS[@]}"; do
		userdel -f "$u" >/dev/null 2>&1 || echo "cleanup: cannot remove user $u" >&2
	done
	for g in "${TEST_GROUPS[@]}"; do
		groupdel "$g" >/dev/null 2>&1 || echo "cleanup: cannot remove group $g" >&2
	done
	daemon_lib_cleanup "$rc"
}

# clients_setup WHAT... [-- DEADLINE_S]: setup (skips what cannot run), the test's own
# deadline (default 50 s), and the working directory $T.
clients_setup() {
	local s=50 needs=()
	while [ $# -gt 0 ]; do
		case $1 in
		--) s=$2 && shift ;;
		*) needs+=("$1") ;;
		esac
		shift
	done
	setup "${needs[@]}"
	deadline "$s"
	cd "$T" || fail "cd $T"
}

# yaml_value FILE KEY: the "value:" under a top-level KEY in tpm2-tools' YAML output.
yaml_value() {
	awk -v k="$2:" '$1 == k { getline; print $2; exit }' "$1"
}

# yaml_field FILE KEY: the value of a top-level "KEY: value" line.
yaml_field() {
	awk -v k="$2:" '$1 == k { print $2; exit }' "$1"
}

# tools_fail NAME PATTERN WHAT CMD...: CMD (one tpm2-tools process on NAME's node) must fail,
# and its output must name PATTERN (case-insensitive; a TPM response code such as "(0x2db)"
# as tpm2-tools prints it, or a message): a refusal for the reason the test gives, not a
# hang (timeout), a crash or a transport error.
tools_fail() {
	local name=$1 pattern=$2 what=$3 out
	shift 3
	if out=$(tools "$name" "$@" 2>&1); then
		fail "$what: '$*' succeeded"
	fi
	[[ ${out,,} == *"${pattern,,}"* ]] ||
		fail "$what: '$1' failed, but not with '$pattern': $(echo "$out" | tail -n 4 | tr '\n' ' ')"
}

# flip_byte FILE OFFSET: XOR one byte of FILE with 1 (OFFSET < 0 counts from the end).
flip_byte() {
	local f=$1 off=$2 size b
	size=$(stat -c %s "$f") || fail "stat $f"
	((off < 0)) && off=$((size + off))
	((off >= 0 && off < size)) || fail "flip_byte: offset $2 is outside $f ($size bytes)"
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf '%b' "\\x$(printf %02x $((b ^ 1)))" |
		dd of="$f" bs=1 seek="$off" conv=notrunc status=none || fail "cannot write $f"
}

# hex FILE: the file as one line of lowercase hex.
hex() {
	od -An -v -tx1 "$1" | tr -d ' \n'
}

# The TPM's persistent objects and NV indices: none left (the TPM is shared by every client
# of the daemon: what a test makes persistent, it removes again).
assert_no_persistent() {
	local name=$1 kind out
	for kind in handles-persistent handles-nv-index; do
		out=$(tools "$name" tpm2_getcap "$kind") || fail "tpm2_getcap $kind failed"
		[ -z "$out" ] || fail "tpm2_getcap $kind lists: $(echo "$out" | tr '\n' ' ')"
	done
}

# No RM error counted (the RM counts every errno it gave a client), no error logged.
assert_daemon_clean() {
	local name=$1 errors
	alive "${DPID[$name]}" || fail "daemon $name died: $(tail -n 5 "$(dlog "$name")")"
	errors=$(ctl "$name" stats | awk '$1 ~ /^errors_/ && $2 != 0') ||
		fail "control socket of $name did not answer stats"
	[ -z "$errors" ] || fail "the RM counted errors: $(echo "$errors" | tr '\n' ' ')"
	! grep -E '(error|warning): ' "$(dlog "$name")" ||
		fail "daemon $name logged errors or warnings"
}

# finish NAME...: the end of every test: nothing left in the TPM (no transient object, no
# session, no persistent object, no NV index), no RM error, a clean stop; for each daemon.
finish() {
	local name
	cd / || fail "cd /"
	for name in "$@"; do
		assert_tpm_empty "$name"
		assert_no_persistent "$name"
		wait_spaces_released "$name"
		assert_daemon_clean "$name"
		daemon_stop "$name" TERM
		[ "$DSTATUS" = 0 ] || fail "SIGTERM of $name: exit status $DSTATUS"
		assert_stopped_cleanly "$name"
	done
	log "pass"
}

# The client program signers.c: as given, beside a build tree's daemon, or compiled now.
signers_path() {
	local given=${TPMRM_CLIENTS_SIGNERS:-} guess flags
	if [ -n "$given" ]; then
		[ -x "$given" ] || fail "$given is not an executable"
		echo "$given"
		return
	fi
	guess=$(dirname "$TPMRM_CUSE")/../tests/clients/clients-signers
	if [ -x "$guess" ] && [ "$guess" -nt "$CLIENTS_DIR/signers.c" ]; then
		echo "$guess"
		return
	fi
	flags=$(pkg-config --cflags --libs tss2-esys tss2-tctildr tss2-rc libcrypto) ||
		skip "tpm2-tss ESYS and OpenSSL development files are needed (Debian: libtss2-dev)"
	# shellcheck disable=SC2086 # flags are words
	${CC:-cc} -std=gnu11 -O2 -Wall -D_GNU_SOURCE -o "$T/clients-signers" \
		"$CLIENTS_DIR/signers.c" $flags || fail "cannot compile signers.c"
	echo "$T/clients-signers"
}

# --- test users ----------------------------------------------------------------------------

# need_root_tools: skip unless this runs as root with useradd, groupadd and setpriv.
need_root_tools() {
	local c
	[ "$(id -u)" = 0 ] || skip "needs root (a root daemon, test users)"
	for c in useradd userdel groupadd groupdel setpriv; do
		command -v "$c" >/dev/null || skip "$c is missing (Debian: passwd, util-linux)"
	done
}

# add_group NAME: a group of this test's own, removed at exit.
add_group() {
	groupadd "$1" || fail "groupadd $1"
	TEST_GROUPS+=("$1")
}

# add_user NAME [GROUP,...]: a user of this test's own (no home, primary group nogroup,
# supplementary GROUPs), removed at exit.
add_user() {
	local args=(-M -N -g nogroup -s /usr/sbin/nologin)
	[ -n "${2:-}" ] && args+=(-G "$2")
	useradd "${args[@]}" "$1" || fail "useradd $1"
	TEST_USERS+=("$1")
}

# as_user USER CMD...: CMD as USER with USER's groups, from /, bounded.
as_user() {
	local u=$1
	shift
	(cd / && timeout "$TOOL_BOUND_S" setpriv --reuid "$u" --regid nogroup --init-groups "$@")
}
