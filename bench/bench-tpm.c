/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The TPM commands of the benchmark, written byte by byte with tpm2-wire's writer (TPM 2.0
 * Library Part 3 gives each layout).  Authorisation is always the empty password session
 * (TPM_RS_PW); keys are noDA, so no dictionary-attack state builds up between runs.
 */
#include <errno.h>
#include <string.h>

#include "bench.h"

#define PW_AUTH_SIZE 9u /* TPM_RS_PW, empty nonce, attributes, empty hmac */
#define SIGN_ATTRS                                                                          \
	(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | \
	 TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_SIGN_ENCRYPT)
#define PCR_BENCH 16 /* the debug PCR: resettable, used by nobody */

BenchClient *bench_client_new(BenchConn *conn)
{
	BenchClient *cl = g_new0(BenchClient, 1);

	cl->conn = conn;
	return cl;
}

static int client_fail(BenchClient *cl, int err, uint32_t rc)
{
	cl->err = err;
	cl->rc = rc;
	return err;
}

static bool rc_is_retry(uint32_t rc)
{
	return rc == TPM2_RC_RETRY || rc == TPM2_RC_TESTING || rc == TPM2_RC_YIELDED;
}

/* Send the @len bytes in cl->cmd; the response lands in cl->rsp.  0 only for success. */
static int client_send(BenchClient *cl, const char *what, size_t len)
{
	uint32_t rc = 0;
	int r;

	cl->what = what;
	for (unsigned int tries = 0;; tries++) {
		r = bench_conn_transmit(cl->conn, cl->cmd, len, cl->rsp, sizeof(cl->rsp),
					&cl->rsp_len);
		if (r < 0)
			return client_fail(cl, r, 0);
		if (tpm2_wire_response_rc(cl->rsp, cl->rsp_len, &rc) < 0)
			return client_fail(cl, -EFAULT, 0);
		if (!rc_is_retry(rc) || tries >= 20)
			break;
		g_usleep(1000);
	}
	if (rc != TPM2_RC_SUCCESS)
		return client_fail(cl, -EIO, rc);
	return 0;
}

static int client_call(BenchClient *cl, const char *what, Tpm2Writer *w)
{
	size_t len;
	int r;

	r = tpm2_wire_finish(w, &len);
	if (r < 0) {
		cl->what = what;
		return client_fail(cl, r, 0);
	}
	return client_send(cl, what, len);
}

static int client_flush(BenchClient *cl, TPM2_HANDLE h)
{
	size_t len;

	tpm2_wire_build_flush_context(cl->cmd, sizeof(cl->cmd), h, &len);
	return client_send(cl, "FlushContext", len);
}

/* The handle a command returned, right after the response header. */
static int client_handle(BenchClient *cl, TPM2_HANDLE *ret)
{
	if (tpm2_wire_parse_handle_rsp(cl->rsp, cl->rsp_len, ret) < 0)
		return client_fail(cl, -EFAULT, 0);
	return 0;
}

char *bench_client_error(const BenchClient *cl)
{
	const char *what = cl->what ? cl->what : "command";

	if (cl->err == -EIO && cl->rc)
		return g_strdup_printf("%s: TPM rc 0x%08x", what, cl->rc);
	if (cl->err == -EIO && bench_conn_error(cl->conn))
		return g_strdup_printf("%s: tss2 rc 0x%08x", what, bench_conn_error(cl->conn));
	return g_strdup_printf("%s: %s", what, g_strerror(-cl->err));
}

static void put_pw_auth(Tpm2Writer *w)
{
	tpm2_wire_put_u32(w, PW_AUTH_SIZE);
	tpm2_wire_put_u32(w, TPM2_RS_PW);
	tpm2_wire_put_u16(w, 0); /* nonce */
	tpm2_wire_put_u8(w, 0);	 /* attributes */
	tpm2_wire_put_u16(w, 0); /* hmac: the empty password */
}

/* A TPM2B of @n bytes, each @fill. */
static void put_filled_tpm2b(Tpm2Writer *w, size_t n, uint8_t fill)
{
	tpm2_wire_put_u16(w, (uint16_t)n);
	for (size_t i = 0; i < n; i++)
		tpm2_wire_put_u8(w, fill);
}

