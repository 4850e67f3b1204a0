#!/usr/bin/env bash
# NV indices with tpm2-tools, one process per call: nvdefine an ordinary index with its own
# password, nvwrite it (index auth), nvread it back (owner auth) equal, a partial write at
# an offset read back by index auth, a wrong password refused (noDA), nvreadpublic showing
# the size and the written attribute; a counter index counts each increment.  Both are
# undefined again: no NV index is left.
. "$(dirname "$0")/lib.sh"
clients_setup fuse tools
daemon_start a

index=0x1500016
counter=0x1500017

log "nvdefine $index: 64 bytes, owner and index auth, noDA"
tools a tpm2_nvdefine "$index" -C o -s 64 -a 'ownerread|ownerwrite|authread|authwrite|no_da' \
	-p nvpw >define.yaml || fail "tpm2_nvdefine failed"
[ "$(yaml_field define.yaml nv-index)" = "$index" ] || fail "nvdefine: $(cat define.yaml)"
out=$(tools a tpm2_getcap handles-nv-index) || fail "tpm2_getcap handles-nv-index failed"
[ "$out" = "- $index" ] || fail "handles-nv-index lists '$out', not $index"
tools_fail a '(0x14a)' "nvread before any write" tpm2_nvread "$index" -C o -s 64

log "nvwrite (index auth), nvread (owner auth): the same 64 bytes"
head -c 64 /dev/urandom >data
tools a tpm2_nvwrite "$index" -C "$index" -P nvpw -i data || fail "tpm2_nvwrite failed"
tools a tpm2_nvread "$index" -C o -s 64 -o read || fail "tpm2_nvread failed"
cmp -s read data || fail "NV data read back differs from what was written"

log "a partial write at offset 10, read back by index auth"
printf 'tpmrm' >part
tools a tpm2_nvwrite "$index" -C o -i part --offset 10 || fail "tpm2_nvwrite --offset failed"
tools a tpm2_nvread "$index" -C "$index" -P nvpw -s 5 --offset 10 -o read.part || fail "tpm2_nvread --offset failed"
cmp -s read.part part || fail "the partial write reads back as '$(cat read.part)'"
tools a tpm2_nvread "$index" -C o -s 64 -o read.all || fail "tpm2_nvread failed"
{ head -c 10 data && cat part && tail -c +16 data; } >expected
cmp -s read.all expected || fail "the index is not the first write with the partial one over it"
tools_fail a '(0x9a2)' "nvread with a wrong password" tpm2_nvread "$index" -C "$index" -P wrongpw -s 5

log "nvreadpublic: size 64, written"
tools a tpm2_nvreadpublic "$index" >public.yaml || fail "tpm2_nvreadpublic failed"
[ "$(awk '$1 == "size:" { print $2 }' public.yaml)" = 64 ] || fail "nvreadpublic: $(cat public.yaml)"
grep -q 'friendly:.*written' public.yaml || fail "nvreadpublic: not written: $(cat public.yaml)"

log "a counter index: each increment counts one"
tools a tpm2_nvdefine "$counter" -C o -s 8 -a 'nt=counter|ownerread|ownerwrite|no_da' >/dev/null ||
	fail "tpm2_nvdefine (counter) failed"
tools a tpm2_nvincrement "$counter" -C o || fail "tpm2_nvincrement failed"
tools a tpm2_nvread "$counter" -C o -s 8 -o c1 || fail "tpm2_nvread (counter) failed"
tools a tpm2_nvincrement "$counter" -C o || fail "tpm2_nvincrement failed"
tools a tpm2_nvread "$counter" -C o -s 8 -o c2 || fail "tpm2_nvread (counter) failed"
[ $((16#$(hex c2))) = $((16#$(hex c1) + 1)) ] || fail "the counter went from $(hex c1) to $(hex c2)"

log "nvundefine both: no index left"
tools a tpm2_nvundefine "$index" -C o || fail "tpm2_nvundefine $index failed"
tools a tpm2_nvundefine "$counter" -C o || fail "tpm2_nvundefine $counter failed"
tools_fail a '(0x18b)' "nvread of an undefined index" tpm2_nvread "$index" -C o -s 8

finish a
