#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""tpm2-pytss (ESAPI) workflows through a tpmrm node.

    /usr/bin/python3 pytss.py NODE WORKDIR

Debian's python3-tpm2-pytss 1.2.0 over tpm2-tss's device TCTI: keys (CreatePrimary ECC and
RSA, Create, Load), signatures checked by the TPM (VerifySignature) and by the cryptography
module, an HMAC session (salted and bound) and a policy session (salted), both with AES-128-CFB
parameter encryption, on NV_Write/NV_Read and Unseal, NV define/write/read/undefine,
ContextSave/ContextLoad of an object (in the same and in a second ESAPI context) and of a
session handed to a second process.  Parameter encryption is checked on the wire: the
commands go through tpm2-tss's pcap TCTI, and the capture must not hold the secrets (while it
does hold a value written in the clear).  Every check asserts a result.  The caller (pytss.sh)
checks afterwards that nothing is left in the TPM.

Exit status: 0 pass, 1 fail, 77 skip.
"""
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import time

try:
    import tpm2_pytss
    from tpm2_pytss import (ESAPI, ESYS_TR, TPM2_ALG, TPM2_CAP, TPM2_CC, TPM2_HT,
                            TPM2_RC, TPM2_RH, TPM2_SE, TPM2_ST, TPM2B_DIGEST,
                            TPM2B_NV_PUBLIC, TPM2B_PUBLIC, TPM2B_SENSITIVE_CREATE,
                            TPMA_NV, TPMA_OBJECT, TPMA_SESSION, TPMS_CONTEXT,
                            TPMS_NV_PUBLIC, TPMS_SENSITIVE_CREATE, TPMT_PUBLIC,
                            TPMT_SIG_SCHEME, TPMT_SYM_DEF, TPMT_TK_HASHCHECK,
                            TSS2_Exception)
    from tpm2_pytss.TCTILdr import TCTILdr
except ImportError as e:
    print(f"SKIP: pytss: tpm2-pytss is not importable by {sys.executable}: {e} "
          "(Debian: python3-tpm2-pytss)", file=sys.stderr)
    sys.exit(77)

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
except ImportError:
    InvalidSignature = None

AES128CFB = TPMT_SYM_DEF(algorithm=TPM2_ALG.AES)
AES128CFB.keyBits.aes = 128
AES128CFB.mode.aes = TPM2_ALG.CFB
NO_SYM = TPMT_SYM_DEF(algorithm=TPM2_ALG.NULL)
NV_INDEX = 0x01500017
CHILD_TIMEOUT_S = 60


class Failure(Exception):
    pass


def log(msg):
    print(f"# {msg}", flush=True)


def check(cond, what):
    if not cond:
        raise Failure(what)


def expect_rc(rc, fn, *args, **kwargs):
    """fn(*args) must fail with TPM error rc (handle, parameter and session stripped)."""
    try:
        fn(*args, **kwargs)
    except TSS2_Exception as e:
        check(e.error == rc, f"{fn.__name__} failed with {e} (0x{e.rc:x}), expected "
              f"{TPM2_RC(rc)!s}")
        return
    raise Failure(f"{fn.__name__} succeeded, expected {TPM2_RC(rc)!s}")


class Tpm:
    """One ESAPI context over its own open of the node (one tpmrm space)."""

    def __init__(self, node, pcap=None):
        if pcap:
            os.environ["TCTI_PCAP_FILE"] = pcap
            self.tcti = TCTILdr("pcap", f"device:{node}")
        else:
            self.tcti = TCTILdr("device", node)
        self.esapi = ESAPI(self.tcti)

    def __enter__(self):
        return self.esapi

    def __exit__(self, *exc):
        self.esapi.close()
        self.tcti.close()


def storage_primary(ectx, alg):
    """A restricted decryption key under the owner hierarchy (a parent and a salt key)."""
    handle, public, _, _, _ = ectx.create_primary(TPM2B_SENSITIVE_CREATE(), alg)
    check(public.publicArea.objectAttributes & TPMA_OBJECT.RESTRICTED, "primary not restricted")
    check(public.publicArea.objectAttributes & TPMA_OBJECT.DECRYPT, "primary cannot decrypt")
    return handle, public


def signing_key(ectx, parent, alg):
    attrs = (TPMA_OBJECT.SIGN_ENCRYPT | TPMA_OBJECT.FIXEDTPM | TPMA_OBJECT.FIXEDPARENT
             | TPMA_OBJECT.SENSITIVEDATAORIGIN | TPMA_OBJECT.USERWITHAUTH)
    template = TPM2B_PUBLIC(publicArea=TPMT_PUBLIC.parse(alg, objectAttributes=attrs))
    private, public, _, _, _ = ectx.create(parent, TPM2B_SENSITIVE_CREATE(), template)
    handle = ectx.load(parent, private, public)
    check(bytes(ectx.tr_get_name(handle)) == bytes(public.get_name()),
          "the loaded key's name differs from its public area's")
    return handle, public


def tpm_sign(ectx, key, digest):
    ticket = TPMT_TK_HASHCHECK(tag=TPM2_ST.HASHCHECK, hierarchy=TPM2_RH.NULL)
    return ectx.sign(key, TPM2B_DIGEST(digest), TPMT_SIG_SCHEME(scheme=TPM2_ALG.NULL), ticket)


def software_verify(public, signature, message):
    """The cryptography module's view of a TPM signature over message (SHA-256)."""
    key = serialization.load_pem_public_key(public.publicArea.to_pem())
    if signature.sigAlg == TPM2_ALG.ECDSA:
        r = int.from_bytes(bytes(signature.signature.ecdsa.signatureR), "big")
        s = int.from_bytes(bytes(signature.signature.ecdsa.signatureS), "big")
        key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    elif signature.sigAlg == TPM2_ALG.RSASSA:
        key.verify(bytes(signature.signature.rsassa.sig), message, padding.PKCS1v15(),
                   hashes.SHA256())
    else:
        raise Failure(f"unexpected signature algorithm {signature.sigAlg}")