static void put_unique_u32(Tpm2Writer *w, uint32_t unique)
{
	tpm2_wire_put_u16(w, 4);
	tpm2_wire_put_u32(w, unique);
}

/* TPM2B_PUBLIC of an ECC P-256 ECDSA-SHA256 signing key (Part 2, 12.2.3.6 and 12.2.5). */
static void put_ecc_public(Tpm2Writer *w, uint32_t unique)
{
	uint8_t buf[128];
	Tpm2Writer p = tpm2_writer_init(buf, sizeof(buf));

	tpm2_wire_put_u16(&p, TPM2_ALG_ECC);
	tpm2_wire_put_u16(&p, TPM2_ALG_SHA256);
	tpm2_wire_put_u32(&p, SIGN_ATTRS);
	tpm2_wire_put_u16(&p, 0);		/* authPolicy */
	tpm2_wire_put_u16(&p, TPM2_ALG_NULL);	/* symmetric */
	tpm2_wire_put_u16(&p, TPM2_ALG_ECDSA);	/* scheme */
	tpm2_wire_put_u16(&p, TPM2_ALG_SHA256); /* its hash */
	tpm2_wire_put_u16(&p, TPM2_ECC_NIST_P256);
	tpm2_wire_put_u16(&p, TPM2_ALG_NULL); /* kdf */
	put_unique_u32(&p, unique);	      /* unique.x */
	tpm2_wire_put_u16(&p, 0);	      /* unique.y */
	tpm2_wire_put_u16(w, (uint16_t)p.len);
	tpm2_wire_put_bytes(w, buf, p.len);
}

/* TPM2B_PUBLIC of an RSA-2048 key that signs and decrypts with any scheme. */
static void put_rsa_public(Tpm2Writer *w, uint32_t unique)
{
	uint8_t buf[128];
	Tpm2Writer p = tpm2_writer_init(buf, sizeof(buf));

	tpm2_wire_put_u16(&p, TPM2_ALG_RSA);
	tpm2_wire_put_u16(&p, TPM2_ALG_SHA256);
	tpm2_wire_put_u32(&p, SIGN_ATTRS | TPMA_OBJECT_DECRYPT);
	tpm2_wire_put_u16(&p, 0);	      /* authPolicy */
	tpm2_wire_put_u16(&p, TPM2_ALG_NULL); /* symmetric */
	tpm2_wire_put_u16(&p, TPM2_ALG_NULL); /* scheme */
	tpm2_wire_put_u16(&p, 2048);
	tpm2_wire_put_u32(&p, 0); /* the default exponent */
	put_unique_u32(&p, unique);
	tpm2_wire_put_u16(w, (uint16_t)p.len);
	tpm2_wire_put_bytes(w, buf, p.len);
}

/* CreatePrimary under the owner hierarchy: empty auth, no outside info, no PCRs. */
static int create_primary(BenchClient *cl, bool rsa, uint32_t unique, TPM2_HANDLE *ret)
{
	Tpm2Writer w = tpm2_writer_init(cl->cmd, sizeof(cl->cmd));
	int r;

	tpm2_wire_put_header(&w, TPM2_ST_SESSIONS, TPM2_CC_CreatePrimary);
	tpm2_wire_put_u32(&w, TPM2_RH_OWNER);
	put_pw_auth(&w);
	tpm2_wire_put_u16(&w, 4); /* inSensitive: empty userAuth and data */
	tpm2_wire_put_u16(&w, 0);
	tpm2_wire_put_u16(&w, 0);
	if (rsa)
		put_rsa_public(&w, unique);
	else
		put_ecc_public(&w, unique);
	tpm2_wire_put_u16(&w, 0); /* outsideInfo */
	tpm2_wire_put_u32(&w, 0); /* creationPCR: no selection */
	r = client_call(cl, rsa ? "CreatePrimary RSA-2048" : "CreatePrimary ECC P-256", &w);
	if (r < 0)
		return r;
	return client_handle(cl, ret);
}

int bench_client_create_key(BenchClient *cl, uint32_t unique)
{
	return create_primary(cl, false, unique, &cl->key);
}

void bench_client_free(BenchClient *cl)
{
	if (!cl)
		return;
	if (cl->key)
		client_flush(cl, cl->key);
	bench_conn_free(cl->conn);
	g_free(cl);
}

