/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-space tables, and the translation of one command and its response between the
 * client's virtual handles and the TPM's physical ones (spec I2, I4, I5).
 */
#include <errno.h>
#include <string.h>

#include "rm-internal.h"

/* @full: allocate the buffers at their cap now (the work copy); else grow on demand. */
void rm_tables_init(RmTables *t, const RmOptions *opts, bool full)
{
	memset(t, 0, sizeof(*t));
	t->context_tbl = g_new0(uint32_t, opts->max_objects);
	t->session_tbl = g_new0(uint32_t, opts->max_sessions);
	if (full) {
		t->context_buf.data = g_malloc0(opts->context_bytes);
		t->context_buf.cap = opts->context_bytes;
		t->session_buf.data = g_malloc0(opts->context_bytes);
		t->session_buf.cap = opts->context_bytes;
	}
}

void rm_tables_clear(RmTables *t)
{
	g_clear_pointer(&t->context_tbl, g_free);
	g_clear_pointer(&t->session_tbl, g_free);
	g_clear_pointer(&t->context_buf.data, g_free);
	g_clear_pointer(&t->session_buf.data, g_free);
	t->context_buf.len = t->context_buf.cap = 0;
	t->session_buf.len = t->session_buf.cap = 0;
}

/*
 * Copy @src's bytes into @dst.  A buffer with room keeps its allocation (the work copy);
 * otherwise it is sized to the bytes in use, so an idle space holds no more than its
 * contexts.
 */
static void buf_copy(RmBuf *dst, const RmBuf *src, bool keep)
{
	if (!keep || dst->cap < src->len) {
		g_free(dst->data);
		dst->data = src->len ? g_memdup2(src->data, src->len) : NULL;
		dst->cap = src->len;
	} else if (src->len) {
		memcpy(dst->data, src->data, src->len);
	}
	dst->len = src->len;
}

void rm_tables_copy(RmTables *dst, const RmTables *src, const RmOptions *opts)
{
	bool keep = dst->context_buf.cap == opts->context_bytes;

	memcpy(dst->context_tbl, src->context_tbl, opts->max_objects * sizeof(uint32_t));
	memcpy(dst->session_tbl, src->session_tbl, opts->max_sessions * sizeof(uint32_t));
	buf_copy(&dst->context_buf, &src->context_buf, keep);
	buf_copy(&dst->session_buf, &src->session_buf, keep);
}

/* I2: vhandle 0x80FFFFFF - i names slot i. */
static uint32_t slot_vhandle(unsigned int slot)
{
	return RM_HT_TRANSIENT | (0xFFFFFFu - slot);
}

/*
 * I2: the kernel's tpm2_map_command().  The first cHandles handles after the header
 * that are transient (top byte 0x80) are replaced by the physical handle of the slot
 * they name; a handle naming no loaded slot is -EINVAL.  Everything else passes as is:
 * persistent, NV, PCR, permanent and session handles, parameters, authorisations.
 */
int rm_map_command(Rm *rm, uint32_t attrs, uint8_t *cmd)
{
	unsigned int nr_handles = (attrs >> RM_CC_CHANDLES_SHIFT) & RM_CC_CHANDLES_MASK;
	RmTables *w = &rm->work;

	for (unsigned int i = 0; i < nr_handles; i++) {
		uint8_t *p = cmd + TPM2_WIRE_HEADER_SIZE + (size_t)4 * i;
		uint32_t vhandle = tpm2_wire_load_u32(p);
		unsigned int slot;

		if ((vhandle & RM_HT_MASK) != RM_HT_TRANSIENT)
			continue;
		slot = 0xFFFFFFu - (vhandle & 0xFFFFFFu);
		if (slot >= rm->opts.max_objects || w->context_tbl[slot] == RM_SLOT_FREE) {
			g_debug("handle 0x%08x names no object of this space", vhandle);
			return -EINVAL;
		}
		g_debug("vhandle 0x%08x -> phandle 0x%08x", vhandle, w->context_tbl[slot]);
		tpm2_wire_store_u32(p, w->context_tbl[slot]);
	}
	return 0;
}

static bool add_session(Rm *rm, uint32_t handle)
{
	for (unsigned int i = 0; i < rm->opts.max_sessions; i++) {
		if (rm->work.session_tbl[i] == 0) {
			rm->work.session_tbl[i] = handle;
			return true;
		}
	}
	return false;
}

