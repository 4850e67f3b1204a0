/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The TPM commands the resource manager sends: the transmit path with the kernel's retry
 * rules, and ContextLoad / ContextSave / FlushContext of one entity, with the kernel's
 * mapping of TPM answers to errnos (spec I3, I8-I11, B9).
 */
#include <errno.h>
#include <string.h>

#include "rm-internal.h"

/* The kernel's TPM2_DURATION_SHORT and TPM2_DURATION_LONG, in ms. */
#define RM_RETRY_FIRST_MS 20u
#define RM_RETRY_LAST_MS  2000u

/* Kernel 6.10+ tpm2_rc_value(): format-one codes lose their parameter/handle number. */
uint32_t rm_rc_value(uint32_t rc)
{
	return (rc & 0x80u) ? rc & 0xbfu : rc;
}

static void count_backend_command(Rm *rm)
{
	rm->stats.backend_commands++;
	if (rm->current)
		rm->current->backend_commands++;
}

/*
 * I3, B9: the kernel's tpm_transmit().  ENODATA for a header size of 0; exactly the
 * header's size goes to the TPM.  TPM_RC_RETRY, and TPM_RC_TESTING except for SelfTest,
 * are retried after 20, 40 ... 1280 ms, so no client sees them unless the TPM keeps
 * answering so for longer than that.
 */
int rm_transmit(Rm *rm, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t rsp_cap,
		size_t *ret_rsp_len)
{
	unsigned int delay_ms = RM_RETRY_FIRST_MS;
	Tpm2Header h;
	uint32_t rc;
	int r;

	if (tpm2_wire_header_parse(cmd, cmd_len, &h) < 0)
		return -EINVAL;
	if (h.size == 0)
		return -ENODATA;
	if (h.size > cmd_len)
		return -E2BIG;

	for (;;) {
		count_backend_command(rm);
		r = tpm_backend_transmit(rm->backend, cmd, h.size, rsp, rsp_cap, ret_rsp_len);
		if (r < 0)
			return r;
		rc = tpm2_wire_load_u32(rsp + 6);
		if (rc != TPM2_RC_RETRY && rc != TPM2_RC_TESTING)
			return 0;
		if (rc == TPM2_RC_TESTING && h.code == TPM2_CC_SelfTest)
			return 0;
		if (delay_ms > RM_RETRY_LAST_MS) {
			g_debug("cc 0x%08x: TPM still answers 0x%08x, giving up", h.code, rc);
			return 0;
		}
		g_debug("cc 0x%08x: TPM answered 0x%08x, retrying in %u ms", h.code, rc, delay_ms);
		if (rm->opts.sleep_ms)
			rm->opts.sleep_ms(delay_ms);
		else
			g_usleep((gulong)delay_ms * 1000);
		delay_ms *= 2;
	}
}

/*
 * The kernel's tpm_transmit_cmd() for the RM's own commands: a negative errno for a
 * system error, else the TPM's response code in *ret_rc; a successful response shorter
 * than the header plus @min_body is -EFAULT.
 */
static int rm_call(Rm *rm, const uint8_t *cmd, size_t cmd_len, size_t min_body, size_t *ret_len,
		   uint32_t *ret_rc)
{
	size_t len = 0;
	int r;

	r = rm_transmit(rm, cmd, cmd_len, rm->own_rsp, sizeof(rm->own_rsp), &len);
	if (r < 0)
		return r;
	*ret_rc = tpm2_wire_load_u32(rm->own_rsp + 6);
	if (*ret_rc == TPM2_RC_SUCCESS && len < TPM2_WIRE_HEADER_SIZE + min_body)
		return -EFAULT;
	*ret_len = len;
	return 0;
}

/*
 * I11: ContextLoad of the body at *@offset.  0 and the new handle (offset advanced);
 * -ENOENT for TPM_RC_HANDLE or TPM_RC_REFERENCE_H0 (handle set to 0, offset NOT advanced,
 * as in the kernel); -EINVAL for TPM_RC_INTEGRITY; -EFAULT for anything else.
 */