int bench_client_get_random(BenchClient *cl)
{
	Tpm2Writer w = tpm2_writer_init(cl->cmd, sizeof(cl->cmd));

	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, TPM2_CC_GetRandom);
	tpm2_wire_put_u16(&w, 8);
	return client_call(cl, "GetRandom", &w);
}

static int step_get_random(BenchClient *cl)
{
	Tpm2Writer w = tpm2_writer_init(cl->cmd, sizeof(cl->cmd));

	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, TPM2_CC_GetRandom);
	tpm2_wire_put_u16(&w, 32);
	return client_call(cl, "GetRandom", &w);
}

static int step_read_public(BenchClient *cl)
{
	Tpm2Writer w = tpm2_writer_init(cl->cmd, sizeof(cl->cmd));

	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, TPM2_CC_ReadPublic);
	tpm2_wire_put_u32(&w, cl->key);
	return client_call(cl, "ReadPublic", &w);
}

static int step_pcr_extend(BenchClient *cl)
{
	Tpm2Writer w = tpm2_writer_init(cl->cmd, sizeof(cl->cmd));

	tpm2_wire_put_header(&w, TPM2_ST_SESSIONS, TPM2_CC_PCR_Extend);
	tpm2_wire_put_u32(&w, PCR_BENCH);
	put_pw_auth(&w);
	tpm2_wire_put_u32(&w, 1); /* TPML_DIGEST_VALUES: one SHA-256 digest */
	tpm2_wire_put_u16(&w, TPM2_ALG_SHA256);
	for (int i = 0; i < TPM2_SHA256_DIGEST_SIZE; i++)
		tpm2_wire_put_u8(&w, (uint8_t)(cl->seq + (unsigned int)i));
	cl->seq++;
	return client_call(cl, "PCR_Extend", &w);
}

/* An unbound, unsalted HMAC session, then FlushContext of it. */
static int step_session(BenchClient *cl)
{
	Tpm2Writer w = tpm2_writer_init(cl->cmd, sizeof(cl->cmd));
	TPM2_HANDLE h;
	int r;

	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, TPM2_CC_StartAuthSession);
	tpm2_wire_put_u32(&w, TPM2_RH_NULL);	      /* tpmKey */
	tpm2_wire_put_u32(&w, TPM2_RH_NULL);	      /* bind */
	put_filled_tpm2b(&w, 16, (uint8_t)cl->seq++); /* nonceCaller */
	tpm2_wire_put_u16(&w, 0);		      /* encryptedSalt */
	tpm2_wire_put_u8(&w, TPM2_SE_HMAC);
	tpm2_wire_put_u16(&w, TPM2_ALG_NULL); /* symmetric */
	tpm2_wire_put_u16(&w, TPM2_ALG_SHA256);
	r = client_call(cl, "StartAuthSession", &w);
	if (r == 0)
		r = client_handle(cl, &h);
	if (r == 0)
		r = client_flush(cl, h);
	return r;
}

static int step_getcap_handles(BenchClient *cl)
{
	size_t len;

	tpm2_wire_build_get_capability(cl->cmd, sizeof(cl->cmd), TPM2_CAP_HANDLES,
				       0x80000000u /* TPM2_TRANSIENT_FIRST: UB in tss2 */, 16,
				       &len);
	return client_send(cl, "GetCapability(handles)", len);
}

/* ContextSave of the key, ContextLoad of that context (a second copy), FlushContext. */
static int step_context(BenchClient *cl)
{
	uint8_t ctx[TPM2_WIRE_BUF_MAX];
	const uint8_t *p;
	size_t ctx_len, len;
	TPM2_HANDLE h;
	int r;

	tpm2_wire_build_context_save(cl->cmd, sizeof(cl->cmd), cl->key, &len);
	r = client_send(cl, "ContextSave", len);
	if (r < 0)
		return r;
	if (tpm2_wire_parse_context_save_rsp(cl->rsp, cl->rsp_len, &p, &ctx_len) < 0)
		return client_fail(cl, -EFAULT, 0);
	memcpy(ctx, p, ctx_len);
	if (tpm2_wire_build_context_load(cl->cmd, sizeof(cl->cmd), ctx, ctx_len, &len) < 0)
		return client_fail(cl, -EFAULT, 0);
	r = client_send(cl, "ContextLoad", len);
	if (r == 0)
		r = client_handle(cl, &h);
	if (r == 0)
		r = client_flush(cl, h);
	return r;
}

