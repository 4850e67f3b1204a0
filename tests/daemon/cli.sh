#!/usr/bin/env bash
# The command line: --help, --version, the CUSE transport that is not there yet, bad
# options and bad --backend specs fail at start with a message naming what was wrong,
# leave nothing mounted and write no pid file.
. "$(dirname "$0")/lib.sh"
setup
deadline 50

# run_daemon OUT ARGS...: the daemon, bounded, stdout+stderr into $T/OUT; sets RC.
run_daemon() {
	local out=$1
	shift
	timeout 20 env --default-signal=INT,TERM "$TPMRM_CUSE" "$@" >"$T/$out" 2>&1
	RC=$?
	[ "$RC" != 124 ] || fail "tpmrm-cuse $* did not return within 20 s"
}

log "--help"
run_daemon help --help
[ "$RC" = 0 ] || fail "--help exited $RC"
for word in --fuse --backend --control --pid-file --mode --owner --response-timeout; do
	grep -q -- "$word" "$T/help" || fail "--help does not mention $word"
done

log "--version"
run_daemon version --version
[ "$RC" = 0 ] || fail "--version exited $RC"
grep -Eqx 'tpmrm-cuse [0-9]+\.[0-9]+\.[0-9]+' "$T/version" ||
	fail "--version printed '$(cat "$T/version")'"

# Where /dev/cuse exists the CUSE transport may start for real: that is for the VM tests.
if [ -e /dev/cuse ]; then
	log "skipping the CUSE check: /dev/cuse exists here"
else
	log "no transport (CUSE is the default) and --cuse NAME: not available, suggests --fuse"
	for args in "" "--cuse tpmrm-daemon-test-$$"; do
		rm -f "$T/cuse.pid"
		# shellcheck disable=SC2086
		run_daemon cuse --pid-file "$T/cuse.pid" $args
		if [ -s "$T/cuse.pid" ]; then # started after all: let cleanup stop it
			DPID[cuse]=$(cat "$T/cuse.pid")
			DETACHED[cuse]=1
		fi
		[ "$RC" != 0 ] || fail "tpmrm-cuse $args exited 0 without /dev/cuse"
		grep -q -- "--fuse" "$T/cuse" ||
			fail "tpmrm-cuse $args does not suggest --fuse: $(cat "$T/cuse")"
		grep -qi "cuse" "$T/cuse" || fail "tpmrm-cuse $args does not say CUSE is what is missing"
		[ ! -e "$T/cuse.pid" ] || fail "tpmrm-cuse $args wrote a pid file"
	done
	[ ! -e "/dev/tpmrm-daemon-test-$$" ] || fail "--cuse created /dev/tpmrm-daemon-test-$$"
fi

log "unknown option and stray argument"
run_daemon opt --fuse "$T/x.node" --no-such-option
[ "$RC" != 0 ] || fail "--no-such-option exited 0"
grep -q -- "--no-such-option" "$T/opt" || fail "unknown option not named: $(cat "$T/opt")"
run_daemon arg --fuse "$T/x.node" stray
[ "$RC" != 0 ] || fail "a stray argument exited 0"
grep -q "stray" "$T/arg" || fail "stray argument not named: $(cat "$T/arg")"

log "bad --backend specs, detached and in the foreground"
bad_specs=(bogus "libtpms:" "swtpm:localhost:99999" "swtpm:unix:$T/no-such.sock"
	"device:$T/no-such-tpm" "libtpms:/proc/no-such-dir")
for spec in "${bad_specs[@]}"; do
	for fg in "" -f; do
		rm -f "$T/x.pid"
		# shellcheck disable=SC2086
		run_daemon backend --fuse "$T/x.node" --pid-file "$T/x.pid" --control "$T/x.sock" \
			--backend "$spec" $fg
		[ "$RC" != 0 ] || fail "--backend '$spec' $fg started (exit 0)"
		grep -qF -- "$spec" "$T/backend" ||
			fail "--backend '$spec' $fg: the message does not name the spec: $(cat "$T/backend")"
		! is_mounted "$T/x.node" || fail "--backend '$spec' $fg left $T/x.node mounted"
		[ ! -e "$T/x.pid" ] || fail "--backend '$spec' $fg wrote a pid file"
		[ ! -e "$T/x.sock" ] || fail "--backend '$spec' $fg left a control socket"
	done
done
log "pass"
