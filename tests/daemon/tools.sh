#!/usr/bin/env bash
# tpm2-tools smoke test, one process per tool call as users work: objects travel between
# processes as context files, a session file too (I16), and nothing is left in the TPM
# afterwards.  Outputs are asserted, not only exit codes.
. "$(dirname "$0")/lib.sh"
setup fuse tools
deadline 50

daemon_start a
cd "$T" || fail "cd $T"

log "getrandom"
r1=$(tools a tpm2_getrandom 16 --hex) || fail "tpm2_getrandom failed"
r2=$(tools a tpm2_getrandom 16 --hex) || fail "tpm2_getrandom failed"
[[ $r1 =~ ^[0-9a-f]{32}$ ]] || fail "tpm2_getrandom 16 --hex gave '$r1'"
[ "$r1" != "$r2" ] || fail "two GetRandom(16) gave the same bytes"

# yaml_value FILE KEY: the "value:" under a top-level KEY in tpm2-tools' YAML output.
yaml_value() {
	awk -v k="$2:" '$1 == k { getline; print $2; exit }' "$1"
}

log "createprimary, create, load: three processes, context files between them"
tools a tpm2_createprimary -C o -G ecc -c primary.ctx >primary.yaml || fail "tpm2_createprimary failed"
[ "$(yaml_value primary.yaml type)" = ecc ] || fail "primary is not an ECC key: $(cat primary.yaml)"
[ -s primary.ctx ] || fail "no primary context file"
tools a tpm2_create -C primary.ctx -G ecc -u key.pub -r key.priv >create.yaml ||
	fail "tpm2_create with the primary's context file failed"
[ -s key.pub ] && [ -s key.priv ] || fail "tpm2_create wrote no key files"
tools a tpm2_load -C primary.ctx -u key.pub -r key.priv -c key.ctx >load.out ||
	fail "tpm2_load failed"
name=$(awk '$1 == "name:" { print $2 }' load.out)
[[ $name =~ ^000b[0-9a-f]{64}$ ]] || fail "tpm2_load printed name '$name'"

log "readpublic in a fresh process: the loaded key, by its context file"
tools a tpm2_readpublic -c key.ctx >readpublic.yaml || fail "tpm2_readpublic failed"
[ "$(awk '$1 == "name:" { print $2 }' readpublic.yaml)" = "$name" ] ||
	fail "tpm2_readpublic shows another name than tpm2_load: $(head -n 2 readpublic.yaml)"
[ "$(yaml_value readpublic.yaml type)" = ecc ] || fail "readpublic: not an ECC key"
[[ $(yaml_value readpublic.yaml attributes) == *sign* ]] || fail "readpublic: not a signing key"

log "sign, then verifysignature (good message: verifies; other message: does not)"
echo "tpmrm-cuse daemon test" >msg
echo "tpmrm-cuse daemon test, altered" >msg.bad
tools a tpm2_sign -c key.ctx -g sha256 -o sig msg || fail "tpm2_sign failed"
[ -s sig ] || fail "tpm2_sign wrote no signature"
tools a tpm2_verifysignature -c key.ctx -g sha256 -m msg -s sig -t ticket ||
	fail "a good ECDSA signature does not verify"
[ -s ticket ] || fail "verifysignature wrote no ticket"
tools a tpm2_verifysignature -c key.ctx -g sha256 -m msg.bad -s sig >bad.out 2>&1 &&
	fail "a signature verified against another message"
grep -qi '0x2db' bad.out || fail "bad signature: not TPM_RC_SIGNATURE: $(cat bad.out)"

log "a session file across processes (I16), then flushcontext of it"
tools a tpm2_startauthsession -S session.ctx || fail "tpm2_startauthsession failed"
out=$(tools a tpm2_getcap handles-saved-session) || fail "tpm2_getcap handles-saved-session failed"
[[ $out == *0x2000000* ]] || fail "the client-saved session is not in the TPM: '$out'"
tools a tpm2_flushcontext session.ctx || fail "tpm2_flushcontext session.ctx failed"
out=$(tools a tpm2_getcap handles-saved-session) || fail "tpm2_getcap failed"
[ -z "$out" ] || fail "the flushed session is still in the TPM: '$out'"
tools a tpm2_flushcontext -t || fail "tpm2_flushcontext -t in a fresh process failed"

log "getcap handles-transient in a fresh process: empty, even while another client holds an object"
out=$(tools a tpm2_getcap handles-transient) || fail "tpm2_getcap handles-transient failed"
[ -z "$out" ] || fail "a fresh process sees transient handles: '$out'"
start_helper "$CLIENTS" hold "$(node a)" session-object
holder=$HELPER_PID
helper_tell "$holder" go
[[ $HELPER_LINE == "held 0x02"* ]] || fail "holder said '$HELPER_LINE'"
out=$(tools a tpm2_getcap handles-transient) || fail "tpm2_getcap handles-transient failed"
[ -z "$out" ] || fail "a fresh process sees another client's object (I7): '$out'"
kill_helper "$holder"

log "nothing left in the TPM"
assert_tpm_empty a
daemon_stop a TERM
[ "$DSTATUS" = 0 ] || fail "SIGTERM: exit status $DSTATUS"
assert_stopped_cleanly a
log "pass"
