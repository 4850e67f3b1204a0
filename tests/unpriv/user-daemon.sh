#!/usr/bin/env bash
# The daemon as an ordinary user (issue 6, item 5), with two users this test creates:
# alice runs `tpmrm-cuse --fuse` (the mount goes through the setuid fusermount3) with her
# libtpms state in her home, detached as a CI job would, and serves her own clients; the
# node is hers (0600) by default.  Without --allow-other nobody else gets in, whatever
# --mode says: bob and even root get EACCES.  A SIGKILLed daemon's stale mount is recovered
# by alice's next daemon (fusermount3 -u -z).  --allow-other without user_allow_other in
# /etc/fuse.conf is refused before mounting, naming the file; with it, bob gets what --mode
# grants (0600: EACCES; 0660 and bob in alice's group: served).  alice's rootless container
# (unshare --user --map-root-user: its root is alice) is served without --allow-other.  The
# test runs in a private mount namespace with its own copy of /etc/fuse.conf bind-mounted
# over the real one, which stays untouched.
# shellcheck source=../daemon/lib.sh
. "$(dirname "$0")/../daemon/lib.sh"
# shellcheck source=unpriv-lib.sh
. "$(dirname "$0")/unpriv-lib.sh"
private_mount_ns "$@"
setup fuse tools
unpriv_setup
deadline 110
[ -x "$PY" ] || skip "no $PY"
command -v fusermount3 >/dev/null || skip "no fusermount3 (Debian: fuse3)"
[ -u "$(command -v fusermount3)" ] || skip "fusermount3 is not setuid root"
[ -f /etc/fuse.conf ] || skip "no /etc/fuse.conf to bind a test copy over"

alice="" bob=""
user_add alice
user_add bob -G "$alice" # alice's group: --mode 0660 is for him
user_binaries "$alice"
chmod 1777 "$T" || fail "chmod $T" # the users' daemons put node, pid file, socket beside lib.sh's
uid=$(id -u "$alice")
gid=$(id -g "$alice")
state=$T/home-alice/tpm-state
index=0x1500018

# /etc/fuse.conf as this test wants it, in this mount namespace only.
grep -Ev '^[[:space:]]*user_allow_other[[:space:]]*(#.*)?$' /etc/fuse.conf >"$T/fuse.conf"
chmod 0644 "$T/fuse.conf"
mount --bind "$T/fuse.conf" /etc/fuse.conf || fail "cannot bind-mount a copy over /etc/fuse.conf"

log "alice's daemon, detached, defaults: her node (0600), her state directory, no allow_other"
user_daemon_start_detached "$alice" a --backend "libtpms:$state"
[ "$DSTATUS" = 0 ] || fail "alice's detached daemon: exit status $DSTATUS: $(tail -n 5 "$(dlog a)")"
[ -n "${DPID[a]:-}" ] && alive "${DPID[a]}" || fail "alice's daemon is not running after a ready start"
[ "$(proc_uids "${DPID[a]}")" = "$uid $uid $uid $uid" ] ||
	fail "the daemon runs with uids $(proc_uids "${DPID[a]}"), not alice's $uid"
is_mounted "$(node a)" || fail "$(node a) is not mounted"
opts=$(mount_options "$(node a)")
[[ ,$opts, == *,user_id=$uid,* ]] || fail "mount options '$opts' lack user_id=$uid"
[[ ,$opts, != *,allow_other,* ]] || fail "allow_other without --allow-other: '$opts'"
[ "$(as_user "$alice" stat -c '%u:%g %a' "$(node a)")" = "$uid:$gid 600" ] ||
	fail "alice's node: $(as_user "$alice" stat -c '%u:%g %a' "$(node a)"), expected $uid:$gid 600"
hex=$(user_tools "$alice" a tpm2_getrandom 16 --hex) || fail "alice's tpm2_getrandom failed"
[[ $hex =~ ^[0-9a-f]{32}$ ]] || fail "tpm2_getrandom 16 --hex gave '$hex'"
user_tools "$alice" a tpm2_createprimary -C o -c "$T/home-alice/primary.ctx" >/dev/null ||
	fail "alice's tpm2_createprimary failed"
head -c 32 /dev/urandom >"$T/home-alice/nv.in" && chmod 0644 "$T/home-alice/nv.in"
user_tools "$alice" a tpm2_nvdefine "$index" -C o -s 32 -a "ownerread|ownerwrite" >/dev/null ||
	fail "alice's tpm2_nvdefine failed"
user_tools "$alice" a tpm2_nvwrite "$index" -C o -i "$T/home-alice/nv.in" || fail "tpm2_nvwrite failed"
for who in "$bob" root; do
	err=$(open_errno "$who" "$(node a)")
	[ "$err" = EACCES ] || fail "$who opening alice's 0600 node: $err, expected EACCES"
done
user_assert_tpm_empty "$alice" a
daemon_stop a TERM
assert_stopped_cleanly a
[ -n "$(find "$state" -type f)" ] || fail "no state files in $state"
[ -z "$(find "$state" ! -user "$alice")" ] ||
	fail "state files not alice's: $(find "$state" ! -user "$alice" -printf '%p %u\n')"

log "--mode 0666 without --allow-other: a warning, and still nobody but alice"
user_daemon_start "$alice" a --backend "libtpms:$state" --mode 0666
grep -q "without --allow-other no other user can open the node" "$(dlog a)" ||
	fail "no warning that --mode 0666 lets nobody else in: $(cat "$(dlog a)")"