def check_signature(ectx, key, public, what):
    message = os.urandom(100)
    digest = hashlib.sha256(message).digest()
    signature = tpm_sign(ectx, key, digest)
    ticket = ectx.verify_signature(key, TPM2B_DIGEST(digest), signature)
    check(ticket.tag == TPM2_ST.VERIFIED, f"{what}: VerifySignature ticket tag {ticket.tag}")
    other = hashlib.sha256(message + b"!").digest()
    expect_rc(TPM2_RC.SIGNATURE, ectx.verify_signature, key, TPM2B_DIGEST(other), signature)
    if InvalidSignature is None:
        return
    software_verify(public, signature, message)
    try:
        software_verify(public, signature, message + b"!")
    except InvalidSignature:
        return
    raise Failure(f"{what}: cryptography accepted the signature over another message")


def test_keys_and_signatures(node):
    for parent_alg, alg, sig_alg in (("ecc256:aes128cfb", "ecc256:ecdsa-sha256", TPM2_ALG.ECDSA),
                                     ("rsa2048:aes128cfb", "rsa2048:rsassa-sha256",
                                      TPM2_ALG.RSASSA)):
        with Tpm(node) as ectx:
            parent, _ = storage_primary(ectx, parent_alg)
            key, public = signing_key(ectx, parent, alg)
            check(public.publicArea.parameters.asymDetail.scheme.scheme == sig_alg,
                  f"{alg}: scheme {public.publicArea.parameters.asymDetail.scheme.scheme}")
            check_signature(ectx, key, public, alg)
            ectx.flush_context(key)
            ectx.flush_context(parent)
        log(f"{parent_alg} primary, {alg} key: Sign, VerifySignature"
            f"{'' if InvalidSignature is None else ', cryptography'} agree")


def transient_count(ectx):
    _, data = ectx.get_capability(TPM2_CAP.HANDLES, TPM2_HT.TRANSIENT << 24, 16)
    return data.data.handles.count