static bool add_object(Rm *rm, uint32_t phandle, unsigned int *ret_slot)
{
	for (unsigned int i = 0; i < rm->opts.max_objects; i++) {
		if (rm->work.context_tbl[i] == RM_SLOT_FREE) {
			rm->work.context_tbl[i] = phandle;
			*ret_slot = i;
			return true;
		}
	}
	return false;
}

/*
 * I4, I18: the kernel's tpm2_map_response_header().  After a successful command with
 * rHandle set, a new transient object takes the lowest free slot and the client sees its
 * vhandle; a new session is recorded, untranslated.  No room: the new entity is flushed
 * and the command fails with -ENOMEM, its response lost.
 */
int rm_map_response_header(Rm *rm, uint32_t attrs, uint8_t *rsp, size_t len)
{
	uint32_t phandle;
	unsigned int slot;

	if (tpm2_wire_load_u32(rsp + 6) != TPM2_RC_SUCCESS || !(attrs & RM_CC_RHANDLE))
		return 0;
	/* TPM bytes are untrusted: a success without the handle is a broken response. */
	if (len < TPM2_WIRE_HEADER_SIZE + 4)
		return -EFAULT;
	phandle = tpm2_wire_load_u32(rsp + TPM2_WIRE_HEADER_SIZE);

	switch (phandle & RM_HT_MASK) {
	case RM_HT_TRANSIENT:
		if (!add_object(rm, phandle, &slot))
			goto out_no_slots;
		g_debug("new object 0x%08x -> vhandle 0x%08x", phandle, slot_vhandle(slot));
		tpm2_wire_store_u32(rsp + TPM2_WIRE_HEADER_SIZE, slot_vhandle(slot));
		return 0;
	case RM_HT_HMAC:
	case RM_HT_POLICY:
		if (!add_session(rm, phandle))
			goto out_no_slots;
		g_debug("new session 0x%08x", phandle);
		return 0;
	default:
		g_debug("response handle 0x%08x is neither an object nor a session", phandle);
		return 0;
	}

out_no_slots:
	rm_context_flush(rm, phandle);
	g_debug("out of slots for 0x%08x", phandle);
	return -ENOMEM;
}

/*
 * I5: the kernel's tpm2_map_response_body().  GetCapability(TPM_CAP_HANDLES) lists this
 * space's objects by vhandle, drops other transient handles and keeps the rest; the
 * response must be exactly header + 9 + 4 * count bytes.  moreData is left alone
 * (and, RM_QUIRK_GETCAP_START_UNTRANSLATED, the command's start handle was not mapped).
 */
int rm_map_response_body(Rm *rm, uint32_t cc, uint8_t *rsp, size_t *len)
{
	uint8_t *data = rsp + TPM2_WIRE_HEADER_SIZE;
	uint32_t count, j = 0;

	if (cc != TPM2_CC_GetCapability || tpm2_wire_load_u32(rsp + 6) != TPM2_RC_SUCCESS)
		return 0;
	if (*len < TPM2_WIRE_HEADER_SIZE + 9)
		return -EFAULT;
	if (tpm2_wire_load_u32(data + 1) != TPM2_CAP_HANDLES)
		return 0;
	count = tpm2_wire_load_u32(data + 5);
	if (count > (UINT32_MAX - TPM2_WIRE_HEADER_SIZE - 9) / 4 ||
	    *len != TPM2_WIRE_HEADER_SIZE + 9 + 4 * (size_t)count)
		return -EFAULT;

	for (uint32_t i = 0; i < count; i++) {
		uint32_t h = tpm2_wire_load_u32(data + 9 + (size_t)4 * i);

		if ((h & RM_HT_MASK) == RM_HT_TRANSIENT) {
			unsigned int slot;

			for (slot = 0; slot < rm->opts.max_objects; slot++)
				if (rm->work.context_tbl[slot] == h)
					break;
			if (slot == rm->opts.max_objects)
				continue; /* not ours: dropped */
			h = slot_vhandle(slot);
		}
		tpm2_wire_store_u32(data + 9 + (size_t)4 * j++, h);
	}
	*len = TPM2_WIRE_HEADER_SIZE + 9 + 4 * (size_t)j;
	tpm2_wire_store_u32(rsp + 2, (uint32_t)*len);
	tpm2_wire_store_u32(data + 5, j);
	return 0;
}
