#!/usr/bin/env bash
# --backend libtpms:DIR: a second daemon on a directory in use fails at start with a
# message naming the directory (and leaves the first one serving); a daemon stopped with
# SIGTERM keeps its NV data for the next start (tpm2_nvdefine/nvwrite, restart,
# nvread equal), and its stop was an orderly TPM shutdown (restartCount + 1, resetCount
# unchanged).  Owner authorisation only: nothing here touches dictionary-attack counters.
. "$(dirname "$0")/lib.sh"
setup fuse tools
deadline 50

state=$T/state
index=0x1500016
clock_field() { # clock_field NAME FIELD
	tools "$1" tpm2_readclock | awk -v f="$2:" '$1 == f { print $2 }'
}

daemon_start a --backend "libtpms:$state"

log "a second daemon on the same state directory fails, naming it"
for fg in "" -f; do
	if [ -n "$fg" ]; then
		daemon_cmd b --backend "libtpms:$state" -f
		timeout 20 "${DAEMON_ARGV[@]}" >"$(dlog b)" 2>&1
		DSTATUS=$?
	else
		daemon_start_detached b --backend "libtpms:$state"
	fi
	[ "$DSTATUS" != 0 ] && [ "$DSTATUS" != 124 ] ||
		fail "second daemon on a busy state dir ($fg): exit status $DSTATUS"
	grep -qF -- "$state" "$(dlog b)" ||
		fail "second daemon ($fg) does not name $state: $(cat "$(dlog b)")"
	! is_mounted "$(node b)" || fail "the failed second daemon left $(node b) mounted"
	[ ! -e "$(pidf b)" ] || fail "the failed second daemon wrote a pid file"
	rm -f "$(dlog b)"
done
hex=$(tools a tpm2_getrandom 16 --hex) || fail "the first daemon stopped serving"
[[ $hex =~ ^[0-9a-f]{32}$ ]] || fail "tpm2_getrandom gave '$hex'"

log "NV index written, SIGTERM, restart, read back"
head -c 32 /dev/urandom >"$T/nv.in"
tools a tpm2_nvdefine "$index" -C o -s 32 -a "ownerread|ownerwrite" >/dev/null ||
	fail "tpm2_nvdefine failed"
tools a tpm2_nvwrite "$index" -C o -i "$T/nv.in" || fail "tpm2_nvwrite failed"
resets=$(clock_field a reset_count)
restarts=$(clock_field a restart_count)
[ -n "$resets" ] && [ -n "$restarts" ] || fail "tpm2_readclock gave no counts"
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a

daemon_start a --backend "libtpms:$state"
tools a tpm2_nvread "$index" -C o -s 32 -o "$T/nv.out" || fail "tpm2_nvread after restart failed"
cmp -s "$T/nv.in" "$T/nv.out" || fail "NV data changed across a SIGTERM restart"
[ "$(clock_field a reset_count)" = "$resets" ] ||
	fail "reset_count went from $resets to $(clock_field a reset_count): SIGTERM was not an orderly TPM shutdown"
[ "$(clock_field a restart_count)" = $((restarts + 1)) ] ||
	fail "restart_count went from $restarts to $(clock_field a restart_count), expected +1"
tools a tpm2_nvundefine "$index" -C o || fail "tpm2_nvundefine failed"
assert_tpm_empty a
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "second SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a
log "pass"
