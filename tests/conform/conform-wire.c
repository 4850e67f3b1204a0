/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <string.h>

#include "conform-wire.h"

const uint8_t TPM_GR32[12] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x0c,
			       0x00, 0x00, 0x01, 0x7b, 0x00, 0x20 };

static const uint8_t gr32_rsp_head[12] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x2c,
					   0x00, 0x00, 0x00, 0x00, 0x00, 0x20 };

#define TPM_ALG_AES	    0x0006
#define TPM_ALG_SHA256	    0x000b
#define TPM_ALG_NULL	    0x0010
#define TPM_ALG_ECC	    0x0023
#define TPM_ALG_CFB	    0x0043
#define TPM_ECC_NIST_P256   0x0003
#define TPM_RC_LOCKOUT	    0x921
#define TPM_RC_HIERARCHY    0x085 /* format 1: the hierarchy is disabled */
#define TPM_RC_AUTH_FAIL    0x08e /* format 1, with a session number */
#define TPM_RC_BAD_AUTH	    0x0a2 /* format 1, with a session number */
#define TPM_RC_HANDLE	    0x08b /* format 1, with a handle or session number */
#define TPM_RC_REFERENCE_H0 0x910
#define TPM_RC_REFERENCE_S6 0x91e

/* fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA | restricted | decrypt */
#define STORAGE_KEY_ATTRS 0x00030472u

uint16_t tpm_get_u16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

uint32_t tpm_get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint8_t *cmd_room(TpmCmd *cmd, size_t n)
{
	uint8_t *p;

	if (cmd->overflow || n > sizeof(cmd->buf) - cmd->len) {
		cmd->overflow = true;
		return NULL;
	}
	p = cmd->buf + cmd->len;
	cmd->len += n;
	return p;
}

void tpm_cmd_put_u8(TpmCmd *cmd, uint8_t v)
{
	uint8_t *p = cmd_room(cmd, 1);

	if (p)
		*p = v;
}

void tpm_cmd_put_u16(TpmCmd *cmd, uint16_t v)
{
	uint8_t *p = cmd_room(cmd, 2);

	if (p)
		put_be(p, v, 2);
}

void tpm_cmd_put_u32(TpmCmd *cmd, uint32_t v)
{
	uint8_t *p = cmd_room(cmd, 4);

	if (p)
		put_be(p, v, 4);
}

void tpm_cmd_put_bytes(TpmCmd *cmd, const void *src, size_t n)
{
	uint8_t *p = cmd_room(cmd, n);

	if (p && n)
		memcpy(p, src, n);
}

void tpm_cmd_put_tpm2b(TpmCmd *cmd, const void *src, uint16_t n)
{
	tpm_cmd_put_u16(cmd, n);
	tpm_cmd_put_bytes(cmd, src, n);
}

void tpm_cmd_begin(TpmCmd *cmd, const char *name, uint16_t tag, uint32_t cc)
{
	cmd->name = name;
	cmd->len = 0;
	cmd->overflow = false;
	tpm_cmd_put_u16(cmd, tag);
	tpm_cmd_put_u32(cmd, 0); /* size, patched by tpm_cmd_end() */
	tpm_cmd_put_u32(cmd, cc);
}

void tpm_cmd_end(TpmCmd *cmd)
{
	if (!cmd->overflow)
		put_be(cmd->buf + 2, cmd->len, 4);
}

void tpm_cmd_raw(TpmCmd *cmd, const char *name, const uint8_t *bytes, size_t len)
{
	cmd->name = name;
	cmd->len = 0;
	cmd->overflow = false;
	tpm_cmd_put_bytes(cmd, bytes, len);
}

void tpm_cmd_put_pw_auth(TpmCmd *cmd)
{
	tpm_cmd_put_u32(cmd, 9); /* authorizationSize */
	tpm_cmd_put_u32(cmd, TPM_RS_PW);
	tpm_cmd_put_u16(cmd, 0); /* nonce */
	tpm_cmd_put_u8(cmd, 0);	 /* sessionAttributes */
	tpm_cmd_put_u16(cmd, 0); /* hmac: the empty password */
}

void tpm_cmd_get_random(TpmCmd *cmd, uint16_t n)
{
	tpm_cmd_begin(cmd, "GetRandom", TPM_ST_NO_SESSIONS, TPM_CC_GET_RANDOM);
	tpm_cmd_put_u16(cmd, n);
	tpm_cmd_end(cmd);
}

