#!/usr/bin/env bash
# Malformed TPM responses, injected with --backend fault:RULES:libtpms.
#
# 1. Each kind on a client's GetRandom, on a blocking and on an O_NONBLOCK file: a
#    truncated response, a lying size field, random bytes or no bytes give EFAULT (spec
#    B9), from write() when blocking and from read() when not (F6); no response gives
#    ETIME, a transport error EIO; noise (rc and body random, framing intact) is passed
#    on; a slow TPM is only slow.  The daemon keeps serving and counts the errors.
# 2. Malformed responses to the RM's own ContextLoad and ContextSave (I10, I11): the
#    client's command fails with EFAULT and its object survives; the object the TPM
#    loaded for the spoilt ContextLoad stays in the TPM, as the kernel leaves it.
# 3. Soaks: random faults under 16 tolerant clients (every answer that does come back is
#    still checked), then the daemon still serves and stops cleanly (under ASan: no leak
#    on any error path).  Faults on commands that make no handle leave the TPM empty;
#    faults on the others leak TPM objects and sessions, as the kernel does.
. "$(dirname "$0")/rob-lib.sh"
rob_setup fuse
deadline 100

log "1. each fault kind on GetRandom (0x17b)"
rules="truncate/0x17b@2-3,lie-size/0x17b@4-5,garbage/0x17b@6-7,empty/0x17b@8-9"
rules+=",no-response/0x17b@10-11,eio/0x17b@12-13,noise/0x17b@14-15,slow=300/0x17b@16-17"
daemon_start a --backend "fault:$rules:libtpms"
out=$("$ROB" expect "$(node a)" ok EFAULT EFAULT EFAULT EFAULT EFAULT EFAULT EFAULT EFAULT \
	ETIME ETIME EIO EIO noise noise slow:300 slow:300 ok ok) || fail "rob-client expect: $out"
log "$out"
for kind in truncate lie-size garbage empty no-response eio noise; do
	n=$(grep -c "fault: command [0-9]* (cc 0x0000017b): $kind\$" "$(dlog a)")
	[ "$n" = 2 ] || fail "the daemon logged $n '$kind' faults, expected 2"
done
[ "$(stat_must a errors_EFAULT)" = 8 ] || fail "errors_EFAULT $(stat_of a errors_EFAULT), expected 8"
[ "$(stat_must a errors_ETIME)" = 2 ] || fail "errors_ETIME $(stat_of a errors_ETIME), expected 2"
[ "$(stat_must a errors_EIO)" = 2 ] || fail "errors_EIO $(stat_of a errors_EIO), expected 2"
timeout 60 "$CLIENTS" mix "$(node a)" 4 10 || fail "raw clients failed after the faults"
alive "${DPID[a]}" || fail "the daemon died"
assert_tpm_empty a
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"

log "2. the RM's own ContextLoad (0x161) and ContextSave (0x162) spoilt"
# primary: CreatePrimary, then ContextSave #1 (ok).  readpublic: ContextLoad, ReadPublic,
# ContextSave.  ContextLoad #1 truncated: EFAULT at swap-in.  ContextSave #3 lying: EFAULT
# at swap-out, though the TPM ran ReadPublic.  The object survives both.
daemon_start b --backend "fault:truncate/0x161@1,lie-size/0x162@3:libtpms"
out=$("$ROB" expect "$(node b)" --one-file primary:ok readpublic:EFAULT readpublic:ok \
	readpublic:EFAULT readpublic:ok readpublic:ok) || fail "rob-client expect: $out"
log "$out"
[ "$(stat_must b errors_EFAULT)" = 2 ] || fail "errors_EFAULT $(stat_of b errors_EFAULT), expected 2"
wait_spaces_released b
# The TPM loaded the object for the spoilt ContextLoad; the RM never saw its handle, so
# it stays loaded, as in the kernel (tpm2_load_space knows no handle to flush).
leaked=$(tpm_handles b transient)
[ "$leaked" = 1 ] ||
	fail "after a spoilt ContextLoad the TPM holds $leaked transient objects, the kernel's profile leaves exactly 1"
