#!/usr/bin/env bash
# The daemon on the host, its node bind-mounted into containers as /dev/tpmrm0 (the README's
# pattern (b)), with mount namespaces standing in for the container engine: a root daemon
# serves a FUSE node (--mode 0666); a rootful container (`unshare --mount`, as root) and a
# rootless one (`unshare --user --map-root-user --mount`, as a test user) each bind-mount it
# at their own /dev/tpmrm0 (on a tmpfs /dev, as podman and docker make it) and run tpm2-tools
# with no TCTI configured.  The daemon logs the opens under the container user's host uid
# and ends with nothing in the TPM.  With --mode 0600 the rootless container's user gets
# EACCES: the node's mode applies to containers as to any host user.  Nothing mounted in the
# containers shows on the host.  A restart of the host daemon under a running container: the
# container's bind of the node file keeps the dead mount (ENOTCONN), its recursive rslave bind
# of the node's (shared) directory sees the new daemon's node.  Runs in a private mount
# namespace of its own.
# shellcheck source=../daemon/lib.sh
. "$(dirname "$0")/../daemon/lib.sh"
# shellcheck source=unpriv-lib.sh
. "$(dirname "$0")/unpriv-lib.sh"
private_mount_ns "$@"
setup fuse tools
unpriv_setup
deadline 80
command -v unshare >/dev/null || skip "no unshare (Debian: util-linux)"
install -m 0755 "$UNPRIV_DIR/container.sh" "$T/bin/container.sh" || fail "cannot copy container.sh"

released() {
	stat_of host files_released
}

# container NAME CMD...: run container.sh (bind mode) through CMD, which makes the namespaces.
container() {
	local what=$1 before
	shift
	before=$(released)
	"$@" "$BASH" "$T/bin/container.sh" bind "$(node host)" "${CWORK}" ${CMODE:+"$CMODE"} ||
		fail "the $what container failed"
	wait_spaces_released host
	[ "$CMODE" = denied ] && return
	[ "$(released)" -ge $((before + 3)) ] ||
		fail "the $what container's tools did not reach the host daemon ($before, then $(released) released files)"
}

daemon_start host --mode 0666
log "a rootful container: unshare --mount, the host's node at /dev/tpmrm0"
mkdir -m 0700 "$T/rootful" || fail "mkdir"
CWORK=$T/rootful CMODE="" container rootful timeout 60 unshare --mount --propagation private
! is_mounted /dev/tpmrm0 || fail "the container's /dev/tpmrm0 shows on the host"

dave=""
user_add dave
if userns_usable as_user "$dave"; then
	log "a rootless container of $dave: unshare --user --map-root-user --mount"
	CWORK=$T/home-dave CMODE="" container rootless \
		as_user "$dave" timeout 60 unshare --user --map-root-user --mount
	grep -q "uid $(id -u "$dave")," "$(dlog host)" ||
		fail "the daemon did not log opens by $dave's uid $(id -u "$dave")"
	assert_tpm_empty host
	daemon_stop host TERM
	assert_stopped_cleanly host

	log "--mode 0600: the rootless container's user is refused (EACCES)"
	daemon_start host
	CWORK=$T/home-dave CMODE=denied container rootless \
		as_user "$dave" timeout 60 unshare --user --map-root-user --mount
else
	log "no rootless container: $USERNS_WHY"
fi
assert_tpm_empty host
daemon_stop host TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly host

log "the host daemon restarts under a running container: a bound file stays dead, a bound directory (rslave) follows"
mkdir "$T/share" "$T/follow" && mount --bind "$T/share" "$T/share" && mount --make-shared "$T/share" ||
	fail "cannot make $T/share a shared mount"
daemon_start share/h --mode 0666
start_helper unshare --mount --propagation unchanged \
	"$BASH" "$T/bin/container.sh" follow "$T/share" h.node "$T/follow"
[ "$HELPER_LINE" = ready ] || fail "the following container said '$HELPER_LINE'"
container=$HELPER_PID
daemon_stop share/h TERM
daemon_start share/h --mode 0666
helper_tell "$container" restarted
[ "$HELPER_LINE" = "file ENOTCONN, directory served" ] ||
	fail "after the restart the container has: '$HELPER_LINE', expected 'file ENOTCONN, directory served'"
kill_helper "$container"
assert_tpm_empty share/h
daemon_stop share/h TERM
assert_stopped_cleanly share/h
log "pass"
