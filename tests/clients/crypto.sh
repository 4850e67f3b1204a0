#!/usr/bin/env bash
# tpm2-tools symmetric workflows, one process per tool call: tpm2_hash of a large file (a
# hash sequence: over a thousand commands on one sequence object) and of a small one, equal
# to sha256sum/sha384sum; tpm2_hmac with a keyedhash key, imported (so OpenSSL can check the
# HMAC, of a small input and, as a sequence, a 256 KiB one) and TPM-generated (the same HMAC in
# two processes); encryptdecrypt with an AES-128-CFB key: decrypt(encrypt(x)) == x, and
# encrypt(x) != x; with an imported AES key, equal to OpenSSL's AES-128-CFB.
. "$(dirname "$0")/lib.sh"
clients_setup fuse tools
daemon_start a

head -c 1048576 /dev/urandom >big || fail "cannot write a test file"
head -c 262144 big >mid # tpm2_hmac costs the tool 2 s of CPU per MiB
echo "tpmrm-cuse client test: a small message" >small
echo "tpmrm-cuse client test: another small message" >msg.other

# client_commands: the RM's count of client commands so far.
client_commands() {
	stat_of a client_commands
}

log "tpm2_hash of a 1 MiB file (a hash sequence) equals sha256sum and sha384sum"
before=$(client_commands)
digest=$(tools a tpm2_hash -g sha256 --hex big) || fail "tpm2_hash -g sha256 failed"
sent=$(($(client_commands) - before))
((sent >= 1024)) || fail "tpm2_hash sent $sent commands for 1 MiB: not a hash sequence"
[ "$digest" = "$(sha256sum big | cut -d' ' -f1)" ] || fail "tpm2_hash sha256 gave $digest, sha256sum differs"
digest=$(tools a tpm2_hash -g sha384 --hex big) || fail "tpm2_hash -g sha384 failed"
[ "$digest" = "$(sha384sum big | cut -d' ' -f1)" ] || fail "tpm2_hash sha384 gave $digest, sha384sum differs"
tools a tpm2_hash -g sha256 -o big.digest -t big.ticket big || fail "tpm2_hash -o -t failed"
[ "$(hex big.digest)" = "$(sha256sum big | cut -d' ' -f1)" ] || fail "tpm2_hash -o wrote another digest"
[ -s big.ticket ] || fail "tpm2_hash wrote no ticket"

log "tpm2_hash of a small file (one TPM2_Hash)"
digest=$(tools a tpm2_hash -g sha256 --hex small) || fail "tpm2_hash of a small file failed"
[ "$digest" = "$(sha256sum small | cut -d' ' -f1)" ] || fail "tpm2_hash of a small file differs from sha256sum"

tools a tpm2_createprimary -C o -G ecc -c primary.ctx >/dev/null || fail "tpm2_createprimary failed"

# openssl_hmac KEYFILE FILE: HMAC-SHA256 in hex.
openssl_hmac() {
	openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(hex "$1")" "$2" | awk '{ print $NF }'
}

log "tpm2_hmac with an imported keyedhash key: small input, and 256 KiB (an HMAC sequence)"
head -c 32 /dev/urandom >hmac.key
tools a tpm2_import -C primary.ctx -G hmac -i hmac.key -u hmac.pub -r hmac.priv >hmac.yaml ||
	fail "tpm2_import -G hmac failed"
[ "$(yaml_value hmac.yaml type)" = keyedhash ] || fail "the imported key is not a keyedhash key"
tools a tpm2_load -C primary.ctx -u hmac.pub -r hmac.priv -c hmac.ctx >/dev/null || fail "tpm2_load (HMAC key) failed"
mac=$(tools a tpm2_hmac -c hmac.ctx -g sha256 --hex small) || fail "tpm2_hmac (small) failed"
[ "$mac" = "$(openssl_hmac hmac.key small)" ] || fail "tpm2_hmac of a small input differs from OpenSSL's: $mac"
before=$(client_commands)
mac=$(tools a tpm2_hmac -c hmac.ctx -g sha256 --hex mid) || fail "tpm2_hmac (256 KiB) failed"
sent=$(($(client_commands) - before))
((sent >= 256)) || fail "tpm2_hmac sent $sent commands for 256 KiB: not an HMAC sequence"
[ "$mac" = "$(openssl_hmac hmac.key mid)" ] || fail "tpm2_hmac of 256 KiB differs from OpenSSL's: $mac"

