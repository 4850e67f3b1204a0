#!/usr/bin/env bash
# tpm2-tools key workflows, one process per tool call as users work: a primary, a child
# created and loaded through context files across processes, readpublic; ECDSA and RSA
# (RSASSA, RSA-PSS) signatures checked by the TPM (verifysignature) and by OpenSSL, and
# refused when the message or the signature is altered; evictcontrol to a persistent handle
# (used by later processes) and back; flushcontext of transient objects in a fresh process;
# getcap handles-transient empty in a fresh process.  Ends with nothing left in the TPM.
. "$(dirname "$0")/lib.sh"
clients_setup fuse tools
daemon_start a

log "createprimary, create, load: three processes, context files between them"
tools a tpm2_createprimary -C o -G ecc -c primary.ctx >primary.yaml || fail "tpm2_createprimary failed"
[ "$(yaml_value primary.yaml type)" = ecc ] || fail "the primary is not an ECC key: $(cat primary.yaml)"
tools a tpm2_create -C primary.ctx -G ecc256:ecdsa-sha256 -u ecc.pub -r ecc.priv \
	-a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|noda' >/dev/null ||
	fail "tpm2_create with the primary's context file failed"
tools a tpm2_load -C primary.ctx -u ecc.pub -r ecc.priv -c ecc.ctx >load.out || fail "tpm2_load failed"
ecc_name=$(yaml_field load.out name)
[[ $ecc_name =~ ^000b[0-9a-f]{64}$ ]] || fail "tpm2_load printed name '$ecc_name'"

log "readpublic in a fresh process, by context file"
tools a tpm2_readpublic -c ecc.ctx -f pem -o ecc.pem >ecc.yaml || fail "tpm2_readpublic failed"
[ "$(yaml_field ecc.yaml name)" = "$ecc_name" ] ||
	fail "tpm2_readpublic shows another name than tpm2_load: $(head -n 1 ecc.yaml)"
[ "$(yaml_value ecc.yaml type)" = ecc ] || fail "readpublic: not an ECC key"
[[ $(yaml_value ecc.yaml attributes) == *sign* ]] || fail "readpublic: not a signing key"
grep -q 'BEGIN PUBLIC KEY' ecc.pem || fail "readpublic -f pem wrote no PEM key"

echo "tpmrm-cuse client test: the message" >msg
echo "tpmrm-cuse client test: another message" >msg.other

# check_signatures KEY.ctx KEY.pem SCHEME [OPENSSL_ARGS...]: a signature in the TPM's
# format verifies in the TPM, not for another message nor when altered; one in the plain
# format verifies with OpenSSL, not for another message.
check_signatures() {
	local key=$1 pem=$2 scheme=$3 s
	shift 3
	s=sig.$scheme
	tools a tpm2_sign -c "$key" -g sha256 -s "$scheme" -o "$s" msg || fail "tpm2_sign -s $scheme failed"
	tools a tpm2_verifysignature -c "$key" -g sha256 -m msg -s "$s" -t "$s.ticket" ||
		fail "a good $scheme signature does not verify in the TPM"
	[ -s "$s.ticket" ] || fail "tpm2_verifysignature wrote no ticket"
	tools_fail a '(0x2db)' "$scheme signature of another message" \
		tpm2_verifysignature -c "$key" -g sha256 -m msg.other -s "$s"
	cp "$s" "$s.bad" && flip_byte "$s.bad" -1
	cmp -s "$s" "$s.bad" && fail "flip_byte changed nothing"
	tools_fail a '(0x2db)' "altered $scheme signature" \
		tpm2_verifysignature -c "$key" -g sha256 -m msg -s "$s.bad"
	tools a tpm2_sign -c "$key" -g sha256 -s "$scheme" -f plain -o "$s.plain" msg ||
		fail "tpm2_sign -s $scheme -f plain failed"
	openssl dgst -sha256 -verify "$pem" "$@" -signature "$s.plain" msg >/dev/null ||
		fail "OpenSSL does not verify the TPM's $scheme signature"
	! openssl dgst -sha256 -verify "$pem" "$@" -signature "$s.plain" msg.other >/dev/null 2>&1 ||
		fail "OpenSSL verifies a $scheme signature for another message"
}

