/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "fuzz check failed at %s:%d: %s: %s\n", file, line, cond, msg);
	abort();
}

static void quiet_log(const gchar *domain, GLogLevelFlags level, const gchar *message,
		      gpointer user)
{
	(void)user;
	if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO | G_LOG_LEVEL_MESSAGE))
		return;
	g_log_default_handler(domain, level, message, NULL);
}

void fuzz_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	if (!g_getenv("TPMRM_FUZZ_VERBOSE"))
		g_log_set_default_handler(quiet_log, NULL);
}

uint8_t fuzz_in_u8(FuzzIn *in)
{
	if (in->off >= in->size) {
		in->eof = true;
		return 0;
	}
	return in->data[in->off++];
}

uint16_t fuzz_in_u16(FuzzIn *in)
{
	uint16_t hi = fuzz_in_u8(in);

	return (uint16_t)(hi << 8 | fuzz_in_u8(in));
}

uint32_t fuzz_in_u32(FuzzIn *in)
{
	uint32_t hi = fuzz_in_u16(in);

	return hi << 16 | fuzz_in_u16(in);
}

size_t fuzz_in_bytes(FuzzIn *in, uint8_t *buf, size_t n)
{
	size_t left = in->size - in->off;

	if (n > left) {
		n = left;
		in->eof = true;
	}
	memcpy(buf, in->data + in->off, n);
	in->off += n;
	return n;
}

void fuzz_no_sleep(unsigned int ms)
{
	(void)ms;
}

size_t fuzz_build_cmd(uint8_t *buf, uint32_t cc, const uint32_t *handles, unsigned int nr_handles,
		      bool pw_session, const uint8_t *params, size_t params_len)
{
	Tpm2Writer w = tpm2_writer_init(buf, TPM2_WIRE_BUF_MAX);
	size_t len = 0;

	tpm2_wire_put_header(&w, pw_session ? TPM2_ST_SESSIONS : TPM2_ST_NO_SESSIONS, cc);
	for (unsigned int i = 0; i < nr_handles; i++)
		tpm2_wire_put_u32(&w, handles[i]);
	if (pw_session) {
		/* authorizationSize, then TPM_RS_PW, empty nonce, continueSession, empty hmac */
		tpm2_wire_put_u32(&w, 9);
		tpm2_wire_put_u32(&w, TPM2_RS_PW);
		tpm2_wire_put_u16(&w, 0);
		tpm2_wire_put_u8(&w, 1);
		tpm2_wire_put_u16(&w, 0);
	}
	tpm2_wire_put_bytes(&w, params, params_len);
	FUZZ_CHECK(tpm2_wire_finish(&w, &len) == 0, "command 0x%08x does not fit", cc);
	return len;
}

void fuzz_check_response(const uint8_t *rsp, size_t len, size_t cap)
{
	FUZZ_CHECK(len <= cap, "response of %zu bytes in a buffer of %zu", len, cap);
	FUZZ_CHECK(len >= TPM2_WIRE_HEADER_SIZE && len <= TPM2_WIRE_BUF_MAX,
		   "response of %zu bytes", len);
	FUZZ_CHECK(tpm2_wire_load_u32(rsp + 2) == len, "header says %u bytes, response has %zu",
		   tpm2_wire_load_u32(rsp + 2), len);
}

bool fuzz_cc_has_rhandle(uint32_t cc)
{
	switch (cc) {
	case TPM2_CC_CreatePrimary:
	case TPM2_CC_Load:
	case TPM2_CC_LoadExternal:
	case TPM2_CC_CreateLoaded:
	case TPM2_CC_StartAuthSession:
	case TPM2_CC_ContextLoad:
	case TPM2_CC_HMAC_Start:
	case TPM2_CC_HashSequenceStart:
		return true;
	default:
		return false;
	}
}

void fuzz_check_handle_listing(const uint8_t *cmd, size_t cmd_len, const uint8_t *rsp,
			       size_t rsp_len, unsigned int max_objects)
{
	Tpm2CapData cap;
	uint64_t seen = 0;

	if (cmd_len < TPM2_WIRE_HEADER_SIZE ||
	    tpm2_wire_load_u32(cmd + 6) != TPM2_CC_GetCapability ||
	    tpm2_wire_parse_cap_rsp(rsp, rsp_len, &cap) < 0 || cap.capability != TPM2_CAP_HANDLES)
		return;
	for (uint32_t i = 0; i < cap.count; i++) {
		uint32_t h = tpm2_wire_load_u32(cap.items + (size_t)4 * i);
		uint32_t slot = FUZZ_VHANDLE(0) - h;

		if ((h & FUZZ_HT_MASK) != FUZZ_HR_TRANSIENT)
			continue;
		FUZZ_CHECK(h <= FUZZ_VHANDLE(0) && slot < max_objects && !(seen & (1ull << slot)),
			   "client sees transient handle 0x%08x", h);
		seen |= 1ull << slot;
	}
}

uint32_t fuzz_pool_pick(FuzzPool *pool, FuzzIn *in, const uint32_t *fixed, size_t n_fixed)
{
	uint8_t b = fuzz_in_u8(in);

	if ((b & 0x80) && pool->n_handles)
		return pool->handles[(b & 0x7f) % pool->n_handles];
	return fixed[b % n_fixed];
}

void fuzz_pool_add_handle(FuzzPool *pool, uint32_t handle)
{
	if (pool->n_handles == FUZZ_POOL_HANDLES) {
		memmove(pool->handles, pool->handles + 1,
			sizeof(pool->handles) - sizeof(pool->handles[0]));
		pool->n_handles--;
	}
	pool->handles[pool->n_handles++] = handle;
}

void fuzz_pool_add_context(FuzzPool *pool, const uint8_t *rsp, size_t rsp_len)
{
	const uint8_t *ctx;
	size_t len, i;

	if (tpm2_wire_parse_context_save_rsp(rsp, rsp_len, &ctx, &len) < 0)
		return;
	/* Full: replace the oldest. */
	if (pool->n_blobs == FUZZ_POOL_BLOBS) {
		g_free(pool->blobs[0]);
		memmove(pool->blobs, pool->blobs + 1, sizeof(pool->blobs) - sizeof(pool->blobs[0]));
		memmove(pool->blob_len, pool->blob_len + 1,
			sizeof(pool->blob_len) - sizeof(pool->blob_len[0]));
		pool->n_blobs--;
	}
	i = pool->n_blobs++;
	pool->blobs[i] = g_memdup2(ctx, len);
	pool->blob_len[i] = len;
}

const uint8_t *fuzz_pool_context(FuzzPool *pool, FuzzIn *in, size_t *ret_len)
{
	uint8_t b = fuzz_in_u8(in);

	if (!pool->n_blobs)
		return NULL;
	*ret_len = pool->blob_len[b % pool->n_blobs];
	return pool->blobs[b % pool->n_blobs];
}

void fuzz_pool_clear(FuzzPool *pool)
{
	for (size_t i = 0; i < pool->n_blobs; i++)
		g_free(pool->blobs[i]);
	memset(pool, 0, sizeof(*pool));
}