static int sequence_update(BenchClient *cl, TPM2_HANDLE seq, size_t n, bool complete)
{
	Tpm2Writer w = tpm2_writer_init(cl->cmd, sizeof(cl->cmd));

	tpm2_wire_put_header(&w, TPM2_ST_SESSIONS,
			     complete ? TPM2_CC_SequenceComplete : TPM2_CC_SequenceUpdate);
	tpm2_wire_put_u32(&w, seq);
	put_pw_auth(&w);
	put_filled_tpm2b(&w, n, 0x5a);
	if (complete)
		tpm2_wire_put_u32(&w, TPM2_RH_NULL); /* no ticket */
	return client_call(cl, complete ? "SequenceComplete" : "SequenceUpdate", &w);
}

/* HashSequenceStart (SHA-256), two SequenceUpdate of 512 bytes, SequenceComplete. */
static int step_hash_sequence(BenchClient *cl)
{
	Tpm2Writer w = tpm2_writer_init(cl->cmd, sizeof(cl->cmd));
	TPM2_HANDLE seq;
	int r;

	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, TPM2_CC_HashSequenceStart);
	tpm2_wire_put_u16(&w, 0); /* auth */
	tpm2_wire_put_u16(&w, TPM2_ALG_SHA256);
	r = client_call(cl, "HashSequenceStart", &w);
	if (r == 0)
		r = client_handle(cl, &seq);
	if (r == 0)
		r = sequence_update(cl, seq, 512, false);
	if (r == 0)
		r = sequence_update(cl, seq, 512, false);
	if (r == 0)
		r = sequence_update(cl, seq, 0, true);
	return r;
}

/* A second ECC key (the primary seed's derivation runs each time), then FlushContext. */
static int step_create_primary(BenchClient *cl)
{
	TPM2_HANDLE h;
	int r;

	r = create_primary(cl, false, 0x62656e63u, &h); /* "benc" */
	if (r == 0)
		r = client_flush(cl, h);
	return r;
}

int bench_client_sign(BenchClient *cl)
{
	Tpm2Writer w = tpm2_writer_init(cl->cmd, sizeof(cl->cmd));

	tpm2_wire_put_header(&w, TPM2_ST_SESSIONS, TPM2_CC_Sign);
	tpm2_wire_put_u32(&w, cl->key);
	put_pw_auth(&w);
	put_filled_tpm2b(&w, TPM2_SHA256_DIGEST_SIZE, (uint8_t)cl->seq++);
	tpm2_wire_put_u16(&w, TPM2_ALG_ECDSA);
	tpm2_wire_put_u16(&w, TPM2_ALG_SHA256);
	tpm2_wire_put_u16(&w, TPM2_ST_HASHCHECK); /* the NULL ticket */
	tpm2_wire_put_u32(&w, TPM2_RH_NULL);
	tpm2_wire_put_u16(&w, 0);
	return client_call(cl, "Sign", &w);
}

int bench_client_rsa_keygen(BenchClient *cl, uint32_t unique)
{
	TPM2_HANDLE h;
	int r;

	r = create_primary(cl, true, unique, &h);
	if (r == 0)
		r = client_flush(cl, h);
	return r;
}

const BenchStep bench_mix_steps[BENCH_MIX_STEPS] = {
	{ "GetRandom(32)", 1, step_get_random },
	{ "ReadPublic", 1, step_read_public },
	{ "PCR_Extend", 1, step_pcr_extend },
	{ "StartAuthSession + FlushContext", 2, step_session },
	{ "GetCapability(handles)", 1, step_getcap_handles },
	{ "ContextSave + ContextLoad + FlushContext", 3, step_context },
	{ "hash sequence (4 commands)", 4, step_hash_sequence },
	{ "CreatePrimary ECC P-256 + FlushContext", 2, step_create_primary },
	{ "Sign ECDSA P-256", 1, bench_client_sign },
};
