# shellcheck shell=bash
# Helpers for the tests in tests/unpriv/, sourced after ../daemon/lib.sh: test users the
# test creates (and removes at exit), running commands and daemons as them, binaries they
# can run, private mount namespaces and user namespaces.
#
# Globals set here: DAEMON (a tpmrm-cuse test users can run), UCTL (likewise daemon-ctl),
# USERNS_WHY (why user namespaces are unusable).
# shellcheck disable=SC2034

UNPRIV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3 # Debian's, never a pyenv python3 first on PATH

declare -a TEST_USERS=()   # created by user_add; removed at exit, last first
declare -a UNPRIV_PIDFILES=() # pid files of processes lib.sh does not know (in namespaces)
DAEMON=""
UCTL=""
USERNS_WHY=""

# Run this script again in a private mount namespace (root only), before setup: what it
# mounts (a test copy of /etc/fuse.conf, FUSE nodes, stale ones too) is seen by nobody else
# and goes away with it.  unshare without --fork execs: same pid, so ctest's kill still lands.
private_mount_ns() {
	[ -n "${TPMRM_UNPRIV_MNTNS:-}" ] && return 0
	[ "$(id -u)" = 0 ] || skip "needs root (test users, a private mount namespace)"
	unshare --mount --propagation private true 2>/dev/null ||
		skip "cannot unshare a mount namespace here (unshare --mount)"
	TPMRM_UNPRIV_MNTNS=1 exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
}

# After lib.sh's setup: $T/bin for binaries test users run; our cleanup (users, namespaced processes) runs before lib.sh's.
# Test users must reach paths under $T: traversable, not listable.
unpriv_setup() {
	trap 'unpriv_cleanup $?' EXIT
	chmod 0711 "$T" || fail "chmod $T"
	mkdir -m 0755 "$T/bin" || fail "mkdir $T/bin"
}

# Bounded retries: useradd and userdel fail while another process holds /etc/passwd's lock.
retry() {
	local i
	for ((i = 0; i < 40; i++)); do
		"$@" 2>"$T/retry.err" && return 0
		sleep 0.1
	done
	cat "$T/retry.err" >&2
	return 1
}

# user_add VAR [useradd options]: a new user with home $T/home-VAR (mode 0700); its name
# (tpmrm-PID-VAR) goes into the variable VAR.
user_add() {
	local var=$1 name=tpmrm-$$-$1 home=$T/home-$1
	shift
	[ "$(id -u)" = 0 ] || skip "needs root to create test users"
	command -v useradd >/dev/null && command -v userdel >/dev/null ||
		skip "useradd/userdel are missing (Debian: passwd)"
	command -v setpriv >/dev/null || skip "setpriv is missing (Debian: util-linux)"
	retry useradd -M -d "$home" -s /usr/sbin/nologin "$@" "$name" || fail "useradd $name failed"
	TEST_USERS+=("$name")
	mkdir -m 0700 "$home" && chown "$name:" "$home" || fail "cannot make $home"
	printf -v "$var" '%s' "$name"
}

home_of() {
	getent passwd "$1" | cut -d: -f6
}

# as_user USER CMD...: CMD with USER's uid, gid and groups and the environment this shell
# exports, with USER's HOME (no PAM session, no login shell).
as_user() {
	local user=$1
	shift
	setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --init-groups -- \
		env HOME="$(home_of "$user")" USER="$user" LOGNAME="$user" "$@"
}

# The errno name that open(PATH, O_RDWR) gives USER ("root" for this shell), or "OK".
open_errno() {
	local user=$1 path=$2 code='
import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_RDWR))
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
else:
    print("OK")'
	if [ "$user" = root ]; then
		"$PY" -c "$code" "$path"
	else
		as_user "$user" "$PY" -c "$code" "$path"
	fi
}

# A copy of FILE in $T/bin (world-readable) unless USER can already run it as it is.
runnable_by() {
	local user=$1 file=$2 copy
	if as_user "$user" test -x "$file" && as_user "$user" test -r "$file"; then
		echo "$file"
		return
	fi
	copy=$T/bin/$(basename "$file")
	install -m 0755 "$file" "$copy" || fail "cannot copy $file to $copy"
	echo "$copy"
}

# user_binaries USER: DAEMON and UCTL that USER can run (the build directory may not be
# readable by others: then copies).  The daemon must start as USER: --version.
user_binaries() {
	local user=$1
	DAEMON=$(runnable_by "$user" "$TPMRM_CUSE")
	UCTL=$(runnable_by "$user" "$CTL")
	as_user "$user" "$DAEMON" --version >/dev/null ||
		fail "user $user cannot run $DAEMON (its libraries?)"
}

# user_daemon_start USER NAME ARGS...: lib.sh's daemon_start with the daemon run as USER
# (setpriv execs it: lib.sh's pid is the daemon's).  user_daemon_cmd: daemon_cmd likewise.
user_daemon_wrapper() {
	local user=$1 w=$T/bin/as-$1
	if [ ! -x "$w" ]; then
		printf '#!/bin/sh\nexec setpriv --reuid=%s --regid=%s --init-groups -- env HOME=%s USER=%s "%s" "$@"\n' \
			"$(id -u "$user")" "$(id -g "$user")" "$(home_of "$user")" "$user" "$DAEMON" >"$w"
		chmod 0700 "$w"
	fi
	echo "$w"
}

