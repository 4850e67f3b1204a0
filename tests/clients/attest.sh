#!/usr/bin/env bash
# Attestation with tpm2-tools, one process per call: an ECC EK (tpm2_createek) and an AK
# under it (tpm2_createak: a restricted signing key, created through a policy session on
# the EK), used by later processes through context files.  tpm2_quote of sha256:0,1,23 with
# a nonce, checked by tpm2_checkquote; refused for another nonce, another key, an altered
# signature, PCR values of another PCR state.  After PCR 23 is extended, a new quote
# reports the value computed here.  tpm2_certify of a key by the AK: the signature verifies
# with OpenSSL (not with the EK's key), the attestation names the certified key.
. "$(dirname "$0")/lib.sh"
clients_setup fuse tools
daemon_start a

log "createek, createak: context files, the AK's public key as PEM"
tools a tpm2_createek -c ek.ctx -G ecc -u ek.pub >/dev/null || fail "tpm2_createek failed"
tools a tpm2_createak -C ek.ctx -c ak.ctx -G ecc -g sha256 -s ecdsa -u ak.pem -f pem -n ak.name \
	>ak.yaml || fail "tpm2_createak failed"
grep -q 'BEGIN PUBLIC KEY' ak.pem || fail "tpm2_createak wrote no PEM key"
tools a tpm2_readpublic -c ak.ctx >ak.public.yaml || fail "tpm2_readpublic of the AK failed"
attributes=$(yaml_value ak.public.yaml attributes)
[[ $attributes == *restricted* && $attributes == *sign* ]] || fail "the AK is not a restricted signing key: $attributes"
[ "$(yaml_field ak.public.yaml name)" = "$(hex ak.name)" ] || fail "readpublic and createak disagree on the AK's name"

nonce=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
sel=sha256:0,1,23

log "quote $sel with a nonce; checkquote"
tools a tpm2_quote -c ak.ctx -l "$sel" -q "$nonce" -m q1.msg -s q1.sig -o q1.pcrs -g sha256 >/dev/null ||
	fail "tpm2_quote failed"
tools a tpm2_checkquote -u ak.pem -m q1.msg -s q1.sig -f q1.pcrs -g sha256 -q "$nonce" >/dev/null ||
	fail "tpm2_checkquote rejects a good quote"
log "checkquote refuses: another nonce, another key, an altered signature"
tools_fail a 'validating nonce' "checkquote with another nonce" \
	tpm2_checkquote -u ak.pem -m q1.msg -s q1.sig -f q1.pcrs -g sha256 -q 00112233
tools a tpm2_readpublic -c ek.ctx -f pem -o ek.pem >/dev/null || fail "tpm2_readpublic of the EK failed"
tools_fail a 'signed message with public key' "checkquote with the EK's public key" \
	tpm2_checkquote -u ek.pem -m q1.msg -s q1.sig -f q1.pcrs -g sha256 -q "$nonce"
cp q1.sig q1.sig.bad && flip_byte q1.sig.bad -1
tools_fail a 'signed message with public key' "checkquote of an altered signature" \
	tpm2_checkquote -u ak.pem -m q1.msg -s q1.sig.bad -f q1.pcrs -g sha256 -q "$nonce"

log "extend PCR 23: a new quote reports the expected value; the old quote with the new values is refused"
data=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
tools a tpm2_pcrextend "23:sha256=$data" || fail "tpm2_pcrextend failed"
expected=$({ head -c 32 /dev/zero && printf '%b' "$(echo "$data" | sed 's/../\\x&/g')"; } | sha256sum | cut -d' ' -f1)
tools a tpm2_quote -c ak.ctx -l "$sel" -q "$nonce" -m q2.msg -s q2.sig -o q2.pcrs -g sha256 >q2.yaml ||
	fail "tpm2_quote (after the extend) failed"
pcr23=$(awk '$1 == "23:" { print tolower($2) }' q2.yaml)
[ "$pcr23" = "0x$expected" ] || fail "the quote reports PCR 23 = $pcr23, expected 0x$expected"
tools a tpm2_checkquote -u ak.pem -m q2.msg -s q2.sig -f q2.pcrs -g sha256 -q "$nonce" >/dev/null ||
	fail "tpm2_checkquote rejects the second quote"
tools_fail a "failed to match quote's digest" "checkquote of the first quote with the new PCR values" \
	tpm2_checkquote -u ak.pem -m q1.msg -s q1.sig -f q2.pcrs -g sha256 -q "$nonce"
tools a tpm2_pcrreset 23 || fail "tpm2_pcrreset 23 failed"

log "certify a key with the AK: the signature verifies, the attestation names the key"
tools a tpm2_createprimary -C o -G ecc -c primary.ctx >/dev/null || fail "tpm2_createprimary failed"
tools a tpm2_create -C primary.ctx -G ecc -u key.pub -r key.priv >/dev/null || fail "tpm2_create failed"
tools a tpm2_load -C primary.ctx -u key.pub -r key.priv -c key.ctx >key.yaml || fail "tpm2_load failed"
tools a tpm2_certify -C ak.ctx -c key.ctx -g sha256 -o certify.attest -s certify.sig -f plain ||
	fail "tpm2_certify failed"
openssl dgst -sha256 -verify ak.pem -signature certify.sig certify.attest >/dev/null ||
	fail "OpenSSL does not verify the certification by the AK"
attest=$(hex certify.attest)
[[ $attest == ff5443478017* ]] || fail "not a TPM_ST_ATTEST_CERTIFY structure: ${attest:0:12}"
[[ $attest == *"$(yaml_field key.yaml name)"* ]] || fail "the attestation does not name the certified key"
openssl dgst -sha256 -verify ek.pem -signature certify.sig certify.attest >/dev/null 2>&1 &&
	fail "OpenSSL verifies the certification with the EK's key"

finish a