def test_object_context(node):
    with Tpm(node) as ectx:
        parent, _ = storage_primary(ectx, "ecc256:aes128cfb")
        key, public = signing_key(ectx, parent, "ecc256:ecdsa-sha256")
        blob = ectx.context_save(key).marshal()
        ectx.flush_context(key)
        check(transient_count(ectx) == 1, "after the flush the space still lists 2 objects")
        saved, _ = TPMS_CONTEXT.unmarshal(blob)
        key = ectx.context_load(saved)
        check(bytes(ectx.tr_get_name(key)) == bytes(public.get_name()),
              "ContextLoad gave an object of another name")
        check_signature(ectx, key, public, "reloaded key")
        with Tpm(node) as other:
            check(transient_count(other) == 0, "a new space sees the first space's objects")
            again = other.context_load(TPMS_CONTEXT.unmarshal(blob)[0])
            check(transient_count(other) == 1, "the second space does not list 1 object")
            check_signature(other, again, public, "key loaded in a second space")
            check(transient_count(ectx) == 2, "the first space does not list its 2 objects")
        ectx.flush_context(key)
        ectx.flush_context(parent)
    log("object ContextSave, FlushContext, ContextLoad in the same and in a second space")


def pcap_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def test_nv_hmac_session(node, work):
    capture = os.path.join(work, "nv.pcap")
    secret, clear = os.urandom(32), os.urandom(32)
    with Tpm(node, pcap=capture) as ectx:
        salt_key, _ = storage_primary(ectx, "ecc256:aes128cfb")
        attrs = TPMA_NV.AUTHREAD | TPMA_NV.AUTHWRITE | TPMA_NV.NO_DA
        public = TPM2B_NV_PUBLIC(nvPublic=TPMS_NV_PUBLIC(nvIndex=NV_INDEX,
                                                         nameAlg=TPM2_ALG.SHA256,
                                                         attributes=attrs, dataSize=32))
        nv = ectx.nv_define_space(b"nv-auth", public)
        try:
            ectx.tr_set_auth(nv, b"nv-auth")
            sess = ectx.start_auth_session(salt_key, nv, TPM2_SE.HMAC, AES128CFB,
                                           TPM2_ALG.SHA256)
            ectx.trsess_set_attributes(sess, TPMA_SESSION.CONTINUESESSION
                                       | TPMA_SESSION.DECRYPT | TPMA_SESSION.ENCRYPT)
            ectx.nv_write(nv, secret, 0, nv, session1=sess)
            check(bytes(ectx.nv_read(nv, 32, 0, nv, session1=sess)) == secret,
                  "NV_Read through the encrypting session gave other bytes")
            written = ectx.nv_read_public(nv)[0].nvPublic.attributes
            check(written & TPMA_NV.WRITTEN, "the index is not marked written")
            ectx.flush_context(sess)
            ectx.tr_set_auth(nv, b"wrong")
            expect_rc(TPM2_RC.BAD_AUTH, ectx.nv_read, nv, 32, 0, nv)
            ectx.tr_set_auth(nv, b"nv-auth")
            ectx.nv_write(nv, clear, 0, nv)  # password session: in the clear
            check(bytes(ectx.nv_read(nv, 32, 0, nv)) == clear, "plain NV_Read gave other bytes")
        finally:
            ectx.nv_undefine_space(nv)
        ectx.flush_context(salt_key)
    wire = pcap_bytes(capture)
    check(clear in wire, "the pcap TCTI did not capture a value written in the clear")
    check(secret not in wire, "the NV secret crossed the node unencrypted")
    log("NV define, write, read, undefine; salted bound HMAC session, AES-128-CFB both ways")


def policy_digest(ectx):
    """PolicyAuthValue + PolicyCommandCode(Unseal), computed in a trial session."""
    trial = ectx.start_auth_session(ESYS_TR.NONE, ESYS_TR.NONE, TPM2_SE.TRIAL, NO_SYM,
                                    TPM2_ALG.SHA256)
    ectx.policy_auth_value(trial)
    ectx.policy_command_code(trial, TPM2_CC.Unseal)
    digest = bytes(ectx.policy_get_digest(trial))
    ectx.flush_context(trial)
    return digest