int rm_context_load(Rm *rm, RmBuf *buf, size_t *offset, uint32_t *ret_handle)
{
	uint8_t cmd[RM_BUF_MAX];
	const uint8_t *body;
	Tpm2Reader rd;
	Tpm2Context c;
	size_t len, body_len;
	uint32_t rc = 0;
	int r;

	/* The body was checked when it was saved; a short one means the tables are broken. */
	if (*offset > buf->len)
		return -EFAULT;
	rd = tpm2_reader_init(buf->data + *offset, buf->len - *offset);
	if (tpm2_wire_get_bytes(&rd, 16, &body) < 0 ||
	    tpm2_wire_get_tpm2b(&rd, &body, &c.blob_size) < 0)
		return -EFAULT;
	body_len = rd.off;
	if (tpm2_wire_build_context_load(cmd, sizeof(cmd), buf->data + *offset, body_len, &len))
		return -EFAULT;

	rm->stats.context_loads++;
	r = rm_call(rm, cmd, len, 4, &len, &rc);
	if (r < 0) {
		g_debug("ContextLoad failed with a system error: %s", g_strerror(-r));
		return -EFAULT;
	}
	if (rm_rc_value(rc) == TPM2_RC_HANDLE || rc == TPM2_RC_REFERENCE_H0) {
		*ret_handle = 0;
		return -ENOENT;
	}
	if (rm_rc_value(rc) == TPM2_RC_INTEGRITY)
		return -EINVAL;
	if (rc != TPM2_RC_SUCCESS) {
		g_debug("ContextLoad failed with TPM error 0x%08x", rc);
		return -EFAULT;
	}
	*ret_handle = tpm2_wire_load_u32(rm->own_rsp + TPM2_WIRE_HEADER_SIZE);
	*offset += body_len;
	return 0;
}

/*
 * I8-I10: ContextSave of @handle, its body appended at *@offset.  -ENOENT for
 * TPM_RC_REFERENCE_H0 (the entity is gone); -EFAULT for any other TPM or system error,
 * and for a malformed context; -ENOMEM when the buffer would pass its cap.
 */
int rm_context_save(Rm *rm, uint32_t handle, RmBuf *buf, size_t *offset)
{
	uint8_t cmd[16];
	const uint8_t *ctx;
	size_t len, ctx_len;
	uint32_t rc = 0;
	int r;

	r = tpm2_wire_build_context_save(cmd, sizeof(cmd), handle, &len);
	if (r < 0)
		return r;
	rm->stats.context_saves++;
	r = rm_call(rm, cmd, len, 0, &len, &rc);
	if (r < 0) {
		g_debug("ContextSave 0x%08x failed with a system error: %s", handle,
			g_strerror(-r));
		return -EFAULT;
	}
	if (rm_rc_value(rc) == TPM2_RC_REFERENCE_H0)
		return -ENOENT;
	if (rc != TPM2_RC_SUCCESS) {
		g_debug("ContextSave 0x%08x failed with TPM error 0x%08x", handle, rc);
		return -EFAULT;
	}
	/* TPM bytes are untrusted: the body must be one well-formed TPMS_CONTEXT. */
	if (tpm2_wire_parse_context_save_rsp(rm->own_rsp, len, &ctx, &ctx_len) < 0)
		return -EFAULT;
	if (*offset + ctx_len > buf->cap) {
		g_debug("ContextSave 0x%08x: out of backing storage", handle);
		return -ENOMEM;
	}
	memcpy(buf->data + *offset, ctx, ctx_len);
	*offset += ctx_len;
	return 0;
}

/* The kernel's tpm2_flush_context(): errors are ignored. */
void rm_context_flush(Rm *rm, uint32_t handle)
{
	uint8_t cmd[16];
	size_t len;
	uint32_t rc = 0;

	if (tpm2_wire_build_flush_context(cmd, sizeof(cmd), handle, &len) < 0)
		return;
	rm->stats.flushes++;
	if (rm_call(rm, cmd, len, 0, &len, &rc) < 0 || rc != TPM2_RC_SUCCESS)
		g_debug("FlushContext 0x%08x failed (rc 0x%08x)", handle, rc);
}