log "ECDSA: sign, verify in the TPM and with OpenSSL"
check_signatures ecc.ctx ecc.pem ecdsa

log "RSA-2048: create, load, sign (RSASSA and RSA-PSS), verify in the TPM and with OpenSSL"
tools a tpm2_create -C primary.ctx -G rsa2048 -u rsa.pub -r rsa.priv \
	-a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|noda' >/dev/null ||
	fail "tpm2_create -G rsa2048 failed"
tools a tpm2_load -C primary.ctx -u rsa.pub -r rsa.priv -c rsa.ctx >/dev/null || fail "tpm2_load (RSA) failed"
tools a tpm2_readpublic -c rsa.ctx -f pem -o rsa.pem >rsa.yaml || fail "tpm2_readpublic (RSA) failed"
[ "$(yaml_value rsa.yaml type)" = rsa ] && [ "$(yaml_field rsa.yaml bits)" = 2048 ] ||
	fail "readpublic: not an RSA-2048 key: $(cat rsa.yaml)"
check_signatures rsa.ctx rsa.pem rsassa
check_signatures rsa.ctx rsa.pem rsapss -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:auto
openssl dgst -sha256 -verify ecc.pem -signature sig.rsassa.plain msg >/dev/null 2>&1 &&
	fail "OpenSSL verifies an RSA signature with the ECC key"

log "evictcontrol: the primary to persistent handle 0x81000001, used by later processes"
persistent=0x81000001
tools a tpm2_evictcontrol -C o -c primary.ctx "$persistent" >evict.yaml || fail "tpm2_evictcontrol failed"
[ "$(yaml_field evict.yaml action)" = persisted ] || fail "evictcontrol: $(cat evict.yaml)"
out=$(tools a tpm2_getcap handles-persistent) || fail "tpm2_getcap handles-persistent failed"
[ "$out" = "- $persistent" ] || fail "handles-persistent lists '$out', not $persistent"
tools a tpm2_readpublic -c primary.ctx >primary.pub.yaml || fail "tpm2_readpublic of primary.ctx failed"
tools a tpm2_readpublic -c "$persistent" >persistent.yaml || fail "tpm2_readpublic $persistent failed"
[ "$(yaml_field persistent.yaml name)" = "$(yaml_field primary.pub.yaml name)" ] ||
	fail "the persistent object is not the primary"
tools a tpm2_load -C "$persistent" -u ecc.pub -r ecc.priv -c ecc2.ctx >load2.out ||
	fail "tpm2_load under the persistent parent failed"
[ "$(yaml_field load2.out name)" = "$ecc_name" ] || fail "the key loaded under $persistent has another name"
tools a tpm2_sign -c ecc2.ctx -g sha256 -f plain -o sig.persistent msg ||
	fail "tpm2_sign with a key under the persistent parent failed"
openssl dgst -sha256 -verify ecc.pem -signature sig.persistent msg >/dev/null ||
	fail "the signature by the key under the persistent parent does not verify"
tools a tpm2_evictcontrol -C o -c "$persistent" >evict2.yaml || fail "tpm2_evictcontrol (evict) failed"
[ "$(yaml_field evict2.yaml action)" = evicted ] || fail "evictcontrol: $(cat evict2.yaml)"
out=$(tools a tpm2_getcap handles-persistent) || fail "tpm2_getcap handles-persistent failed"
[ -z "$out" ] || fail "handles-persistent still lists '$out' after the eviction"
tools_fail a '(0x18b)' "readpublic of the evicted handle" tpm2_readpublic -c "$persistent"

log "flushcontext -t / -l in a fresh process: nothing of another process is touched"
tools a tpm2_flushcontext -t || fail "tpm2_flushcontext -t failed"
tools a tpm2_flushcontext -l || fail "tpm2_flushcontext -l failed"
tools a tpm2_sign -c ecc.ctx -g sha256 -f plain -o sig.after msg || fail "tpm2_sign after flushcontext failed"
openssl dgst -sha256 -verify ecc.pem -signature sig.after msg >/dev/null ||
	fail "the signature after flushcontext does not verify"

log "getcap handles-transient in a fresh process: empty"
out=$(tools a tpm2_getcap handles-transient) || fail "tpm2_getcap handles-transient failed"
[ -z "$out" ] || fail "a fresh process sees transient handles: '$out'"

finish a
