#!/usr/bin/env bash
# The daemon SIGKILLed with --backend libtpms:DIR: nothing a client saw succeed is lost.
#
# 1. tpm2_nvwrite and tpm2_evictcontrol return, and the daemon is SIGKILLed at once: after
#    a restart on the same directory the NV data and the persistent key are both there.
# 2. 20 times: a client writes an NV counter in a loop (printing each value once its
#    write returned), the daemon is SIGKILLed at a random instant, the client gets an
#    error (never hangs), the next daemon starts on the directory (never an unloadable
#    state), and the NV index holds the last acknowledged value or the one in flight.
#
# Dictionary attack: a non-orderly restart after a DA-protected authorisation counts as a
# failed try, and libtpms locks out after 3 for about 17 min.  Everything here is noDA
# (TPMA_NV_NO_DA indexes, noda objects) and authorised by the owner hierarchy (never
# DA-protected), and the test checks that the lockout counter is still 0 at the end.
. "$(dirname "$0")/rob-lib.sh"
rob_setup fuse tools
deadline 180

state=$T/state
nv_tools=0x1500017
nv_loop=0x1500018
persistent=0x81000017
iterations=${TPMRM_ROB_KILLS:-20}

lockout() {
	local v
	v=$("$ROB" nv "$(node a)" lockout) || fail "cannot read the lockout counter"
	echo "$v"
}

daemon_start a --backend "libtpms:$state"
[ "$(lockout)" = 0 ] || fail "the lockout counter is $(lockout) before anything happened"

log "1. NV write and EvictControl through tpm2-tools, then SIGKILL at once"
head -c 32 /dev/urandom >"$T/nv.in"
tools a tpm2_nvdefine "$nv_tools" -C o -s 32 -a "ownerread|ownerwrite|no_da" >/dev/null ||
	fail "tpm2_nvdefine failed"
tools a tpm2_nvwrite "$nv_tools" -C o -i "$T/nv.in" || fail "tpm2_nvwrite failed"
tools a tpm2_createprimary -C o -G ecc -c "$T/primary.ctx" \
	-a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt" \
	>/dev/null || fail "tpm2_createprimary failed"
tools a tpm2_evictcontrol -C o -c "$T/primary.ctx" "$persistent" >/dev/null ||
	fail "tpm2_evictcontrol failed"
name=$(tools a tpm2_readpublic -c "$persistent" | awk '$1 == "name:" { print $2 }')
[ -n "$name" ] || fail "tpm2_readpublic $persistent gave no name"
daemon_stop a KILL

daemon_start a --backend "libtpms:$state"
tools a tpm2_nvread "$nv_tools" -C o -s 32 -o "$T/nv.out" || fail "tpm2_nvread after SIGKILL failed"
cmp -s "$T/nv.in" "$T/nv.out" || fail "the NV data written before the SIGKILL is lost"
tools a tpm2_getcap handles-persistent | grep -q "$persistent" ||
	fail "the persistent key $persistent is gone after the SIGKILL"
[ "$(tools a tpm2_readpublic -c "$persistent" | awk '$1 == "name:" { print $2 }')" = "$name" ] ||
	fail "the persistent key $persistent changed across the SIGKILL"

log "2. $iterations SIGKILLs at random instants while a client writes NV in a loop"
"$ROB" nv "$(node a)" define "$nv_loop" || fail "cannot define $nv_loop"
value=0
kills_in_flight=0
for ((i = 1; i <= iterations; i++)); do
	out=$T/loop.$i
	"$ROB" nv "$(node a)" loop "$nv_loop" $((value + 1)) >"$out" 2>&1 &
	client=$!
	for ((w = 0; w < 500; w++)); do
		grep -qs '^ack' "$out" && break
		alive "$client" || fail "the NV client ended before its first write: $(cat "$out")"
		sleep 0.02
	done
	grep -q '^ack' "$out" || fail "the NV client acknowledged nothing in 10 s"
	sleep "0.$(printf '%03d' $((RANDOM % 300)))"
	daemon_stop a KILL
	wait_gone "$client" 10 || fail "the NV client still runs 10 s after the daemon died: a hang"
	wait "$client"
	status=$?
	[ "$status" = 3 ] || fail "the NV client ended with status $status: $(tail -n 2 "$out")"
	last=$(awk '$1 == "ack" { v = $2 } END { print v }' "$out")
	grep '^failed:' "$out" | sed 's/.*: //' >>"$T/reasons"

	daemon_start a --backend "libtpms:$state"
	got=$("$ROB" nv "$(node a)" read "$nv_loop") || fail "NV_Read after SIGKILL $i failed"
	if [ "$got" = $((last + 1)) ]; then
		kills_in_flight=$((kills_in_flight + 1)) # the TPM ran it, the client never knew
	elif [ "$got" != "$last" ]; then
		fail "after SIGKILL $i the NV counter is $got; the client saw $last acknowledged"
	fi
	value=$got
done
log "$iterations kills: the counter reached $value; $kills_in_flight kills caught a write the TPM had made but not yet acknowledged"
log "the client's failed writes: $(sort "$T/reasons" | uniq -c | tr -s ' \n' ' ')"

"$ROB" nv "$(node a)" persistent "$persistent" || fail "the persistent key is gone"
[ "$(lockout)" = 0 ] || fail "the lockout counter is $(lockout) after $((iterations + 1)) SIGKILLs"
assert_tpm_empty a
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a
log "pass"