log "tpm2_hmac with a TPM-generated keyedhash key: the same HMAC in two processes"
tools a tpm2_create -C primary.ctx -G hmac -u gen.pub -r gen.priv >/dev/null || fail "tpm2_create -G hmac failed"
tools a tpm2_load -C primary.ctx -u gen.pub -r gen.priv -c gen.ctx >/dev/null || fail "tpm2_load (generated HMAC key) failed"
mac1=$(tools a tpm2_hmac -c gen.ctx -g sha256 --hex small) || fail "tpm2_hmac (generated key) failed"
mac2=$(tools a tpm2_hmac -c gen.ctx -g sha256 --hex small) || fail "tpm2_hmac (generated key, again) failed"
[[ $mac1 =~ ^[0-9a-f]{64}$ ]] || fail "tpm2_hmac printed '$mac1'"
[ "$mac1" = "$mac2" ] || fail "the same key and input gave two HMACs: $mac1 $mac2"
[ "$mac1" != "$(openssl_hmac hmac.key small)" ] || fail "two different keys gave the same HMAC"
mac3=$(tools a tpm2_hmac -c gen.ctx -g sha256 --hex msg.other) || fail "tpm2_hmac (generated key, other input) failed"
[ "$mac3" != "$mac1" ] || fail "two inputs gave the same HMAC"

log "encryptdecrypt with a TPM-generated AES-128-CFB key: decrypt(encrypt(x)) == x != encrypt(x)"
head -c 3000 /dev/urandom >plain
head -c 16 /dev/urandom >iv
tools a tpm2_create -C primary.ctx -G aes128cfb -u aes.pub -r aes.priv \
	-a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt|sign|noda' >/dev/null ||
	fail "tpm2_create -G aes128cfb failed"
tools a tpm2_load -C primary.ctx -u aes.pub -r aes.priv -c aes.ctx >/dev/null || fail "tpm2_load (AES key) failed"
tools a tpm2_encryptdecrypt -c aes.ctx --iv iv -o enc plain || fail "tpm2_encryptdecrypt (encrypt) failed"
[ "$(stat -c %s enc)" = 3000 ] || fail "3000 bytes encrypted to $(stat -c %s enc)"
! cmp -s enc plain || fail "encrypting changed nothing"
tools a tpm2_encryptdecrypt -d -c aes.ctx --iv iv -o dec enc || fail "tpm2_encryptdecrypt -d failed"
cmp -s dec plain || fail "decrypt(encrypt(x)) != x"
head -c 16 /dev/zero >iv.other
tools a tpm2_encryptdecrypt -d -c aes.ctx --iv iv.other -o dec.other enc || fail "tpm2_encryptdecrypt -d (other IV) failed"
! cmp -s dec.other plain || fail "decrypting with another IV gave the plaintext"

log "encryptdecrypt with an imported AES key equals OpenSSL's AES-128-CFB"
head -c 16 /dev/urandom >aes.key
tools a tpm2_import -C primary.ctx -G aes -i aes.key -u imp.pub -r imp.priv >/dev/null || fail "tpm2_import -G aes failed"
tools a tpm2_load -C primary.ctx -u imp.pub -r imp.priv -c imp.ctx >/dev/null || fail "tpm2_load (imported AES key) failed"
tools a tpm2_encryptdecrypt -c imp.ctx -G cfb --iv iv -o enc.imp plain || fail "tpm2_encryptdecrypt (imported key) failed"
openssl enc -aes-128-cfb -K "$(hex aes.key)" -iv "$(hex iv)" -in plain -out enc.openssl ||
	fail "openssl enc failed"
cmp -s enc.imp enc.openssl || fail "the TPM's AES-128-CFB differs from OpenSSL's"

finish a
