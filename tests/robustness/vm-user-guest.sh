#!/usr/bin/env bash
# Runs INSIDE the guest of scripts/vm-test (vm-user.sh starts it): the permissions of a
# CUSE node and --user, with real CUSE.
#
#   vm-user-guest.sh BUILD_DIR
#
# - By default the node is 0600 root:root, root's tpm2-tools work through it and another
#   user (nobody) is refused at open (EACCES).
# - --user nobody --backend libtpms:DIR (DIR owned by nobody): the daemon serves after
#   dropping root (/proc/PID/status: every uid and gid nobody's, no capability), the node
#   stays 0600 root:root (still only root may open it), NV data written through it lands in
#   files nobody owns, SIGTERM stops it cleanly (node, pid file and control socket gone, as
#   they sit in a directory nobody owns), and a later daemon reads the data back.
# - --user nobody with a state directory nobody cannot write: refused at start, naming the
#   directory; the node goes away again.
# Prints "ok - ..." per check and ends with "N passed, N failed"; exits 1 if any failed.
# shellcheck disable=SC2016 # the sh -c scripts expand in their own shell
set -u

build=${1:?usage: vm-user-guest.sh BUILD_DIR}
daemon=$build/cuse/tpmrm-cuse
ctl=$build/tests/daemon/daemon-ctl
passed=0
failed=0

check() { # NAME COMMAND...: pass when COMMAND succeeds; its output is shown on failure
	local name=$1 out
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

as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
}

# refused_open NODE: nobody's open fails with EACCES.
refused_open() {
	local out
	if out=$(as_nobody sh -c 'exec 3<>"$1"' sh "$1" 2>&1); then
		echo "nobody opened $1"
		return 1
	fi
	case $out in *"Permission denied"*) return 0 ;; esac
	echo "nobody's open failed otherwise: $out"
	return 1
}

node_is() { # NODE MODE UID GID
	local got
	got=$(stat -c '%a %u %g' "$1") || return 1
	[ "$got" = "$2 $3 $4" ] || {
		echo "$1 is $got, expected $2 $3 $4"
		return 1
	}
}

getrandom() {
	local r
	r=$(tpm2_getrandom -T "device:$1" 16 --hex) && [[ $r =~ ^[0-9a-f]{32}$ ]]
}

# stop PIDFILE_PID NODE: SIGTERM, then the process and the node are gone within 10 s.
stop() {
	local pid=$1 node=$2 i
	kill -TERM "$pid" || return 1
	for ((i = 0; i < 100; i++)); do
		[ -e "$node" ] || [ -d "/proc/$pid" ] || return 0
		sleep 0.1
	done
	echo "pid $pid or $node still there 10 s after SIGTERM"
	return 1
}

wait_for_file() { # FILE PID: FILE appears within 10 s while PID runs
	local i
	for ((i = 0; i < 200; i++)); do
		[ -s "$1" ] && return 0
		[ -d "/proc/$2" ] || {
			echo "pid $2 exited"
			cat /tmp/rob-user.log
			return 1
		}
		sleep 0.05
	done
	echo "no $1 after 10 s"
	return 1
}

ids_are_nobody() { # PID: every uid and gid nobody's, no supplementary root group, no caps
	local pid=$1 uid gid
	uid=$(id -u nobody)
	gid=$(id -g nobody)
	awk -v u="$uid" -v g="$gid" '
		$1 == "Uid:" { ok_u = ($2 == u && $3 == u && $4 == u && $5 == u) }
		$1 == "Gid:" { ok_g = ($2 == g && $3 == g && $4 == g && $5 == g) }
		$1 == "Groups:" { for (i = 2; i <= NF; i++) if ($i == 0) root_group = 1 }
		$1 == "CapEff:" { ok_c = ($2 == "0000000000000000") }
		END { exit !(ok_u && ok_g && !root_group && ok_c) }' "/proc/$pid/status" || {
		grep -E '^(Uid|Gid|Groups|CapEff):' "/proc/$pid/status"
		return 1
	}
}

echo "# $(uname -r): CUSE node permissions and --user"
[ -c /dev/cuse ] || {
	echo "FAIL - no /dev/cuse in the guest"
	exit 1
}

