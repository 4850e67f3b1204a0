/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "tpm2-wire.h"

int tpm2_wire_get_bytes(Tpm2Reader *r, size_t n, const uint8_t **ret)
{
	if (n > tpm2_reader_left(r))
		return -EINVAL;
	*ret = r->buf + r->off;
	r->off += n;
	return 0;
}

int tpm2_wire_get_u8(Tpm2Reader *r, uint8_t *ret)
{
	const uint8_t *p;
	int e = tpm2_wire_get_bytes(r, 1, &p);

	if (e == 0)
		*ret = p[0];
	return e;
}

int tpm2_wire_get_u16(Tpm2Reader *r, uint16_t *ret)
{
	const uint8_t *p;
	int e = tpm2_wire_get_bytes(r, 2, &p);

	if (e == 0)
		*ret = tpm2_wire_load_u16(p);
	return e;
}

int tpm2_wire_get_u32(Tpm2Reader *r, uint32_t *ret)
{
	const uint8_t *p;
	int e = tpm2_wire_get_bytes(r, 4, &p);

	if (e == 0)
		*ret = tpm2_wire_load_u32(p);
	return e;
}

int tpm2_wire_get_u64(Tpm2Reader *r, uint64_t *ret)
{
	const uint8_t *p;
	int e = tpm2_wire_get_bytes(r, 8, &p);

	if (e == 0)
		*ret = (uint64_t)tpm2_wire_load_u32(p) << 32 | tpm2_wire_load_u32(p + 4);
	return e;
}

int tpm2_wire_get_tpm2b(Tpm2Reader *r, const uint8_t **ret, uint16_t *ret_size)
{
	size_t start = r->off;
	uint16_t size = 0;
	int e;

	e = tpm2_wire_get_u16(r, &size);
	if (e == 0)
		e = tpm2_wire_get_bytes(r, size, ret);
	if (e < 0) {
		r->off = start;
		return e;
	}
	*ret_size = size;
	return 0;
}

void tpm2_wire_put_bytes(Tpm2Writer *w, const uint8_t *p, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void tpm2_wire_put_u8(Tpm2Writer *w, uint8_t v)
{
	tpm2_wire_put_bytes(w, &v, 1);
}

void tpm2_wire_put_u16(Tpm2Writer *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	tpm2_wire_put_bytes(w, b, sizeof(b));
}

void tpm2_wire_put_u32(Tpm2Writer *w, uint32_t v)
{
	uint8_t b[4];

	tpm2_wire_store_u32(b, v);
	tpm2_wire_put_bytes(w, b, sizeof(b));
}

void tpm2_wire_put_u64(Tpm2Writer *w, uint64_t v)
{
	tpm2_wire_put_u32(w, (uint32_t)(v >> 32));
	tpm2_wire_put_u32(w, (uint32_t)v);
}

void tpm2_wire_put_header(Tpm2Writer *w, uint16_t tag, uint32_t code)
{
	tpm2_wire_put_u16(w, tag);
	tpm2_wire_put_u32(w, 0); /* patched by tpm2_wire_finish() */
	tpm2_wire_put_u32(w, code);
}

int tpm2_wire_finish(Tpm2Writer *w, size_t *ret_len)
{
	if (w->overflow)
		return -ENOBUFS;
	if (w->len < TPM2_WIRE_HEADER_SIZE || w->len > UINT32_MAX)
		return -EINVAL;
	tpm2_wire_store_u32(w->buf + 2, (uint32_t)w->len);
	*ret_len = w->len;
	return 0;
}

int tpm2_wire_header_parse(const uint8_t *buf, size_t len, Tpm2Header *ret)
{
	if (len < TPM2_WIRE_HEADER_SIZE)
		return -EINVAL;
	ret->tag = tpm2_wire_load_u16(buf);
	ret->size = tpm2_wire_load_u32(buf + 2);
	ret->code = tpm2_wire_load_u32(buf + 6);
	return 0;
}

int tpm2_wire_response_check(const uint8_t *rsp, size_t len)
{
	Tpm2Header h;

	if (len > TPM2_WIRE_BUF_MAX || tpm2_wire_header_parse(rsp, len, &h) < 0 || h.size != len)
		return -EFAULT;
	return 0;
}

int tpm2_wire_response_rc(const uint8_t *rsp, size_t len, uint32_t *ret_rc)
{
	if (tpm2_wire_response_check(rsp, len) < 0)
		return -EINVAL;
	*ret_rc = tpm2_wire_load_u32(rsp + 6);
	return 0;
}

/* Shared by the builders below: a header-only command followed by one u16 or u32. */
static int build_u16_cmd(uint8_t *buf, size_t cap, TPM2_CC cc, uint16_t v, size_t *ret_len)
{
	Tpm2Writer w = tpm2_writer_init(buf, cap);

	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, cc);
	tpm2_wire_put_u16(&w, v);
	return tpm2_wire_finish(&w, ret_len);
}

static int build_u32_cmd(uint8_t *buf, size_t cap, TPM2_CC cc, uint32_t v, size_t *ret_len)
{
	Tpm2Writer w = tpm2_writer_init(buf, cap);

	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, cc);
	tpm2_wire_put_u32(&w, v);
	return tpm2_wire_finish(&w, ret_len);
}

int tpm2_wire_build_startup(uint8_t *buf, size_t cap, TPM2_SU type, size_t *ret_len)
{
	return build_u16_cmd(buf, cap, TPM2_CC_Startup, type, ret_len);
}

int tpm2_wire_build_shutdown(uint8_t *buf, size_t cap, TPM2_SU type, size_t *ret_len)
{
	return build_u16_cmd(buf, cap, TPM2_CC_Shutdown, type, ret_len);
}

