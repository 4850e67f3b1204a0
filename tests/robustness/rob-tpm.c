/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rob-client: TPM operations over tss2-sys, each checking what came back. */
#include <glib.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string.h>

#include "rob-tpm.h"

#define NODA_OBJECT                                                                         \
	(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | \
	 TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA)
#define PCR_SELECT_0_TO_3 0x0f

const TSS2L_SYS_AUTH_COMMAND rob_pw_auth = {
	.count = 1,
	.auths = { { .sessionHandle = TPM2_RH_PW } },
};

static GRand *rng;

void rob_seed(uint32_t seed)
{
	if (rng)
		g_rand_free(rng);
	rng = g_rand_new_with_seed(seed);
}

uint32_t rob_random_below(uint32_t n)
{
	if (!rng)
		rob_seed(1);
	return (uint32_t)g_rand_int_range(rng, 0, (gint32)n);
}

void rob_random_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rob_random_below(256);
}

/* --- the space's object slots, as the client predicts them --- */

uint32_t rob_slots_next(const RobSlots *s)
{
	for (unsigned int i = 0; i < ROB_MAX_OBJECTS; i++)
		if (!s->handle[i])
			return ROB_FIRST_VHANDLE - i;
	return 0;
}

void rob_slots_add(RobSlots *s, uint32_t h, const char *what)
{
	uint32_t want = rob_slots_next(s);

	if (!want)
		rob_fail("%s gave 0x%08x with every slot taken", what, h);
	if (h != want)
		rob_fail("%s gave handle 0x%08x, expected 0x%08x (the lowest free slot, I4)", what,
			 h, want);
	s->handle[ROB_FIRST_VHANDLE - h] = h;
}

void rob_slots_remove(RobSlots *s, uint32_t h)
{
	for (unsigned int i = 0; i < ROB_MAX_OBJECTS; i++)
		if (s->handle[i] == h)
			s->handle[i] = 0;
}

unsigned int rob_slots_count(const RobSlots *s)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < ROB_MAX_OBJECTS; i++)
		n += s->handle[i] != 0;
	return n;
}

bool rob_slots_has(const RobSlots *s, uint32_t h)
{
	for (unsigned int i = 0; i < ROB_MAX_OBJECTS; i++)
		if (h && s->handle[i] == h)
			return true;
	return false;
}

/* --- local crypto --- */

static void sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
	unsigned int len = 32;

	if (!EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) || len != 32)
		rob_fail("local SHA-256 failed");
}

/* The public key of a TPM ECC P-256 public area, for OpenSSL. */
static EVP_PKEY *ecc_key(const TPMS_ECC_POINT *q)
{
	uint8_t point[65] = { 4 };
	char group[] = "prime256v1";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *key = NULL;

	if (q->x.size != 32 || q->y.size != 32)
		rob_fail("ECC point of %u and %u bytes", q->x.size, q->y.size);
	memcpy(point + 1, q->x.buffer, 32);
	memcpy(point + 33, q->y.buffer, 32);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		rob_fail("OpenSSL does not take the TPM's ECC public key");
	EVP_PKEY_CTX_free(ctx);
	return key;
}

/* ECDSA (r, s) over @digest, checked with @q: true when it verifies. */
static bool ecdsa_verifies(const TPMS_ECC_POINT *q, const TPMS_SIGNATURE_ECDSA *sig,
			   const uint8_t digest[32])
{
	EVP_PKEY *key = ecc_key(q);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig->signatureR.buffer, sig->signatureR.size, NULL);
	BIGNUM *s = BN_bin2bn(sig->signatureS.buffer, sig->signatureS.size, NULL);
	unsigned char *der = NULL;
	int der_len, ok = 0;

	if (!ctx || !es || !r || !s || !ECDSA_SIG_set0(es, r, s))
		rob_fail("OpenSSL: cannot build an ECDSA signature");
	der_len = i2d_ECDSA_SIG(es, &der);
	if (der_len > 0 && EVP_PKEY_verify_init(ctx) > 0)
		ok = EVP_PKEY_verify(ctx, der, (size_t)der_len, digest, 32);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	return ok == 1;
}

/* --- TPM operations --- */