# 1. The default: 0600 root:root.
if check "tpmrm-cuse --cuse rob-default starts" \
	"$daemon" --cuse rob-default --pid-file /run/rob-default.pid; then
	check "/dev/rob-default is 0600 root:root" node_is /dev/rob-default 600 0 0
	check "root opens it: tpm2_getrandom" getrandom /dev/rob-default
	check "nobody is refused (EACCES)" refused_open /dev/rob-default
	check "nobody's tpm2_getrandom fails" sh -c '! setpriv --reuid=nobody --regid=nogroup \
		--clear-groups -- tpm2_getrandom -T device:/dev/rob-default 8 >/dev/null 2>&1'
	check "SIGTERM stops it" stop "$(cat /run/rob-default.pid)" /dev/rob-default
fi

# 2. --user nobody, state in a directory nobody owns; pid file and socket likewise.
state=/tmp/rob-state
run=/run/rob-user
mkdir -p "$state" "$run"
chown nobody:nogroup "$state" "$run"
head -c 32 /dev/urandom >/tmp/rob-nv.in
# In the foreground, so that its exit status (and under ASan its leak check) is seen.
"$daemon" --cuse rob-user --user nobody --backend "libtpms:$state" --pid-file "$run/pid" \
	--control "$run/ctl" -f 2>/tmp/rob-user.log &
pid=$!
if check "tpmrm-cuse --cuse rob-user --user nobody --backend libtpms:$state starts" \
	wait_for_file "$run/pid" "$pid"; then
	check "/proc/$pid/status: uid and gid nobody's, no capability" ids_are_nobody "$pid"
	check "/dev/rob-user is still 0600 root:root" node_is /dev/rob-user 600 0 0
	check "root's tpm2_getrandom through it works" getrandom /dev/rob-user
	check "nobody is refused (EACCES)" refused_open /dev/rob-user
	check "NV define and write through it" sh -c '
		tpm2_nvdefine -T device:/dev/rob-user 0x1500019 -C o -s 32 \
			-a "ownerread|ownerwrite|no_da" >/dev/null &&
		tpm2_nvwrite -T device:/dev/rob-user 0x1500019 -C o -i /tmp/rob-nv.in'
	check "the control socket answers" sh -c '"$1" "$2" handles | grep -q "^transient"' \
		sh "$ctl" "$run/ctl"
	check "SIGTERM stops it and removes the node" stop "$pid" /dev/rob-user
	check "it exits with status 0" sh -c 'wait_status=$1; [ "$wait_status" = 0 ] ||
		{ echo "exit status $wait_status"; cat /tmp/rob-user.log; exit 1; }' sh "$(
		wait "$pid"
		echo $?
	)"
	check "it logged no error" sh -c '! grep "error:" /tmp/rob-user.log'
	check "its pid file and control socket are gone" sh -c '[ ! -e "$1/pid" ] && [ ! -e "$1/ctl" ]' \
		sh "$run"
	check "the state files are nobody's (written after the drop)" sh -c '
		[ -n "$(ls "$1")" ] && [ -z "$(find "$1" -type f ! -user nobody ! -name lock)" ]' \
		sh "$state"
fi
if check "a daemon as root on the same directory starts" \
	"$daemon" --cuse rob-user2 --backend "libtpms:$state" --pid-file /run/rob-user2.pid; then
	check "it reads back what the daemon as nobody wrote" sh -c '
		tpm2_nvread -T device:/dev/rob-user2 0x1500019 -C o -s 32 -o /tmp/rob-nv.out &&
		cmp /tmp/rob-nv.in /tmp/rob-nv.out'
	check "SIGTERM stops it" stop "$(cat /run/rob-user2.pid)" /dev/rob-user2
fi

# 3. A state directory nobody cannot write: refused, named, nothing left behind.
mkdir -p /tmp/rob-root-state
chmod 0700 /tmp/rob-root-state
check "--user nobody with a root-only state directory fails at start" sh -c '
	! "$1" --cuse rob-bad --user nobody --backend libtpms:/tmp/rob-root-state \
		2>/tmp/rob-bad.err' \
	sh "$daemon"
check "its message names the directory and says chown" \
	sh -c 'grep "/tmp/rob-root-state" /tmp/rob-bad.err | grep -q chown ||
		{ cat /tmp/rob-bad.err; exit 1; }'
check "and /dev/rob-bad is gone" sh -c 'for i in $(seq 50); do [ -e /dev/rob-bad ] || exit 0; sleep 0.1; done; exit 1'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