def sealed_object(ectx, parent, secret, auth, policy=b"", session=ESYS_TR.PASSWORD):
    """Seal secret under parent; session authorises Create (and may encrypt the secret)."""
    attrs = TPMA_OBJECT.FIXEDTPM | TPMA_OBJECT.FIXEDPARENT | TPMA_OBJECT.NODA
    if not policy:
        attrs |= TPMA_OBJECT.USERWITHAUTH
    template = TPM2B_PUBLIC(publicArea=TPMT_PUBLIC(type=TPM2_ALG.KEYEDHASH,
                                                   nameAlg=TPM2_ALG.SHA256,
                                                   objectAttributes=attrs,
                                                   authPolicy=policy))
    template.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG.NULL
    sensitive = TPM2B_SENSITIVE_CREATE(sensitive=TPMS_SENSITIVE_CREATE(userAuth=auth,
                                                                       data=secret))
    private, public, _, _, _ = ectx.create(parent, sensitive, template, session1=session)
    handle = ectx.load(parent, private, public)
    ectx.tr_set_auth(handle, auth)
    return handle


def policy_session(ectx, salt_key, commands=True):
    sess = ectx.start_auth_session(salt_key, ESYS_TR.NONE, TPM2_SE.POLICY, AES128CFB,
                                   TPM2_ALG.SHA256)
    ectx.trsess_set_attributes(sess, TPMA_SESSION.CONTINUESESSION | TPMA_SESSION.ENCRYPT)
    if commands:
        ectx.policy_auth_value(sess)
        ectx.policy_command_code(sess, TPM2_CC.Unseal)
    return sess


def test_policy_unseal(node, work):
    capture = os.path.join(work, "unseal.pcap")
    secret = os.urandom(32)
    with Tpm(node, pcap=capture) as ectx:
        salt_key, _ = storage_primary(ectx, "rsa2048:aes128cfb")
        digest = policy_digest(ectx)
        # Create's inSensitive carries the secret: encrypt it too (salted HMAC session).
        sess = ectx.start_auth_session(salt_key, ESYS_TR.NONE, TPM2_SE.HMAC, AES128CFB,
                                       TPM2_ALG.SHA256)
        ectx.trsess_set_attributes(sess, TPMA_SESSION.DECRYPT)  # ends with the command
        sealed = sealed_object(ectx, salt_key, secret, b"seal-auth", digest, sess)
        expect_rc(TPM2_RC.AUTH_UNAVAILABLE, ectx.unseal, sealed)  # no userWithAuth

        sess = policy_session(ectx, salt_key, commands=False)
        expect_rc(TPM2_RC.POLICY_FAIL, ectx.unseal, sealed, session1=sess)
        ectx.flush_context(sess)

        sess = policy_session(ectx, salt_key)
        check(bytes(ectx.policy_get_digest(sess)) == digest, "policy digests differ")
        check(bytes(ectx.unseal(sealed, session1=sess)) == secret, "Unseal gave other bytes")
        ectx.flush_context(sess)

        ectx.tr_set_auth(sealed, b"wrong")
        sess = policy_session(ectx, salt_key)
        expect_rc(TPM2_RC.BAD_AUTH, ectx.unseal, sealed, session1=sess)
        ectx.flush_context(sess)
        ectx.flush_context(sealed)
        ectx.flush_context(salt_key)
    check(secret not in pcap_bytes(capture), "the sealed secret crossed the node unencrypted")
    log("sealed to PolicyAuthValue+PolicyCommandCode; salted policy session, Unseal encrypted")


def saved_sessions(ectx):
    _, data = ectx.get_capability(TPM2_CAP.HANDLES, TPM2_HT.SAVED_SESSION << 24, 16)
    return list(data.data.handles.handle)[:data.data.handles.count]


