#!/usr/bin/env bash
# A tpm2-tools process SIGKILLed while its command is in flight: tpm2_createprimary -G rsa3072
# killed while the TPM generates the key (the tool has written its CreatePrimary and waits
# in poll for the response).  The daemon must survive, finish the command, drop the
# response, free the space (the new primary and the tool's session with it) and keep
# serving; nothing may be left in the TPM.  tests/daemon/killed-clients.sh does the same
# with raw clients at other moments.
. "$(dirname "$0")/lib.sh"
clients_setup fuse tools
daemon_start a

# tpm2-tools 5.4's tpm2_createprimary writes, on a fresh open: the device TCTI's GetRandom
# probe, GetCapability, StartAuthSession, then CreatePrimary, and waits for each response in
# poll(fd, 1, -1).  So the CreatePrimary is in flight while the tool has made 4 write calls
# (/proc/PID/io syscw) and sits in poll (syscall 7 on x86-64) with timeout -1.  Not the
# control socket: `stats` waits for the TPM command in flight.
POLL_NR=7
[ "$(uname -m)" = x86_64 ] || skip "the poll syscall number is known for x86-64 only"

# in_flight PID: true once PID waits for its CreatePrimary's response; false if it ended.
in_flight() {
	local i syscw nr timeout
	for ((i = 0; i < 5000; i++)); do # a few ms each: bounded well below the deadline
		alive "$1" || return 1
		syscw=$(awk '$1 == "syscw:" { print $2 }' "/proc/$1/io" 2>/dev/null)
		read -r nr _ _ timeout _ <"/proc/$1/syscall" 2>/dev/null || nr=""
		if [ "$syscw" = 4 ] && [ "$nr" = "$POLL_NR" ] && [ "$timeout" = 0xffffffff ]; then
			return 0
		fi
		((${syscw:-0} > 4)) && return 1
	done
	return 1
}

log "SIGKILL a tpm2_createprimary -G rsa3072 while the TPM generates its key"
writes=$(stat_of a writes)
reads=$(stat_of a reads)
released=$(stat_of a files_released)
# No command substitution in the background job: its child's write would count in syscw.
tcti="device:$(node a)"
TPM2TOOLS_TCTI=$tcti tpm2_createprimary -C o -G rsa3072 -c killed.ctx >killed.out 2>&1 &
tool=$!
if ! in_flight "$tool"; then
	kill -KILL "$tool" 2>/dev/null
	fail "never saw tpm2_createprimary wait for its CreatePrimary (syscw $(awk '$1 == "syscw:" { print $2 }' \
		"/proc/$tool/io" 2>/dev/null), syscall '$(cat "/proc/$tool/syscall" 2>/dev/null)'): $(cat killed.out)"
fi
kill -KILL "$tool" || fail "cannot SIGKILL tpm2_createprimary ($tool)"
wait "$tool" 2>/dev/null # bash would report "Killed"
status=$?
[ "$status" = 137 ] || fail "tpm2_createprimary ended with status $status, not by SIGKILL: $(cat killed.out)"
[ ! -s killed.ctx ] || fail "the killed tool wrote its context file: it had its response"

log "the daemon survives, drops the response, releases the file; the TPM is empty"
alive "${DPID[a]}" || fail "the daemon died: $(tail -n 5 "$(dlog a)")"
wait_spaces_released a
[ $(($(stat_of a files_released) - released)) = 1 ] || fail "the killed tool's file was not released"
[ $(($(stat_of a writes) - writes)) = 4 ] || fail "the killed tool made $(($(stat_of a writes) - writes)) writes, not 4"
[ $(($(stat_of a reads) - reads)) = 6 ] ||
	fail "the tool read $(($(stat_of a reads) - reads)) times, not 6: it read the CreatePrimary response"
assert_daemon_clean a
assert_tpm_empty a

log "and still serves: the same command to completion"
tools a tpm2_createprimary -C o -G rsa3072 -c primary.ctx >primary.yaml || fail "tpm2_createprimary after the kill failed"
[ "$(yaml_value primary.yaml type)" = rsa ] && [ "$(yaml_field primary.yaml bits)" = 3072 ] ||
	fail "tpm2_createprimary after the kill: $(cat primary.yaml)"
tools a tpm2_readpublic -c primary.ctx >readpublic.yaml || fail "tpm2_readpublic of the new primary failed"
modulus=$(yaml_field primary.yaml rsa)
[[ $modulus =~ ^[0-9a-f]{768}$ ]] || fail "tpm2_createprimary printed modulus '$modulus'"
[ "$(yaml_field readpublic.yaml rsa)" = "$modulus" ] || fail "readpublic shows another primary"

finish a