log "as in the kernel, the object loaded by the spoilt ContextLoad stays in the TPM: $(ctl b handles | head -n 1)"
out=$("$ROB" expect "$(node b)" ok ok) || fail "the daemon stopped serving: $out"
daemon_stop b TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"

# soak NAME PERCENT CODES...: a daemon with random faults on the commands with those codes,
# 16 tolerant clients; it must survive, GetRandom (never spoilt) must work afterwards, and
# SIGTERM must stop it cleanly.  Leaves the clients' summary in $out.
soak() {
	local name=$1 percent=$2 cc faults rules="seed=$seed"
	shift 2
	for cc in "$@"; do
		# From the 3rd command of each code on: the daemon's start-up GetCapability stays
		# clean (a fault there stops the daemon at start, which is no soak).
		rules+=",random=$percent/$cc@3+"
	done
	daemon_start "$name" --backend "fault:$rules:libtpms"
	out=$(timeout 80 "$ROB" load "$(node "$name")" 16 "${TPMRM_ROB_SOAK_COMMANDS:-150}" \
		--tolerant --seed "$seed" --alarm 70) || fail "tolerant clients failed under faults: $out"
	log "$out"
	faults=$(grep -c 'fault: command' "$(dlog "$name")")
	[ "$faults" -ge 5 ] || fail "only $faults faults were injected: the soak proves little"
	log "$faults faults injected"
	alive "${DPID[$name]}" || fail "the daemon died under faults"
	"$ROB" expect "$(node "$name")" ok ok ok ok >/dev/null || fail "the daemon stopped serving"
	# (stats: the TPM's own handle lists may meet a fault on their GetCapability)
	ctl "$name" stats >/dev/null || fail "the control socket stopped answering"
	! grep 'error:' "$(dlog "$name")" || fail "the daemon logged errors (broken invariants)"
}

seed=${TPMRM_ROB_SEED:-$RANDOM}
log "3. soak (seed $seed; TPMRM_ROB_SEED=$seed gives the same fault rules and client mixes; the interleaving of 16 clients varies)"
log "3a. faults on commands that make no handle: afterwards the TPM holds nothing"
# Sign, PolicyPCR, PolicyGetDigest, PCR_Read, SequenceUpdate, SequenceComplete,
# ContextSave, Create: whatever happens to their responses, the RM's rollback (I12) leaves
# nothing behind.  (Not GetCapability: the checks below list the TPM's handles with it.)
soak c 3 0x15d 0x17f 0x189 0x17e 0x15c 0x13e 0x162 0x153
[[ $out != *"0x902"* && $out != *"0x903"* ]] ||
	fail "object or session memory ran out: something leaked in the TPM"
assert_tpm_empty c
daemon_stop c TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM after the soak: exit status $DSTATUS"
assert_stopped_cleanly c

log "3b. faults on every command code but GetRandom, three fresh daemons"
# A spoilt response to a command that makes a handle (CreatePrimary, Load, StartAuthSession,
# HashSequenceStart, the RM's ContextLoad), or a FlushContext that never arrives (eio),
# leaves an object or session in the TPM that no space knows, as in the kernel; libtpms
# has 3 slots of each, so a few such faults make later clients get TPM_RC_OBJECT_MEMORY
# (0x902) or TPM_RC_SESSION_MEMORY (0x903).  Only survival is checked here.
for round in 1 2 3; do
	seed=$((seed + 1))
	soak "d$round" 1 0x131 0x153 0x157 0x15d 0x186 0x15c 0x13e 0x176 0x17f 0x189 0x17e \
		0x17a 0x165 0x162 0x161
	log "TPM after round $round: $(ctl "d$round" handles | tr '\n' ' ')"
	daemon_stop "d$round" TERM
	[ "$DSTATUS" = 0 ] || fail "SIGTERM after the soak: exit status $DSTATUS"
	assert_stopped_cleanly "d$round"
done
log "pass"