/* TPMT_PUBLIC of the storage key: 26 bytes plus the 32-byte unique.x. */
static void put_ecc_storage_public(TpmCmd *cmd, uint32_t unique)
{
	uint8_t x[32];
	size_t i;

	for (i = 0; i < sizeof(x); i += 4)
		put_be(x + i, unique, 4);
	tpm_cmd_put_u16(cmd, 26 + sizeof(x)); /* TPM2B_PUBLIC size */
	tpm_cmd_put_u16(cmd, TPM_ALG_ECC);
	tpm_cmd_put_u16(cmd, TPM_ALG_SHA256); /* nameAlg */
	tpm_cmd_put_u32(cmd, STORAGE_KEY_ATTRS);
	tpm_cmd_put_u16(cmd, 0);	   /* authPolicy */
	tpm_cmd_put_u16(cmd, TPM_ALG_AES); /* symmetric: AES-128-CFB */
	tpm_cmd_put_u16(cmd, 128);
	tpm_cmd_put_u16(cmd, TPM_ALG_CFB);
	tpm_cmd_put_u16(cmd, TPM_ALG_NULL); /* scheme */
	tpm_cmd_put_u16(cmd, TPM_ECC_NIST_P256);
	tpm_cmd_put_u16(cmd, TPM_ALG_NULL);   /* kdf */
	tpm_cmd_put_tpm2b(cmd, x, sizeof(x)); /* unique.x */
	tpm_cmd_put_u16(cmd, 0);	      /* unique.y */
}

void tpm_cmd_create_primary(TpmCmd *cmd, uint32_t unique)
{
	tpm_cmd_begin(cmd, "CreatePrimary", TPM_ST_SESSIONS, TPM_CC_CREATE_PRIMARY);
	tpm_cmd_put_u32(cmd, TPM_RH_OWNER);
	tpm_cmd_put_pw_auth(cmd);
	tpm_cmd_put_u16(cmd, 4); /* inSensitive: empty userAuth and data */
	tpm_cmd_put_u16(cmd, 0);
	tpm_cmd_put_u16(cmd, 0);
	put_ecc_storage_public(cmd, unique);
	tpm_cmd_put_u16(cmd, 0); /* outsideInfo */
	tpm_cmd_put_u32(cmd, 0); /* creationPCR: no banks */
	tpm_cmd_end(cmd);
}

static void cmd_one_handle(TpmCmd *cmd, const char *name, uint32_t cc, uint32_t handle)
{
	tpm_cmd_begin(cmd, name, TPM_ST_NO_SESSIONS, cc);
	tpm_cmd_put_u32(cmd, handle);
	tpm_cmd_end(cmd);
}

void tpm_cmd_read_public(TpmCmd *cmd, uint32_t handle)
{
	cmd_one_handle(cmd, "ReadPublic", TPM_CC_READ_PUBLIC, handle);
}

void tpm_cmd_flush_context(TpmCmd *cmd, uint32_t handle)
{
	cmd_one_handle(cmd, "FlushContext", TPM_CC_FLUSH_CONTEXT, handle);
}

void tpm_cmd_context_save(TpmCmd *cmd, uint32_t handle)
{
	cmd_one_handle(cmd, "ContextSave", TPM_CC_CONTEXT_SAVE, handle);
}

void tpm_cmd_policy_get_digest(TpmCmd *cmd, uint32_t session)
{
	cmd_one_handle(cmd, "PolicyGetDigest", TPM_CC_POLICY_GET_DIGEST, session);
}

void tpm_cmd_context_load(TpmCmd *cmd, const uint8_t *ctx, size_t len)
{
	tpm_cmd_begin(cmd, "ContextLoad", TPM_ST_NO_SESSIONS, TPM_CC_CONTEXT_LOAD);
	tpm_cmd_put_bytes(cmd, ctx, len);
	tpm_cmd_end(cmd);
}

void tpm_cmd_get_capability(TpmCmd *cmd, uint32_t cap, uint32_t property, uint32_t count)
{
	tpm_cmd_begin(cmd, "GetCapability", TPM_ST_NO_SESSIONS, TPM_CC_GET_CAPABILITY);
	tpm_cmd_put_u32(cmd, cap);
	tpm_cmd_put_u32(cmd, property);
	tpm_cmd_put_u32(cmd, count);
	tpm_cmd_end(cmd);
}

