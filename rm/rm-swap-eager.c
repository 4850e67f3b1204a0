/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The eager swap strategy, the kernel's: before each command every saved object and
 * every session of the space is loaded (I1); after it every object is saved and flushed
 * and every session saved (I6), so nothing of the space stays resident between commands
 * (I7).  Costs up to 15 extra TPM commands per client command (I22).
 */
#include <errno.h>

#include "rm-internal.h"

/* I12: the kernel's tpm2_flush_space(). */
static void eager_flush(Rm *rm, RmTables *w)
{
	for (unsigned int i = 0; i < rm->opts.max_objects; i++)
		if (w->context_tbl[i] != RM_SLOT_FREE && w->context_tbl[i] != RM_SLOT_SAVED)
			rm_context_flush(rm, w->context_tbl[i]);
	/*
	 * RM_QUIRK_SESSION_LOSS_ON_ERROR: every session of the space goes, loaded or not, so
	 * a failed command costs the client its sessions (the kernel's "session handling is
	 * hard").  Only the kernel behaviour exists so far.
	 */
	for (unsigned int i = 0; i < rm->opts.max_sessions; i++)
		if (w->session_tbl[i])
			rm_context_flush(rm, w->session_tbl[i]);
}

/* I1, I11: the kernel's tpm2_load_space(). */
static int eager_swap_in(Rm *rm, RmTables *w)
{
	size_t offset = 0;
	uint32_t handle;
	int r;

	for (unsigned int i = 0; i < rm->opts.max_objects; i++) {
		if (w->context_tbl[i] == RM_SLOT_FREE)
			continue;
		if (w->context_tbl[i] != RM_SLOT_SAVED) {
			g_debug("context table is inconsistent");
			r = -EFAULT;
			goto err_flush;
		}
		/* RM_QUIRK_WEDGE_ON_OBJECT_RELOAD: the saved context stays; so does the error. */
		r = rm_context_load(rm, &w->context_buf, &offset, &w->context_tbl[i]);
		if (r < 0)
			goto err_flush;
		g_debug("object slot %u loaded at 0x%08x", i, w->context_tbl[i]);
	}

	offset = 0;
	for (unsigned int i = 0; i < rm->opts.max_sessions; i++) {
		handle = 0;
		if (!w->session_tbl[i])
			continue;
		/*
		 * RM_QUIRK_SESSION_RELOAD_OFFSET: after -ENOENT the offset stays where the
		 * failed body is, so the next session is loaded from that body too.
		 */
		r = rm_context_load(rm, &w->session_buf, &offset, &handle);
		if (r == -ENOENT) {
			g_debug("session 0x%08x is gone, forgetting it", w->session_tbl[i]);
			rm->stats.forgotten_sessions++;
			w->session_tbl[i] = 0;
		} else if (r < 0) {
			goto err_flush_twice;
		}
		if (handle != w->session_tbl[i]) {
			g_debug("session restored to wrong handle 0x%08x", handle);
			r = -EFAULT;
			goto err_flush_twice;
		}
	}
	return 0;

err_flush_twice:
	/* The kernel's tpm2_load_space() flushes here, and tpm2_prepare_space() again. */
	eager_flush(rm, w);
err_flush:
	eager_flush(rm, w);
	return r;
}

/* I6, I8-I10: the kernel's tpm2_save_space(). */
static int eager_swap_out(Rm *rm, RmTables *w)
{
	size_t offset = 0;
	int r;

	for (unsigned int i = 0; i < rm->opts.max_objects; i++) {
		uint32_t phandle = w->context_tbl[i];

		if (phandle == RM_SLOT_FREE || phandle == RM_SLOT_SAVED)
			continue;
		r = rm_context_save(rm, phandle, &w->context_buf, &offset);
		if (r == -ENOENT) { /* I8: flushed by the client; the slot is free again */
			g_debug("object slot %u (0x%08x) is gone, freeing the slot", i, phandle);
			rm->stats.forgotten_objects++;
			w->context_tbl[i] = RM_SLOT_FREE;
			continue;
		}
		if (r < 0)
			return r; /* the caller flushes */
		rm_context_flush(rm, phandle);
		w->context_tbl[i] = RM_SLOT_SAVED;
	}
	w->context_buf.len = offset;

	offset = 0;
	for (unsigned int i = 0; i < rm->opts.max_sessions; i++) {
		if (!w->session_tbl[i])
			continue;
		r = rm_context_save(rm, w->session_tbl[i], &w->session_buf, &offset);
		if (r == -ENOENT) { /* I9, I16: flushed, ended, or saved by the client */
			g_debug("session 0x%08x is no longer loaded, forgetting it",
				w->session_tbl[i]);
			rm->stats.forgotten_sessions++;
			w->session_tbl[i] = 0;
		} else if (r < 0) {
			eager_flush(rm, w); /* the kernel flushes here, and the caller again */
			return r;
		}
	}
	w->session_buf.len = offset;
	return 0;
}

const RmSwapOps rm_swap_eager = {
	.name = "eager",
	.swap_in = eager_swap_in,
	.swap_out = eager_swap_out,
	.flush = eager_flush,
};
