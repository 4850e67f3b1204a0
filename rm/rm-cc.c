/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The TPM's command table (spec H1, H2): which command codes exist, how many handles
 * each takes in its handle area, and whether it returns a handle.
 */
#include <errno.h>

#include "rm-internal.h"

/* Plenty for any TPM (TPM 2.0 defines about 120 commands), and a bound on a liar. */
#define RM_CC_TABLE_MAX 1024u
#define RM_CC_PAGE	256u

/* The command code an attribute word describes: index, plus the V bit for vendor codes. */
static uint32_t attrs_cc(uint32_t attrs)
{
	return attrs & (RM_CC_INDEX_MASK | RM_CC_VENDOR);
}

/*
 * H1: ContextSave and FlushContext get cHandles = 1, so that their handle parameter is
 * translated like a handle-area handle.
 */
static uint32_t fix_attrs(uint32_t attrs)
{
	uint32_t cc = attrs & RM_CC_INDEX_MASK;

	if (cc == TPM2_CC_ContextSave || cc == TPM2_CC_FlushContext) {
		attrs &= ~(RM_CC_CHANDLES_MASK << RM_CC_CHANDLES_SHIFT);
		attrs |= 1u << RM_CC_CHANDLES_SHIFT;
	}
	return attrs;
}

/* One GetCapability(TPM_CAP_COMMANDS) page from @first; appends to @table. */
static int load_page(Rm *rm, uint32_t first, GArray *table, bool *ret_more, uint32_t *ret_next)
{
	uint8_t cmd[32];
	Tpm2CapData cap;
	size_t len;
	uint32_t rc, attrs = 0;
	int r;

	r = tpm2_wire_build_get_capability(cmd, sizeof(cmd), TPM2_CAP_COMMANDS, first, RM_CC_PAGE,
					   &len);
	if (r == 0)
		r = rm_transmit(rm, cmd, len, rm->own_rsp, sizeof(rm->own_rsp), &len);
	if (r < 0)
		return r;
	rc = tpm2_wire_load_u32(rm->own_rsp + 6);
	if (rc != TPM2_RC_SUCCESS) {
		g_debug("GetCapability(TPM_CAP_COMMANDS) answered 0x%08x", rc);
		return -EIO;
	}
	if (tpm2_wire_parse_cap_rsp(rm->own_rsp, len, &cap) < 0 ||
	    cap.capability != TPM2_CAP_COMMANDS || table->len + cap.count > RM_CC_TABLE_MAX)
		return -EFAULT;
	for (uint32_t i = 0; i < cap.count; i++) {
		attrs = fix_attrs(tpm2_wire_load_u32(cap.items + (size_t)4 * i));
		g_array_append_val(table, attrs);
	}
	*ret_more = cap.more_data && cap.count > 0;
	*ret_next = attrs_cc(attrs) + 1;
	/* A TPM that does not move forward would loop for ever. */
	if (*ret_more && *ret_next <= first)
		return -EFAULT;
	return 0;
}

int rm_cc_table_load(Rm *rm)
{
	g_autoptr(GArray) table = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	uint32_t first = TPM2_CC_FIRST;
	bool more = true;
	int r;

	while (more) {
		r = load_page(rm, first, table, &more, &first);
		if (r < 0)
			return r;
	}
	if (table->len == 0)
		return -EIO; /* H4: a TPM with no commands cannot be served */
	rm->nr_commands = table->len;
	rm->cc_attrs = (uint32_t *)(void *)g_array_free(g_steal_pointer(&table), FALSE);
	g_debug("the TPM implements %zu commands", rm->nr_commands);
	return 0;
}

/* H2: the kernel's tpm2_find_cc(): cc compared with the index and the V bit. */
bool rm_cc_find(const Rm *rm, uint32_t cc, uint32_t *ret_attrs)
{
	for (size_t i = 0; i < rm->nr_commands; i++) {
		if (attrs_cc(rm->cc_attrs[i]) == cc) {
			*ret_attrs = rm->cc_attrs[i];
			return true;
		}
	}
	return false;
}