void tpm_cmd_start_auth_session(TpmCmd *cmd, uint8_t type)
{
	uint8_t nonce[32];
	size_t i;

	for (i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(0xa5 ^ i);
	tpm_cmd_begin(cmd,
		      type == TPM_SE_POLICY ? "StartAuthSession(policy)" : "StartAuthSession(hmac)",
		      TPM_ST_NO_SESSIONS, TPM_CC_START_AUTH_SESSION);
	tpm_cmd_put_u32(cmd, TPM_RH_NULL);	      /* tpmKey: no salt */
	tpm_cmd_put_u32(cmd, TPM_RH_NULL);	      /* bind: unbound */
	tpm_cmd_put_tpm2b(cmd, nonce, sizeof(nonce)); /* nonceCaller: 16..32 bytes for SHA-256 */
	tpm_cmd_put_u16(cmd, 0);		      /* encryptedSalt */
	tpm_cmd_put_u8(cmd, type);
	tpm_cmd_put_u16(cmd, TPM_ALG_NULL);   /* symmetric */
	tpm_cmd_put_u16(cmd, TPM_ALG_SHA256); /* authHash */
	tpm_cmd_end(cmd);
}

void tpm_cmd_policy_pcr(TpmCmd *cmd, uint32_t session, unsigned int pcr)
{
	uint8_t select[3] = { 0, 0, 0 };

	select[(pcr / 8) % 3] = (uint8_t)(1u << (pcr % 8));
	tpm_cmd_begin(cmd, "PolicyPCR", TPM_ST_NO_SESSIONS, TPM_CC_POLICY_PCR);
	tpm_cmd_put_u32(cmd, session);
	tpm_cmd_put_u16(cmd, 0); /* pcrDigest: empty */
	tpm_cmd_put_u32(cmd, 1); /* TPML_PCR_SELECTION.count */
	tpm_cmd_put_u16(cmd, TPM_ALG_SHA256);
	tpm_cmd_put_u8(cmd, sizeof(select));
	tpm_cmd_put_bytes(cmd, select, sizeof(select));
	tpm_cmd_end(cmd);
}

void tpm_cmd_evict_control(TpmCmd *cmd, uint32_t object, uint32_t persistent)
{
	tpm_cmd_begin(cmd, "EvictControl", TPM_ST_SESSIONS, TPM_CC_EVICT_CONTROL);
	tpm_cmd_put_u32(cmd, TPM_RH_OWNER);
	tpm_cmd_put_u32(cmd, object);
	tpm_cmd_put_pw_auth(cmd);
	tpm_cmd_put_u32(cmd, persistent);
	tpm_cmd_end(cmd);
}

void tpm_rd_init(TpmReader *rd, const uint8_t *p, size_t len)
{
	rd->p = p;
	rd->len = len;
	rd->off = 0;
	rd->err = false;
}

static const uint8_t *rd_take(TpmReader *rd, size_t n)
{
	const uint8_t *p;

	if (rd->err || n > rd->len - rd->off) {
		rd->err = true;
		return NULL;
	}
	p = rd->p + rd->off;
	rd->off += n;
	return p;
}

uint8_t tpm_rd_u8(TpmReader *rd)
{
	const uint8_t *p = rd_take(rd, 1);

	return p ? p[0] : 0;
}

uint16_t tpm_rd_u16(TpmReader *rd)
{
	const uint8_t *p = rd_take(rd, 2);

	return p ? tpm_get_u16(p) : 0;
}

uint32_t tpm_rd_u32(TpmReader *rd)
{
	const uint8_t *p = rd_take(rd, 4);

	return p ? tpm_get_u32(p) : 0;
}

void tpm_rd_skip(TpmReader *rd, size_t n)
{
	rd_take(rd, n);
}

const uint8_t *tpm_rd_tpm2b(TpmReader *rd, uint16_t *ret_len)
{
	uint16_t n = tpm_rd_u16(rd);
	const uint8_t *p = rd_take(rd, n);

	*ret_len = p ? n : 0;
	return p;
}

/* A reader over the response body (after the header). */
static void rd_body(TpmReader *rd, const TpmRsp *rsp)
{
	tpm_rd_init(rd, rsp->buf, rsp->len);
	tpm_rd_skip(rd, TPM_HEADER_SIZE);
}

int tpm_rsp_handle(const TpmRsp *rsp, uint32_t *ret_handle)
{
	TpmReader rd;
	uint32_t h;

	rd_body(&rd, rsp);
	h = tpm_rd_u32(&rd);
	if (rd.err)
		return -CONFORM_E_BADRSP;
	*ret_handle = h;
	return 0;
}

int tpm_rsp_cap_list(const TpmRsp *rsp, uint32_t cap, TpmList *out, bool *ret_more)
{
	TpmReader rd;
	uint32_t i, count;
	uint8_t more;

	rd_body(&rd, rsp);
	more = tpm_rd_u8(&rd);
	if (tpm_rd_u32(&rd) != cap)
		return -CONFORM_E_BADRSP;
	count = tpm_rd_u32(&rd);
	if (rd.err || count > (rd.len - rd.off) / 4)
		return -CONFORM_E_BADRSP;
	for (i = 0; i < count && out->n < sizeof(out->v) / sizeof(out->v[0]); i++)
		out->v[out->n++] = tpm_rd_u32(&rd);
	*ret_more = more != 0;
	return 0;
}

int tpm_rsp_cap_property(const TpmRsp *rsp, uint32_t property, uint32_t *ret_value)
{
	TpmReader rd;
	uint32_t count, prop, value;

	rd_body(&rd, rsp);
	tpm_rd_u8(&rd); /* moreData */
	if (tpm_rd_u32(&rd) != TPM_CAP_TPM_PROPERTIES)
		return -CONFORM_E_BADRSP;
	count = tpm_rd_u32(&rd);
	prop = tpm_rd_u32(&rd);
	value = tpm_rd_u32(&rd);
	if (rd.err || count < 1 || prop != property)
		return -CONFORM_E_BADRSP;
	*ret_value = value;
	return 0;
}

int tpm_rsp_context(const TpmRsp *rsp, const uint8_t **ret_ctx, size_t *ret_len,
		    uint32_t *ret_saved_handle)
{
	TpmReader rd;
	uint32_t saved;
	uint16_t blob_len;

	rd_body(&rd, rsp);
	tpm_rd_skip(&rd, 8); /* sequence */
	saved = tpm_rd_u32(&rd);
	tpm_rd_u32(&rd); /* hierarchy */
	tpm_rd_tpm2b(&rd, &blob_len);
	if (rd.err || rd.off != rsp->len)
		return -CONFORM_E_BADRSP;
	*ret_ctx = rsp->buf + TPM_HEADER_SIZE;
	*ret_len = rsp->len - TPM_HEADER_SIZE;
	*ret_saved_handle = saved;
	return 0;
}

int tpm_rsp_public(const TpmRsp *rsp, bool create_primary, const uint8_t **ret_pub,
		   uint16_t *ret_len)
{
	TpmReader rd;
	const uint8_t *pub;
	uint16_t len;

	rd_body(&rd, rsp);
	if (create_primary)
		tpm_rd_skip(&rd, 8); /* objectHandle, parameterSize */
	pub = tpm_rd_tpm2b(&rd, &len);
	if (rd.err || !pub)
		return -CONFORM_E_BADRSP;
	*ret_pub = pub;
	*ret_len = len;
	return 0;
}

int tpm_rsp_digest(const TpmRsp *rsp, const uint8_t **ret_digest, uint16_t *ret_len)
{
	TpmReader rd;
	const uint8_t *d;
	uint16_t len;

	rd_body(&rd, rsp);
	d = tpm_rd_tpm2b(&rd, &len);
	if (rd.err || !d)
		return -CONFORM_E_BADRSP;
	*ret_digest = d;
	*ret_len = len;
	return 0;
}

bool tpm_gr32_ok(const uint8_t *buf, size_t len)
{
	return len == TPM_GR32_RSP_LEN && memcmp(buf, gr32_rsp_head, sizeof(gr32_rsp_head)) == 0;
}

bool tpm_rc_is_handle_error(uint32_t rc)
{
	if (rc & 0x080) /* format 1: the error number is in bits 0-5 */
		return (rc & 0x03f) == (TPM_RC_HANDLE & 0x03f) && rc < 0x1000;
	return rc >= TPM_RC_REFERENCE_H0 && rc <= TPM_RC_REFERENCE_S6;
}

bool tpm_rc_is_auth_error(uint32_t rc)
{
	uint32_t err = rc & 0x03f;

	if (rc == TPM_RC_LOCKOUT)
		return true;
	if (!(rc & 0x080) || rc >= 0x1000)
		return false;
	return err == (TPM_RC_AUTH_FAIL & 0x03f) || err == (TPM_RC_BAD_AUTH & 0x03f) ||
	       err == (TPM_RC_HIERARCHY & 0x03f);
}

bool tpm_list_has(const TpmList *l, uint32_t v)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i] == v)
			return true;
	return false;
}

bool tpm_list_has_index(const TpmList *l, uint32_t handle)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (TPM_HANDLE_INDEX(l->v[i]) == TPM_HANDLE_INDEX(handle))
			return true;
	return false;
}

void tpm_list_format(const TpmList *l, char *buf, size_t cap)
{
	size_t i, off = 0;
	int n;

	buf[0] = '\0';
	if (l->n == 0) {
		snprintf(buf, cap, "(none)");
		return;
	}
	for (i = 0; i < l->n; i++) {
		n = snprintf(buf + off, cap - off, "%s0x%08x", i ? " " : "", l->v[i]);
		if (n < 0 || (size_t)n >= cap - off) {
			if (cap > 4)
				snprintf(buf + cap - 4, 4, "...");
			return;
		}
		off += (size_t)n;
	}
}