TSS2_RC rob_get_random(RobConn *c, uint16_t n)
{
	TPM2B_DIGEST out = { .size = 0 };
	TSS2_RC rc = Tss2_Sys_GetRandom(c->sys, NULL, n, &out, NULL);

	if (rc == TSS2_RC_SUCCESS && out.size != n)
		rob_fail("GetRandom(%u) gave %u bytes", n, out.size);
	return rc;
}

TSS2_RC rob_create_primary(RobConn *c, RobSlots *s, uint32_t tag, uint32_t *ret_handle,
			   TPM2B_PUBLIC *ret_pub)
{
	TPM2B_SENSITIVE_CREATE sens = { .size = 0 };
	TPM2B_PUBLIC in = {
		.publicArea = {
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = NODA_OBJECT | TPMA_OBJECT_RESTRICTED |
					    TPMA_OBJECT_DECRYPT,
			.parameters.eccDetail = {
				.symmetric = { .algorithm = TPM2_ALG_AES,
					       .keyBits.aes = 128,
					       .mode.aes = TPM2_ALG_CFB },
				.scheme.scheme = TPM2_ALG_NULL,
				.curveID = TPM2_ECC_NIST_P256,
				.kdf.scheme = TPM2_ALG_NULL,
			},
			.unique.ecc = { .x.size = 32, .y.size = 32 },
		},
	};
	TPM2B_DATA outside = { .size = 0 };
	TPML_PCR_SELECTION pcrs = { .count = 0 };
	TPM2B_PUBLIC pub = { .size = 0 };
	TPM2B_CREATION_DATA cdata = { .size = 0 };
	TPM2B_DIGEST chash = { .size = 0 };
	TPMT_TK_CREATION ticket = { .tag = 0 };
	TPM2B_NAME name = { .size = 0 };
	TSS2_RC rc;

	memcpy(in.publicArea.unique.ecc.x.buffer, &tag, sizeof(tag));
	rc = Tss2_Sys_CreatePrimary(c->sys, TPM2_RH_OWNER, &rob_pw_auth, &sens, &in, &outside,
				    &pcrs, ret_handle, &pub, &cdata, &chash, &ticket, &name, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	rob_slots_add(s, *ret_handle, "CreatePrimary");
	if (pub.publicArea.type != TPM2_ALG_ECC ||
	    pub.publicArea.objectAttributes != in.publicArea.objectAttributes)
		rob_fail("CreatePrimary gave a key of type 0x%x, attributes 0x%x",
			 pub.publicArea.type, pub.publicArea.objectAttributes);
	if (ret_pub)
		*ret_pub = pub;
	return rc;
}

static TPM2B_PUBLIC signer_template(uint32_t tag)
{
	TPM2B_PUBLIC in = {
		.publicArea = {
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = NODA_OBJECT | TPMA_OBJECT_SIGN_ENCRYPT,
			.parameters.eccDetail = {
				.symmetric.algorithm = TPM2_ALG_NULL,
				.scheme = { .scheme = TPM2_ALG_ECDSA,
					    .details.ecdsa.hashAlg = TPM2_ALG_SHA256 },
				.curveID = TPM2_ECC_NIST_P256,
				.kdf.scheme = TPM2_ALG_NULL,
			},
		},
	};

	/* A policy no one uses, to make each client's keys recognisably its own. */
	in.publicArea.authPolicy.size = 32;
	memcpy(in.publicArea.authPolicy.buffer, &tag, sizeof(tag));
	return in;
}

TSS2_RC rob_create_load_signer(RobConn *c, RobSlots *s, uint32_t parent, uint32_t tag,
			       TPM2B_PUBLIC *ret_pub, uint32_t *ret_handle)
{
	TPM2B_SENSITIVE_CREATE sens = { .size = 0 };
	TPM2B_PUBLIC in = signer_template(tag);
	TPM2B_DATA outside = { .size = 0 };
	TPML_PCR_SELECTION pcrs = { .count = 0 };
	TPM2B_PRIVATE priv = { .size = 0 };
	TPM2B_CREATION_DATA cdata = { .size = 0 };
	TPM2B_DIGEST chash = { .size = 0 };
	TPMT_TK_CREATION ticket = { .tag = 0 };
	TPM2B_NAME name = { .size = 0 };
	TSS2_RC rc;

	ret_pub->size = 0;
	rc = Tss2_Sys_Create(c->sys, parent, &rob_pw_auth, &sens, &in, &outside, &pcrs, &priv,
			     ret_pub, &cdata, &chash, &ticket, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	if (ret_pub->publicArea.authPolicy.size != 32 ||
	    memcmp(ret_pub->publicArea.authPolicy.buffer, &tag, sizeof(tag)) != 0)
		rob_fail("Create returned another client's key (tag %08x)", tag);
	rc = Tss2_Sys_Load(c->sys, parent, &rob_pw_auth, &priv, ret_pub, ret_handle, &name, NULL);
	if (rc == TSS2_RC_SUCCESS)
		rob_slots_add(s, *ret_handle, "Load");
	return rc;
}

TSS2_RC rob_sign_verify(RobConn *c, uint32_t key, const TPM2B_PUBLIC *pub)
{
	TPM2B_DIGEST digest = { .size = 32 };
	TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL };
	TPMT_TK_HASHCHECK ticket = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	TPMT_SIGNATURE sig = { .sigAlg = 0 };
	TSS2_RC rc;

	rob_random_bytes(digest.buffer, 32);
	rc = Tss2_Sys_Sign(c->sys, key, &rob_pw_auth, &digest, &scheme, &ticket, &sig, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	if (sig.sigAlg != TPM2_ALG_ECDSA || sig.signature.ecdsa.hash != TPM2_ALG_SHA256)
		rob_fail("Sign gave a signature of algorithm 0x%x", sig.sigAlg);
	if (!ecdsa_verifies(&pub->publicArea.unique.ecc, &sig.signature.ecdsa, digest.buffer))
		rob_fail("the signature of 0x%08x does not verify with this client's key", key);
	return rc;
}

TSS2_RC rob_hash_sequence(RobConn *c, RobSlots *s, unsigned int chunks)
{
	static uint8_t all[1024 * 8];
	TPM2B_AUTH auth = { .size = 0 };
	TPM2B_MAX_BUFFER buf;
	TPM2B_DIGEST result = { .size = 0 };
	TPMT_TK_HASHCHECK ticket = { .tag = 0 };
	uint8_t want[32];
	uint32_t seq;
	size_t len = 0;
	TSS2_RC rc;

	rc = Tss2_Sys_HashSequenceStart(c->sys, NULL, &auth, TPM2_ALG_SHA256, &seq, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	rob_slots_add(s, seq, "HashSequenceStart");
	for (unsigned int i = 0; i <= chunks && len + 1024 <= sizeof(all); i++) {
		buf.size = (uint16_t)(1 + rob_random_below(256));
		rob_random_bytes(buf.buffer, buf.size);
		memcpy(all + len, buf.buffer, buf.size);
		len += buf.size;
		if (i < chunks)
			rc = Tss2_Sys_SequenceUpdate(c->sys, seq, &rob_pw_auth, &buf, NULL);
		else
			rc = Tss2_Sys_SequenceComplete(c->sys, seq, &rob_pw_auth, &buf,
						       TPM2_RH_NULL, &result, &ticket, NULL);
		if (rc != TSS2_RC_SUCCESS)
			return rc;
	}
	rob_slots_remove(s, seq); /* SequenceComplete flushed it: its slot frees (I8) */
	sha256(all, len, want);
	if (result.size != 32 || memcmp(result.buffer, want, 32) != 0)
		rob_fail("a hash sequence of %zu bytes gave another digest", len);
	return rc;
}

/* TPML_PCR_SELECTION for SHA-256 PCRs 0-3, as it is marshalled. */
static const uint8_t pcr_selection_wire[] = { 0, 0, 0, 1, 0x00, 0x0b, 3, PCR_SELECT_0_TO_3, 0, 0 };

/* What PolicyPCR makes of a fresh policy digest (TPM 2.0 Part 3, 23.7). */
static void expected_policy(const TPML_DIGEST *values, uint8_t out[32])
{
	uint8_t pcrs[4 * 32], buf[32 + 4 + sizeof(pcr_selection_wire) + 32] = { 0 };
	size_t off = 32;

	for (unsigned int i = 0; i < 4; i++)
		memcpy(pcrs + (size_t)32 * i, values->digests[i].buffer, 32);
	buf[off++] = 0;
	buf[off++] = 0;
	buf[off++] = (uint8_t)(TPM2_CC_PolicyPCR >> 8);
	buf[off++] = (uint8_t)TPM2_CC_PolicyPCR;
	memcpy(buf + off, pcr_selection_wire, sizeof(pcr_selection_wire));
	off += sizeof(pcr_selection_wire);
	sha256(pcrs, sizeof(pcrs), buf + off);
	off += 32;
	sha256(buf, off, out);
}

static TSS2_RC read_pcrs(RobConn *c, const TPML_PCR_SELECTION *sel, TPML_DIGEST *values)
{
	TPML_PCR_SELECTION out = { .count = 0 };
	UINT32 counter = 0;
	TSS2_RC rc;

	rc = Tss2_Sys_PCR_Read(c->sys, NULL, sel, &counter, &out, values, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	if (out.count != 1 || out.pcrSelections[0].pcrSelect[0] != PCR_SELECT_0_TO_3 ||
	    values->count != 4)
		rob_fail("PCR_Read of PCRs 0-3 gave %u selections, %u values", out.count,
			 values->count);
	for (unsigned int i = 0; i < 4; i++)
		if (values->digests[i].size != 32)
			rob_fail("PCR %u has %u bytes", i, values->digests[i].size);
	return rc;
}

TSS2_RC rob_policy_pcr(RobConn *c)
{
	TPM2B_NONCE nonce = { .size = 16 }, nonce_tpm = { .size = 0 };
	TPM2B_ENCRYPTED_SECRET salt = { .size = 0 };
	TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
	TPML_PCR_SELECTION sel = {
		.count = 1,
		.pcrSelections = { { .hash = TPM2_ALG_SHA256,
				     .sizeofSelect = 3,
				     .pcrSelect = { PCR_SELECT_0_TO_3 } } },
	};
	TPML_DIGEST values = { .count = 0 };
	TPM2B_DIGEST empty = { .size = 0 }, got = { .size = 0 };
	uint8_t want[32];
	uint32_t session;
	TSS2_RC rc;

	rob_random_bytes(nonce.buffer, nonce.size);
	rc = Tss2_Sys_StartAuthSession(c->sys, TPM2_RH_NULL, TPM2_RH_NULL, NULL, &nonce, &salt,
				       TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &session, &nonce_tpm,
				       NULL);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	if (session >> 24 != TPM2_HT_POLICY_SESSION)
		rob_fail("StartAuthSession(policy) gave handle 0x%08x", session);
	rc = read_pcrs(c, &sel, &values);
	if (rc == TSS2_RC_SUCCESS)
		rc = Tss2_Sys_PolicyPCR(c->sys, session, NULL, &empty, &sel, NULL);
	if (rc == TSS2_RC_SUCCESS)
		rc = Tss2_Sys_PolicyGetDigest(c->sys, session, NULL, &got, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	expected_policy(&values, want);
	if (got.size != 32 || memcmp(got.buffer, want, 32) != 0)
		rob_fail("PolicyPCR gave another policy digest than computed here");
	return Tss2_Sys_FlushContext(c->sys, session);
}

TSS2_RC rob_check_transients(RobConn *c, const RobSlots *s)
{
	TPMS_CAPABILITY_DATA cap = { .capability = 0 };
	TPMI_YES_NO more = 0;
	TSS2_RC rc;

	rc = Tss2_Sys_GetCapability(c->sys, NULL, TPM2_CAP_HANDLES, 0x80000000u,
				    TPM2_MAX_CAP_HANDLES, &more, &cap, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	if (cap.capability != TPM2_CAP_HANDLES || cap.data.handles.count != rob_slots_count(s))
		rob_fail("GetCapability(transient) lists %u handles, this space holds %u",
			 cap.data.handles.count, rob_slots_count(s));
	for (unsigned int i = 0; i < cap.data.handles.count; i++)
		if (!rob_slots_has(s, cap.data.handles.handle[i]))
			rob_fail("GetCapability(transient) lists 0x%08x, not this space's",
				 cap.data.handles.handle[i]);
	return rc;
}

TSS2_RC rob_flush(RobConn *c, RobSlots *s, uint32_t handle)
{
	TSS2_RC rc = Tss2_Sys_FlushContext(c->sys, handle);

	if (rc == TSS2_RC_SUCCESS)
		rob_slots_remove(s, handle);
	return rc;
}
