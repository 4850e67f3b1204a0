#!/usr/bin/env bash
# --user USER, on the host (the CUSE side runs in a guest: vm-user.sh): refused with --fuse
# (a FUSE file must be unmounted by whoever mounted it), for a user that does not exist,
# and when not run as root; --help documents it.  And the FUSE node is 0600, owned by the
# user running the daemon, by default.
. "$(dirname "$0")/rob-lib.sh"
rob_setup fuse
deadline 40

# refused ARGS... -- MESSAGE: exit status 2 and MESSAGE on stderr, nothing mounted.
refused() {
	local args=() out status
	while [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	out=$(timeout 10 "$TPMRM_CUSE" "${args[@]}" -f 2>&1)
	status=$?
	[ "$status" = 2 ] || fail "tpmrm-cuse ${args[*]}: exit status $status, expected 2: $out"
	[[ $out == *"$2"* ]] || fail "tpmrm-cuse ${args[*]}: '$out' does not say '$2'"
}

"$TPMRM_CUSE" --help | grep -q -- '--user=USER' || fail "--help does not document --user"
refused --fuse "$(node x)" --user root -- "--user is for --cuse"
! is_mounted "$(node x)" || fail "a refused daemon mounted $(node x)"
refused --cuse rob-user-test --user no-such-user-rob -- "bad --user 'no-such-user-rob': no such user"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	out=$(timeout 10 setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		"$TPMRM_CUSE" --cuse rob-user-test --user nobody -f 2>&1)
	status=$?
	[ "$status" = 2 ] && [[ $out == *"--user needs root"* ]] ||
		fail "--user without root: exit status $status: $out"
else
	log "not root (or no setpriv, no user nobody): --user without root not tried"
fi

log "the FUSE node is 0600 and its owner's by default"
daemon_start a
[ "$(stat -c '%a %u' "$(node a)")" = "600 $(id -u)" ] ||
	fail "the node is $(stat -c '%a %u' "$(node a)"), expected 600 $(id -u)"
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
log "pass"