int tpm2_wire_build_self_test(uint8_t *buf, size_t cap, bool full, size_t *ret_len)
{
	Tpm2Writer w = tpm2_writer_init(buf, cap);

	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, TPM2_CC_SelfTest);
	tpm2_wire_put_u8(&w, full ? 1 : 0);
	return tpm2_wire_finish(&w, ret_len);
}

int tpm2_wire_build_get_capability(uint8_t *buf, size_t cap, TPM2_CAP capability, uint32_t property,
				   uint32_t count, size_t *ret_len)
{
	Tpm2Writer w = tpm2_writer_init(buf, cap);

	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, TPM2_CC_GetCapability);
	tpm2_wire_put_u32(&w, capability);
	tpm2_wire_put_u32(&w, property);
	tpm2_wire_put_u32(&w, count);
	return tpm2_wire_finish(&w, ret_len);
}

int tpm2_wire_build_context_save(uint8_t *buf, size_t cap, TPM2_HANDLE handle, size_t *ret_len)
{
	return build_u32_cmd(buf, cap, TPM2_CC_ContextSave, handle, ret_len);
}

int tpm2_wire_build_flush_context(uint8_t *buf, size_t cap, TPM2_HANDLE handle, size_t *ret_len)
{
	return build_u32_cmd(buf, cap, TPM2_CC_FlushContext, handle, ret_len);
}

int tpm2_wire_build_context_load(uint8_t *buf, size_t cap, const uint8_t *context,
				 size_t context_len, size_t *ret_len)
{
	Tpm2Writer w = tpm2_writer_init(buf, cap);
	Tpm2Context parsed;

	if (tpm2_wire_context_parse(context, context_len, &parsed) < 0)
		return -EINVAL;
	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, TPM2_CC_ContextLoad);
	tpm2_wire_put_bytes(&w, context, context_len);
	return tpm2_wire_finish(&w, ret_len);
}

/* TPMS_CONTEXT: sequence u64, savedHandle u32, hierarchy u32, contextBlob TPM2B. */
static int get_context(Tpm2Reader *r, Tpm2Context *ret)
{
	const uint8_t *blob;
	Tpm2Context c;

	if (tpm2_wire_get_u64(r, &c.sequence) < 0 || tpm2_wire_get_u32(r, &c.saved_handle) < 0 ||
	    tpm2_wire_get_u32(r, &c.hierarchy) < 0 ||
	    tpm2_wire_get_tpm2b(r, &blob, &c.blob_size) < 0)
		return -EINVAL;
	*ret = c;
	return 0;
}

int tpm2_wire_context_parse(const uint8_t *ctx, size_t len, Tpm2Context *ret)
{
	Tpm2Reader r = tpm2_reader_init(ctx, len);
	Tpm2Context c;

	if (get_context(&r, &c) < 0 || tpm2_reader_left(&r) != 0)
		return -EINVAL;
	*ret = c;
	return 0;
}

/* A reader positioned after the header of a well-formed response with rc 0. */
static int success_body(const uint8_t *rsp, size_t len, Tpm2Reader *ret)
{
	uint32_t rc;

	if (tpm2_wire_response_rc(rsp, len, &rc) < 0 || rc != TPM2_RC_SUCCESS)
		return -EINVAL;
	*ret = tpm2_reader_init(rsp, len);
	ret->off = TPM2_WIRE_HEADER_SIZE;
	return 0;
}

int tpm2_wire_parse_context_save_rsp(const uint8_t *rsp, size_t len, const uint8_t **ret_ctx,
				     size_t *ret_ctx_len)
{
	Tpm2Reader r;
	Tpm2Context c;
	size_t start;

	if (success_body(rsp, len, &r) < 0)
		return -EINVAL;
	start = r.off;
	if (get_context(&r, &c) < 0 || tpm2_reader_left(&r) != 0)
		return -EINVAL;
	*ret_ctx = rsp + start;
	*ret_ctx_len = r.off - start;
	return 0;
}

int tpm2_wire_parse_handle_rsp(const uint8_t *rsp, size_t len, TPM2_HANDLE *ret_handle)
{
	Tpm2Reader r;

	if (success_body(rsp, len, &r) < 0)
		return -EINVAL;
	return tpm2_wire_get_u32(&r, ret_handle);
}

static size_t cap_item_size(TPM2_CAP capability)
{
	switch (capability) {
	case TPM2_CAP_HANDLES:
	case TPM2_CAP_COMMANDS:
	case TPM2_CAP_PP_COMMANDS:
	case TPM2_CAP_AUDIT_COMMANDS:
		return 4;
	case TPM2_CAP_TPM_PROPERTIES:
		return 8;
	default:
		return 0;
	}
}

int tpm2_wire_parse_cap_rsp(const uint8_t *rsp, size_t len, Tpm2CapData *ret)
{
	Tpm2Reader r;
	Tpm2CapData d;
	uint8_t more;

	if (success_body(rsp, len, &r) < 0 || tpm2_wire_get_u8(&r, &more) < 0 ||
	    tpm2_wire_get_u32(&r, &d.capability) < 0 || tpm2_wire_get_u32(&r, &d.count) < 0)
		return -EINVAL;
	d.item_size = cap_item_size(d.capability);
	if (d.item_size == 0)
		return -EOPNOTSUPP;
	/* Divide rather than multiply: count comes from the TPM and may be anything. */
	if (tpm2_reader_left(&r) % d.item_size != 0 ||
	    tpm2_reader_left(&r) / d.item_size != d.count)
		return -EINVAL;
	d.more_data = more != 0;
	d.items = r.buf + r.off;
	*ret = d;
	return 0;
}