def run_child(node, work, handover):
    """A second process (its own ESAPI, its own space) that takes over the session."""
    path = os.path.join(work, "handover.json")
    with open(path, "w") as f:
        json.dump(handover, f)
    try:
        done = subprocess.run([sys.executable, __file__, node, work, "--child", path],
                              capture_output=True, text=True, timeout=CHILD_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        raise Failure(f"the child process took longer than {CHILD_TIMEOUT_S} s") from None
    sys.stderr.write(done.stderr)
    check(done.returncode == 0, f"the child process failed ({done.returncode})")
    return done.stdout.strip()


def child(node, path):
    """--child: ContextLoad the object and the session, Unseal, print the data in hex.
    The session is left loaded: the RM flushes it when this process's file is released."""
    with open(path) as f:
        handover = json.load(f)
    with Tpm(node) as ectx:
        sealed = ectx.context_load(TPMS_CONTEXT.unmarshal(bytes.fromhex(handover["object"]))[0])
        sess = ectx.context_load(TPMS_CONTEXT.unmarshal(bytes.fromhex(handover["session"]))[0])
        ectx.tr_set_auth(sealed, handover["auth"].encode())
        ectx.trsess_set_attributes(sess, TPMA_SESSION.CONTINUESESSION | TPMA_SESSION.ENCRYPT)
        print(bytes(ectx.unseal(sealed, session1=sess)).hex())
        ectx.flush_context(sealed)
    return 0


def test_session_handover(node, work):
    secret = os.urandom(32)
    with Tpm(node) as ectx:
        salt_key, _ = storage_primary(ectx, "ecc256:aes128cfb")
        sealed = sealed_object(ectx, salt_key, secret, b"handover-auth")
        sess = ectx.start_auth_session(salt_key, ESYS_TR.NONE, TPM2_SE.HMAC, AES128CFB,
                                       TPM2_ALG.SHA256)
        ectx.trsess_set_attributes(sess, TPMA_SESSION.CONTINUESESSION | TPMA_SESSION.ENCRYPT)
        check(bytes(ectx.unseal(sealed, session1=sess)) == secret, "Unseal gave other bytes")
        before = saved_sessions(ectx)
        handover = {"object": ectx.context_save(sealed).marshal().hex(),
                    "session": ectx.context_save(sess).marshal().hex(),
                    "auth": "handover-auth"}
        # Saved by the client, the session is the client's: the RM does not flush it (I16).
        check(len(saved_sessions(ectx)) == len(before) + 1,
              "the client-saved session is not listed as saved")
        ectx.flush_context(sealed)
        ectx.flush_context(salt_key)
    out = run_child(node, work, handover)
    check(out == secret.hex(), f"the child unsealed '{out}'")
    log("HMAC session and object ContextSaved by one process, ContextLoaded and used by another")


def main():
    if len(sys.argv) == 5 and sys.argv[3] == "--child":
        return child(sys.argv[1], sys.argv[4])
    if len(sys.argv) != 3:
        print("usage: pytss.py NODE WORKDIR", file=sys.stderr)
        return 2
    node, work = sys.argv[1], sys.argv[2]
    try:
        version = importlib.metadata.version("tpm2-pytss")
    except importlib.metadata.PackageNotFoundError:
        version = "(version unknown)"
    log(f"tpm2-pytss {version} from {os.path.dirname(tpm2_pytss.__file__)}, {sys.executable}")
    if InvalidSignature is None:
        log("the cryptography module is missing: signatures are checked by the TPM only")
    for test in (test_keys_and_signatures, test_object_context):
        start = time.monotonic()
        test(node)
        log(f"  {time.monotonic() - start:.1f} s")
    for test in (test_nv_hmac_session, test_policy_unseal, test_session_handover):
        start = time.monotonic()
        test(node, work)
        log(f"  {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (Failure, TSS2_Exception) as e:
        print(f"FAIL: pytss: {e}", file=sys.stderr)
        sys.exit(1)
