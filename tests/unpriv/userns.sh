#!/usr/bin/env bash
# The daemon in a user namespace, as in a rootless container (issue 6, item 6; the README's
# pattern (a)): an ordinary user (one this test creates when run as root, else the caller)
# runs `unshare --user --map-root-user --mount`; inside, /dev is a tmpfs with host devices
# bound in, a file is bind-mounted at /dev/tpmrm0, and tpmrm-cuse --fuse /dev/tpmrm0 mounts
# over it by itself (mount(2) in the namespace: fusermount3 is covered by /bin/false);
# tpm2_getrandom, tpm2_createprimary and tpm2_readpublic find the node with no -T and no
# TPM2TOOLS_TCTI (tpm2-tss's default: tabrmd, then device:/dev/tpmrm0), the control socket
# says the daemon served them and the TPM holds nothing; SIGTERM stops it and unmounts.
# Skips (77) when user namespaces are disabled, saying which setting disables them.
# shellcheck source=../daemon/lib.sh
. "$(dirname "$0")/../daemon/lib.sh"
# shellcheck source=unpriv-lib.sh
. "$(dirname "$0")/unpriv-lib.sh"
setup fuse tools
unpriv_setup
deadline 80
command -v unshare >/dev/null || skip "no unshare (Debian: util-linux)"

carol=""
if [ "$(id -u)" = 0 ]; then
	user_add carol
	runas=(as_user "$carol")
	work=$T/home-carol
	user_binaries "$carol"
else # an ordinary user already: the test runs as itself
	runas=(env)
	work=$T/work
	mkdir -m 0700 "$work" || fail "mkdir $work"
	DAEMON=$TPMRM_CUSE UCTL=$CTL
fi
userns_usable "${runas[@]}" || skip "$USERNS_WHY"
if ldconfig -p 2>/dev/null | grep -q 'libtss2-tcti-tabrmd\.so'; then
	log "the tabrmd TCTI is installed: the container points D-Bus at nothing, so it fails fast"
fi
install -m 0755 "$UNPRIV_DIR/container.sh" "$T/bin/container.sh" || fail "cannot copy container.sh"

log "as $("${runas[@]}" id -un): unshare --user --map-root-user --mount, daemon inside on /dev/tpmrm0"
UNPRIV_PIDFILES+=("$work/d.pid")
"${runas[@]}" timeout 60 unshare --user --map-root-user --mount \
	"$BASH" "$T/bin/container.sh" daemon "$DAEMON" "$UCTL" "$work"
rc=$?
[ "$rc" = 0 ] || fail "the container part failed ($rc); daemon log: $(tail -n 20 "$work/daemon.log" 2>&1)"
grep -q "open /dev/tpmrm0: file .*, uid 0," "$work/daemon.log" ||
	fail "the daemon did not log opens by the namespace's root: $(cat "$work/daemon.log")"
[ -z "$(find "$work/state" ! -user "$("${runas[@]}" id -u)")" ] ||
	fail "state files in $work/state that are not the user's"
! is_mounted /dev/tpmrm0 || fail "the container's /dev/tpmrm0 mount is visible outside"
log "pass"
