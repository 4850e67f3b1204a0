#!/usr/bin/env bash
# Sessions across tpm2-tools processes: seal data under a policy (PolicyPCR on sha256:0,23 +
# PolicyPassword, computed with a trial session whose file crosses processes), then unseal it
# with a policy session started in one process, satisfied in two more (policypcr,
# policypassword: each prints the session's policy digest, which must equal the trial's) and
# used by tpm2_unseal -p session:FILE+password in a fourth.  Refusals: a session missing a
# policy step, a wrong password, a changed PCR, a policy session used twice.  A salted HMAC
# session (encrypting parameters) used by three processes in turn; a stale copy of its file
# is refused, the current one still works.  Session files are flushed with
# tpm2_flushcontext FILE and must then be gone from the TPM.  The sealed object is noDA:
# the refused tries count no dictionary-attack failures.
. "$(dirname "$0")/lib.sh"
clients_setup fuse tools
daemon_start a

# saved_sessions: the TPM's saved sessions, as the control socket lists them.
saved_sessions() {
	ctl a handles | awk '$1 == "saved-session" { $1 = ""; print substr($0, 2) }'
}

# policy_session FILE STEPS: a policy session in FILE (one process), then each step in a
# process of its own: "pcr" (PolicyPCR sha256:0,23) or "password" (PolicyPassword).
# POLICY is set to the session's policy digest after the last step.
policy_session() {
	local file=$1 step
	shift
	tools a tpm2_startauthsession --policy-session -S "$file" || fail "tpm2_startauthsession --policy-session failed"
	POLICY=""
	for step in "$@"; do
		case $step in
		pcr) POLICY=$(tools a tpm2_policypcr -S "$file" -l sha256:0,23) || fail "tpm2_policypcr failed" ;;
		password) POLICY=$(tools a tpm2_policypassword -S "$file") || fail "tpm2_policypassword failed" ;;
		esac
	done
}

flush_session() {
	tools a tpm2_flushcontext "$1" || fail "tpm2_flushcontext $1 failed"
}

log "the policy, with a trial session whose file crosses three processes"
tools a tpm2_startauthsession -S trial.ctx || fail "tpm2_startauthsession (trial) failed"
tools a tpm2_policypcr -S trial.ctx -l sha256:0,23 -L pcr.policy >/dev/null || fail "tpm2_policypcr (trial) failed"
tools a tpm2_policypassword -S trial.ctx -L seal.policy >/dev/null || fail "tpm2_policypassword (trial) failed"
flush_session trial.ctx
pcr_policy=$(hex pcr.policy)
seal_policy=$(hex seal.policy)
[[ $seal_policy =~ ^[0-9a-f]{64}$ ]] && [ "$seal_policy" != "$pcr_policy" ] ||
	fail "trial policy digests: pcr $pcr_policy, pcr+password $seal_policy"

log "seal 48 random bytes under the policy and a password"
tools a tpm2_createprimary -C o -G ecc -c primary.ctx >/dev/null || fail "tpm2_createprimary failed"
head -c 48 /dev/urandom >secret
tools a tpm2_create -C primary.ctx -L seal.policy -p sealpw -a 'fixedtpm|fixedparent|noda' \
	-i secret -u seal.pub -r seal.priv >/dev/null || fail "tpm2_create (sealed data) failed"
tools a tpm2_load -C primary.ctx -u seal.pub -r seal.priv -c seal.ctx >/dev/null || fail "tpm2_load (sealed data) failed"

log "unseal: session started, policypcr, policypassword, unseal: four processes"
policy_session sess.ctx pcr password
[ "$POLICY" = "$seal_policy" ] || fail "the policy session's digest $POLICY is not the trial's $seal_policy"
[ -n "$(saved_sessions)" ] || fail "the policy session is not saved in the TPM between processes"
tools a tpm2_unseal -c seal.ctx -p session:sess.ctx+sealpw -o unsealed || fail "tpm2_unseal failed"
cmp -s unsealed secret || fail "unsealed data differs from what was sealed"
log "the same policy session again: its digest was reset by the unseal, refused"
tools_fail a '(0x99d)' "unseal with a used policy session" tpm2_unseal -c seal.ctx -p session:sess.ctx+sealpw
flush_session sess.ctx
[ -z "$(saved_sessions)" ] || fail "flushed session file, yet the TPM holds saved sessions: $(saved_sessions)"

log "refused: a session without policypassword; a wrong password"
policy_session s1.ctx pcr
[ "$POLICY" = "$pcr_policy" ] || fail "policypcr gave $POLICY, the trial $pcr_policy"
tools_fail a '(0x99d)' "unseal without policypassword" tpm2_unseal -c seal.ctx -p session:s1.ctx+sealpw
flush_session s1.ctx
policy_session s2.ctx pcr password
tools_fail a '(0x9a2)' "unseal with a wrong password" tpm2_unseal -c seal.ctx -p session:s2.ctx+wrongpw
flush_session s2.ctx

log "refused after PCR 23 changed; unsealed again once it is reset"
tools a tpm2_pcrextend "23:sha256=$(printf '%064d' 1)" || fail "tpm2_pcrextend failed"
policy_session s3.ctx pcr password
[ "$POLICY" != "$seal_policy" ] || fail "PCR 23 changed, yet the policy digest is the sealed one"
tools_fail a '(0x99d)' "unseal after a PCR changed" tpm2_unseal -c seal.ctx -p session:s3.ctx+sealpw
flush_session s3.ctx
tools a tpm2_pcrreset 23 || fail "tpm2_pcrreset 23 failed"
policy_session s4.ctx pcr password
tools a tpm2_unseal -c seal.ctx -p session:s4.ctx+sealpw -o unsealed2 || fail "tpm2_unseal after the PCR reset failed"
cmp -s unsealed2 secret || fail "unsealed data (after the PCR reset) differs from what was sealed"
flush_session s4.ctx

log "a salted HMAC session with parameter encryption, used by three processes in turn"
tools a tpm2_startauthsession --hmac-session -c primary.ctx -S hmac.ctx || fail "tpm2_startauthsession --hmac-session failed"
r1=$(tools a tpm2_getrandom -S hmac.ctx 16 --hex) || fail "tpm2_getrandom -S (1) failed"
cp hmac.ctx hmac.stale
tools a tpm2_create -C primary.ctx -P session:hmac.ctx -G ecc -u k.pub -r k.priv >/dev/null ||
	fail "tpm2_create with the HMAC session failed"
r2=$(tools a tpm2_getrandom -S hmac.ctx 16 --hex) || fail "tpm2_getrandom -S (2) failed"
[[ $r1 =~ ^[0-9a-f]{32}$ ]] && [[ $r2 =~ ^[0-9a-f]{32}$ ]] && [ "$r1" != "$r2" ] ||
	fail "tpm2_getrandom with the encrypting session gave '$r1' and '$r2'"
[ -s k.pub ] && [ -s k.priv ] || fail "tpm2_create with the HMAC session wrote no key"
log "a stale copy of the session file is refused; the current one still works"
tools_fail a '(0x1cb)' "a stale session context" tpm2_getrandom -S hmac.stale 16
tools a tpm2_getrandom -S hmac.ctx 16 --hex >/dev/null || fail "the session after a stale copy was tried"
flush_session hmac.ctx
[ -z "$(saved_sessions)" ] || fail "the TPM holds saved sessions: $(saved_sessions)"

finish a