user_daemon_start() {
	local user=$1 TPMRM_CUSE
	shift
	TPMRM_CUSE=$(user_daemon_wrapper "$user")
	daemon_start "$@"
}

user_daemon_start_detached() {
	local user=$1 TPMRM_CUSE
	shift
	TPMRM_CUSE=$(user_daemon_wrapper "$user")
	daemon_start_detached "$@"
}

user_daemon_cmd() {
	local user=$1 TPMRM_CUSE
	shift
	TPMRM_CUSE=$(user_daemon_wrapper "$user")
	daemon_cmd "$@"
}

# user_tools USER NAME CMD...: one tpm2-tools process run by USER on daemon NAME's node.
user_tools() {
	local user=$1 name=$2
	shift 2
	TPM2TOOLS_TCTI="device:$(node "$name")" as_user "$user" timeout "$TOOL_BOUND_S" "$@"
}

# lib.sh's assert_tpm_empty, with the node opened by USER (root may not open it).
user_assert_tpm_empty() {
	local user=$1 name=$2 out kind
	wait_spaces_released "$name"
	out=$(ctl "$name" handles) || fail "control socket of $name did not answer handles"
	[ "$out" = $'transient\nloaded-session\nsaved-session' ] ||
		fail "the TPM still holds handles: $(echo "$out" | tr '\n' ';')"
	for kind in handles-loaded-session handles-saved-session; do
		out=$(user_tools "$user" "$name" tpm2_getcap "$kind") || fail "tpm2_getcap $kind failed"
		[ -z "$out" ] || fail "tpm2_getcap $kind lists: $(echo "$out" | tr '\n' ' ')"
	done
	wait_spaces_released "$name"
}

# The uids (real, effective, saved, fs) of process PID, one line.
proc_uids() {
	awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$1/status"
}

# The number of mounts stacked at PATH.
mount_layers() {
	awk -v p="$1" '$5 == p { n++ } END { print n + 0 }' /proc/self/mountinfo
}

# The options (per-mount and superblock) of the top mount at PATH.
mount_options() {
	awk -v p="$1" '$5 == p { for (i = 7; $i != "-"; i++); o = $6 "," $(i + 3) } END { print o }' \
		/proc/self/mountinfo
}

# userns_usable [CMD...]: true if CMD (e.g. as_user USER) may create a user namespace
# mapped to root with a mount namespace; else false with the reason in USERNS_WHY.
userns_usable() {
	local err f v
	err=$("$@" unshare --user --map-root-user --mount true 2>&1) && return 0
	USERNS_WHY="unshare --user --map-root-user --mount: ${err:-failed}"
	for f in /proc/sys/user/max_user_namespaces /proc/sys/kernel/unprivileged_userns_clone \
		/proc/sys/kernel/apparmor_restrict_unprivileged_userns; do
		[ -r "$f" ] || continue
		v=$(cat "$f")
		case $f:$v in
		*/max_user_namespaces:0 | */unprivileged_userns_clone:0 | */apparmor_restrict_unprivileged_userns:1)
			USERNS_WHY="user namespaces are disabled: $f is $v ($USERNS_WHY)"
			;;
		esac
	done
	return 1
}

# Lazily unmount whatever is mounted under $T (lib.sh's cleanup sees $T/*.node only):
# nodes in subdirectories, stale ones, shared binds.  A few passes: layers stack.
unmount_under_t() {
	local pass m
	for ((pass = 0; pass < 4; pass++)); do
		awk -v t="$T/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -ru |
			while read -r m; do
				umount -l "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null
			done
	done
}

# Stop, by pid, what lib.sh does not know (namespaced daemons, via their pid files) and
# the daemons it does (their users must have no processes left), remove the test users,
# then run lib.sh's cleanup.
unpriv_cleanup() {
	local rc=$1 f pid name i
	trap - EXIT
	for f in "${UNPRIV_PIDFILES[@]}"; do
		pid=$(cat "$f" 2>/dev/null) || continue
		[[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || continue
		kill -TERM "$pid" 2>/dev/null
		wait_gone "$pid" "$STOP_BOUND_S" || kill -KILL "$pid" 2>/dev/null
		wait_gone "$pid" 2
	done
	for name in "${!DPID[@]}"; do
		pid=${DPID[$name]}
		alive "$pid" || continue
		kill -TERM "$pid" 2>/dev/null
		wait_gone "$pid" "$STOP_BOUND_S" || kill -KILL "$pid" 2>/dev/null
		wait_gone "$pid" 2
	done
	unmount_under_t
	for ((i = ${#TEST_USERS[@]} - 1; i >= 0; i--)); do
		if ! retry userdel -f "${TEST_USERS[i]}"; then
			echo "cleanup: cannot remove test user ${TEST_USERS[i]}" >&2
			[ "$rc" = 0 ] && rc=1
		fi
	done
	cleanup "$rc"
}