[ "$(as_user "$alice" stat -c '%a' "$(node a)")" = 666 ] || fail "the node's mode is not 0666"
for who in "$bob" root; do
	err=$(open_errno "$who" "$(node a)")
	[ "$err" = EACCES ] || fail "$who opening alice's 0666 node without allow_other: $err, expected EACCES"
done
user_tools "$alice" a tpm2_nvread "$index" -C o -s 32 -o "$T/home-alice/nv.out" ||
	fail "tpm2_nvread after the restart failed"
cmp -s "$T/home-alice/nv.in" "$T/home-alice/nv.out" || fail "NV data changed across the restart"

if userns_usable as_user "$alice"; then
	log "alice's rootless container (its root is alice) uses her node without --allow-other"
	install -m 0755 "$UNPRIV_DIR/container.sh" "$T/bin/container.sh" || fail "cannot copy container.sh"
	as_user "$alice" mkdir -m 0700 "$T/home-alice/ctr" || fail "mkdir"
	before=$(stat_of a files_released)
	as_user "$alice" timeout 60 unshare --user --map-root-user --mount \
		"$BASH" "$T/bin/container.sh" bind "$(node a)" "$T/home-alice/ctr" ||
		fail "alice's rootless container failed"
	wait_spaces_released a
	[ "$(stat_of a files_released)" -ge $((before + 3)) ] ||
		fail "the container's tools did not reach alice's daemon"
else
	log "no rootless container: $USERNS_WHY"
fi

log "SIGKILL: alice's next daemon recovers the stale mount (fusermount3 -u -z)"
daemon_stop a KILL
is_mounted "$(node a)" || fail "no stale mount after SIGKILL: the test cannot show recovery"
err=$(as_user "$alice" stat "$(node a)" 2>&1) && fail "stat of the stale node succeeded: $err"
[[ $err == *"not connected"* ]] || fail "stat of the stale node: '$err', expected ENOTCONN"
cp "$(dlog a)" "$T/killed.log" && : >"$(dlog a)"
user_daemon_start "$alice" a --backend "libtpms:$state"
grep -q "recovering a stale mount" "$(dlog a)" || fail "the daemon did not say it recovered a stale mount"
[ "$(mount_layers "$(node a)")" = 1 ] ||
	fail "$(mount_layers "$(node a)") mounts at $(node a) after the recovery, expected 1"
hex=$(user_tools "$alice" a tpm2_getrandom 16 --hex) || fail "tpm2_getrandom after the recovery failed"
[[ $hex =~ ^[0-9a-f]{32}$ ]] || fail "tpm2_getrandom 16 --hex gave '$hex'"
user_tools "$alice" a tpm2_nvundefine "$index" -C o || fail "tpm2_nvundefine failed"
user_assert_tpm_empty "$alice" a
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a

log "--allow-other without user_allow_other in /etc/fuse.conf: refused before mounting"
refused() { # refused WHAT WORDS DAEMON-ARGS...: the daemon exits 2 naming WORDS, mounts nothing
	local what=$1 words=$2
	shift 2
	user_daemon_cmd "$alice" b "$@"
	timeout 20 "${DAEMON_ARGV[@]}" >"$(dlog b)" 2>&1
	DSTATUS=$?
	[ "$DSTATUS" = 2 ] || fail "$what: exit status $DSTATUS, expected 2: $(cat "$(dlog b)")"
	grep -qF -- "$words" "$(dlog b)" || fail "$what: the refusal does not say '$words': $(cat "$(dlog b)")"
	grep -q "fusermount3:" "$(dlog b)" && fail "the daemon tried fusermount3 anyway: $(cat "$(dlog b)")"
	! is_mounted "$(node b)" || fail "$what: the refused daemon mounted $(node b)"
	[ ! -e "$(pidf b)" ] || fail "$what: the refused daemon wrote a pid file"
}
refused "--allow-other -f" /etc/fuse.conf --allow-other -f
refused "--allow-other, detached" /etc/fuse.conf --allow-other
refused "--owner bob without --allow-other" "without --allow-other only the user running the daemon" \
	--owner "$bob" -f

log "--allow-other with user_allow_other: bob gets what --mode grants"
echo "user_allow_other" >>"$T/fuse.conf"
user_daemon_start "$alice" a --backend "libtpms:$state" --allow-other
[[ ,$(mount_options "$(node a)"), == *,allow_other,* ]] ||
	fail "no allow_other in the mount options: $(mount_options "$(node a)")"
err=$(open_errno "$bob" "$(node a)")
[ "$err" = EACCES ] || fail "bob opening alice's 0600 node with allow_other: $err, expected EACCES"
err=$(open_errno root "$(node a)")
[ "$err" = OK ] || fail "root opening alice's node with allow_other: $err"
daemon_stop a TERM
assert_stopped_cleanly a

user_daemon_start "$alice" a --backend "libtpms:$state" --allow-other --mode 0660
hex=$(user_tools "$bob" a tpm2_getrandom 16 --hex) || fail "bob's tpm2_getrandom on a 0660 node of his group failed"
[[ $hex =~ ^[0-9a-f]{32}$ ]] || fail "tpm2_getrandom 16 --hex gave '$hex'"
grep -q "uid $(id -u "$bob")," "$(dlog a)" || fail "the daemon did not log an open by bob"
user_tools "$bob" a tpm2_createprimary -C o -c "$T/home-bob/primary.ctx" >/dev/null ||
	fail "bob's tpm2_createprimary failed"
user_tools "$alice" a tpm2_createprimary -C o -c "$T/home-alice/primary.ctx" >/dev/null ||
	fail "alice's tpm2_createprimary beside bob failed"
user_assert_tpm_empty "$bob" a
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a
log "pass"
