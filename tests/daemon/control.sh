#!/usr/bin/env bash
# The control socket (cuse/control.h), which the other tests trust for "nothing left in
# the TPM": mode 0600; wait-spaces waits for open files and times out; stats counts;
# bad requests get "error ..."; and `handles` must list a session that a client holds
# (between commands the RM keeps it as a saved context, which the TPM lists with its
# HMAC/policy session handle, 0x02xxxxxx or 0x03xxxxxx).
. "$(dirname "$0")/lib.sh"
setup fuse
deadline 50

daemon_start a
[ -S "$(sock a)" ] || fail "no control socket at $(sock a)"
[ "$(stat -c %a "$(sock a)")" = 600 ] || fail "control socket mode $(stat -c %a "$(sock a)"), expected 600"

log "bad requests"
out=$(ctl a "no-such-request") || fail "no reply to an unknown request"
[[ $out == "error "* ]] || fail "unknown request answered '$out'"
out=$(ctl a "wait-spaces x") || fail "no reply to a malformed wait-spaces"
[[ $out == "error "* ]] || fail "malformed wait-spaces answered '$out'"

log "a client holding a session and an object"
start_helper "$CLIENTS" hold "$(node a)" session-object
holder=$HELPER_PID
helper_tell "$holder" go
[[ $HELPER_LINE == "held 0x"* ]] || fail "holder said '$HELPER_LINE'"
session=${HELPER_LINE#held }

log "wait-spaces: times out while the client is open"
start=$(date +%s%N)
out=$(ctl a "wait-spaces 0 300") || fail "no reply to wait-spaces"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[ "$out" = "timeout 1" ] || fail "wait-spaces 0 300 with one file open answered '$out'"
[ "$elapsed_ms" -ge 250 ] || fail "wait-spaces 0 300 answered after $elapsed_ms ms"
out=$(ctl a "wait-spaces 1 5000") || fail "no reply to wait-spaces"
[ "$out" = "ok 1" ] || fail "wait-spaces 1 5000 with one file open answered '$out'"

log "stats"
[ "$(stat_of a files_open)" = 1 ] || fail "stats files_open $(stat_of a files_open), expected 1"
[ "$(stat_of a client_commands)" -ge 2 ] || fail "stats client_commands $(stat_of a client_commands)"

log "handles lists the held session, and no transient object (I7)"
out=$(ctl a handles) || fail "no reply to handles"
transient=$(echo "$out" | awk '$1 == "transient" { $1 = ""; print }')
[ -z "${transient// /}" ] || fail "transient objects resident between commands:$transient"
sessions=$(echo "$out" | awk '$1 ~ /-session$/ { $1 = ""; print }' | tr -s ' \n' ' ')
kill_helper "$holder"
[[ " $sessions " == *" $session "* ]] ||
	fail "handles does not list the session $session a client holds: '$(echo "$out" | tr '\n' ';')'"

log "after the client is gone: wait-spaces ok 0 and the session is gone"
assert_tpm_empty a
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a
log "pass"
