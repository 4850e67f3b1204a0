/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rm_process(): one client command through the resource manager, in the kernel's order
 * (tpm-dev-common.c: tpm_dev_transmit; tpm2-space.c: tpm2_prepare_space,
 * tpm2_commit_space): validate, swap in, translate, transmit, map the response, swap out,
 * commit.  Any failure after swap-in flushes the work copy and commits nothing.
 */
#include <errno.h>
#include <string.h>

#include "rm-internal.h"

/*
 * H3: TPM2_RC_COMMAND_CODE in layer 11, 0x000B0143.  The kernel calls layer 11
 * TSS2_RESMGR_TPM_RC_LAYER; tss2's headers call it TSS2_RESMGR_RC_LAYER (their
 * TSS2_RESMGR_TPM_RC_LAYER is 12).  Clients see the kernel's value.
 */
#define RM_RC_COMMAND_CODE (TSS2_RESMGR_RC_LAYER | TPM2_RC_COMMAND_CODE)
G_STATIC_ASSERT(RM_RC_COMMAND_CODE == 0x000B0143);

void rm_options_init(RmOptions *opts, RmProfile profile)
{
	memset(opts, 0, sizeof(*opts));
	opts->profile = profile;
	opts->quirks = RM_QUIRKS_KERNEL;
	opts->max_objects = RM_KERNEL_MAX_OBJECTS;
	opts->max_sessions = RM_KERNEL_MAX_SESSIONS;
	opts->context_bytes = RM_KERNEL_CONTEXT_BYTES;
}

static int check_options(const RmOptions *o)
{
	if (o->profile != RM_PROFILE_KERNEL || o->max_objects < 1 ||
	    o->max_objects > RM_SLOTS_LIMIT || o->max_sessions < 1 ||
	    o->max_sessions > RM_SLOTS_LIMIT || o->context_bytes < 64 ||
	    o->context_bytes > (size_t)16 * 1024 * 1024 || (o->quirks & ~RM_QUIRKS_KERNEL))
		return -EINVAL;
	if ((~o->quirks & RM_QUIRKS_KERNEL) & ~RM_QUIRKS_FIXABLE)
		return -EOPNOTSUPP;
	return 0;
}

int rm_new(TpmBackend *backend, const RmOptions *opts, Rm **ret)
{
	g_autoptr(Rm) rm = NULL;
	int r;

	g_return_val_if_fail(backend && ret, -EINVAL);
	rm = g_new0(Rm, 1);
	g_mutex_init(&rm->lock);
	g_mutex_init(&rm->space_lock);
	rm->backend = backend;
	if (opts)
		rm->opts = *opts;
	else
		rm_options_init(&rm->opts, RM_PROFILE_KERNEL);
	r = check_options(&rm->opts);
	if (r < 0)
		return r;
	rm->swap = &rm_swap_eager;
	rm_tables_init(&rm->work, &rm->opts, true);
	rm->next_space_id = 1;

	r = rm_cc_table_load(rm);
	if (r < 0) {
		g_debug("cannot read the TPM's command table: %s", g_strerror(-r));
		return r;
	}
	*ret = g_steal_pointer(&rm);
	return 0;
}

void rm_free(Rm *rm)
{
	if (!rm)
		return;
	rm_tables_clear(&rm->work);
	g_free(rm->cc_attrs);
	g_mutex_clear(&rm->space_lock);
	g_mutex_clear(&rm->lock);
	g_free(rm);
}

RmSpace *rm_space_new(Rm *rm, const RmCaller *caller)
{
	RmSpace *space = g_new0(RmSpace, 1);

	space->rm = rm;
	if (caller)
		space->caller = *caller;
	rm_tables_init(&space->tables, &rm->opts, false);

	/* A1: opening allocates and never waits for the TPM, so not under rm->lock. */
	g_mutex_lock(&rm->space_lock);
	space->id = rm->next_space_id++;
	rm->stats.spaces_open++;
	g_mutex_unlock(&rm->space_lock);
	g_debug("space %" G_GUINT64_FORMAT ": new (uid %u, pid %d)", space->id,
		(unsigned int)space->caller.uid, (int)space->caller.pid);
	return space;
}

/*
 * A5: the kernel's tpm2_del_space(): FlushContext for every session still tracked (errors
 * ignored).  Saved objects need nothing: they are never resident between commands.
 */
void rm_space_free(RmSpace *space)
{
	Rm *rm;

	if (!space)
		return;
	rm = space->rm;
	g_mutex_lock(&rm->lock);
	rm->current = space;
	for (unsigned int i = 0; i < rm->opts.max_sessions; i++)
		if (space->tables.session_tbl[i])
			rm_context_flush(rm, space->tables.session_tbl[i]);
	rm->current = NULL;
	g_mutex_unlock(&rm->lock);

	g_mutex_lock(&rm->space_lock);
	rm->stats.spaces_open--;
	rm->stats.spaces_freed++;
	g_mutex_unlock(&rm->space_lock);
	g_debug("space %" G_GUINT64_FORMAT ": freed", space->id);

	rm_tables_clear(&space->tables);
	g_free(space);
}

uint64_t rm_space_id(const RmSpace *space)
{
	return space->id;
}

const RmCaller *rm_space_caller(const RmSpace *space)
{
	return &space->caller;
}

/* H3: the only TPM response the RM makes up. */
static int synth_rc(uint32_t rc, uint8_t *rsp, size_t rsp_cap, size_t *ret_len)
{
	Tpm2Writer w = tpm2_writer_init(rsp, rsp_cap);

	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, rc);
	return tpm2_wire_finish(&w, ret_len);
}

/*
 * H2-H5 and I1-I2: the kernel's tpm_find_and_validate_cc() and tpm2_prepare_space().
 * -EOPNOTSUPP for a command code the TPM does not implement (answered by the RM).
 */
static int prepare(Rm *rm, RmSpace *space, size_t cmd_len, uint32_t *ret_attrs)
{
	uint32_t cc = tpm2_wire_load_u32(rm->cmd + 6);
	unsigned int nr_handles;
	int r;

	if (!rm_cc_find(rm, cc, ret_attrs)) {
		g_debug("space %" G_GUINT64_FORMAT ": 0x%08x is not a command of this TPM",
			space->id, cc);
		return -EOPNOTSUPP;
	}
	/*
	 * H5: the kernel compares the handle area with its 4096-byte buffer, never with what
	 * was written (RM_QUIRK_NO_HANDLE_AREA_CHECK); missing handle bytes read as zero.
	 */
	nr_handles = (*ret_attrs >> RM_CC_CHANDLES_SHIFT) & RM_CC_CHANDLES_MASK;
	if (!(rm->opts.quirks & RM_QUIRK_NO_HANDLE_AREA_CHECK) &&
	    cmd_len < TPM2_WIRE_HEADER_SIZE + 4 * nr_handles)
		return -EINVAL;

	rm_tables_copy(&rm->work, &space->tables, &rm->opts);
	r = rm->swap->swap_in(rm, &rm->work);
	if (r < 0)
		return r; /* swap_in flushed what it loaded */
	r = rm_map_command(rm, *ret_attrs, rm->cmd);
	if (r < 0)
		rm->swap->flush(rm, &rm->work);
	return r;
}

/* I4-I6: the kernel's tpm2_commit_space(). */
static int commit(Rm *rm, RmSpace *space, uint32_t attrs, uint8_t *rsp, size_t *len)
{
	uint32_t cc = tpm2_wire_load_u32(rm->cmd + 6);
	int r;

	r = rm_map_response_header(rm, attrs, rsp, *len);
	if (r == 0)
		r = rm_map_response_body(rm, cc, rsp, len);
	if (r == 0)
		r = rm->swap->swap_out(rm, &rm->work);
	if (r < 0) {
		rm->swap->flush(rm, &rm->work);
		return r;
	}
	rm_tables_copy(&space->tables, &rm->work, &rm->opts);
	return 0;
}

void rm_count_errno(Rm *rm, int r)
{
	rm->stats.errors[rm_errno_index(-r)]++;
}

/*
 * What write() checks before the RM sees anything (B1, B4), repeated for direct users of
 * the library; then the command goes into the kernel's per-file buffer: the client's
 * bytes, then zeros (H5).
 */
static int load_command(Rm *rm, const uint8_t *cmd, size_t cmd_len)
{
	if (cmd_len > RM_BUF_MAX)
		return -E2BIG;
	if (cmd_len < 6 || tpm2_wire_load_u32(cmd + 2) > cmd_len)
		return -EINVAL;
	memcpy(rm->cmd, cmd, cmd_len);
	memset(rm->cmd + cmd_len, 0, sizeof(rm->cmd) - cmd_len);
	return 0;
}

static int process_locked(Rm *rm, RmSpace *space, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			  size_t rsp_cap, size_t *ret_rsp_len)
{
	uint32_t attrs = 0;
	size_t len = 0;
	int r;

	r = load_command(rm, cmd, cmd_len);
	if (r < 0)
		return r;

	r = prepare(rm, space, cmd_len, &attrs);
	if (r == -EOPNOTSUPP) {
		rm->stats.synthesized++;
		return synth_rc(RM_RC_COMMAND_CODE, rsp, rsp_cap, ret_rsp_len);
	}
	if (r < 0)
		return r;

	r = rm_transmit(rm, rm->cmd, cmd_len, rsp, rsp_cap, &len);
	if (r < 0) {
		/* Since 6.12 the space is flushed after a failed transmit too (I12). */
		rm->swap->flush(rm, &rm->work);
		return r;
	}
	r = commit(rm, space, attrs, rsp, &len);
	if (r < 0)
		return r;
	*ret_rsp_len = len;
	return 0;
}

int rm_process(Rm *rm, RmSpace *space, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
	       size_t rsp_cap, size_t *ret_rsp_len)
{
	G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = NULL;
	int r;

	g_return_val_if_fail(rm && space && space->rm == rm && cmd && rsp && ret_rsp_len, -EINVAL);
	g_return_val_if_fail(rsp_cap >= RM_BUF_MAX, -EINVAL);

	locker = g_mutex_locker_new(&rm->lock);
	rm->current = space;
	rm->stats.client_commands++;
	space->client_commands++;
	r = process_locked(rm, space, cmd, cmd_len, rsp, rsp_cap, ret_rsp_len);
	rm->current = NULL;
	if (r < 0) {
		rm_count_errno(rm, r);
		g_debug("space %" G_GUINT64_FORMAT ": command failed: %s", space->id,
			g_strerror(-r));
	}
	return r;
}

int rm_process_raw(Rm *rm, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t rsp_cap,
		   size_t *ret_rsp_len)
{
	G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = NULL;
	int r;

	g_return_val_if_fail(rm && cmd && rsp && ret_rsp_len, -EINVAL);
	g_return_val_if_fail(rsp_cap >= RM_BUF_MAX, -EINVAL);

	locker = g_mutex_locker_new(&rm->lock);
	rm->stats.client_commands++;
	r = load_command(rm, cmd, cmd_len);
	if (r == 0)
		r = rm_transmit(rm, rm->cmd, cmd_len, rsp, rsp_cap, ret_rsp_len);
	if (r < 0)
		rm_count_errno(rm, r);
	return r;
}

RmErrnoIndex rm_errno_index(int err)
{
	switch (err) {
	case EINVAL:
		return RM_ERR_EINVAL;
	case ENOMEM:
		return RM_ERR_ENOMEM;
	case EFAULT:
		return RM_ERR_EFAULT;
	case ENOENT:
		return RM_ERR_ENOENT;
	case ENODATA:
		return RM_ERR_ENODATA;
	case ETIME:
		return RM_ERR_ETIME;
	case EIO:
		return RM_ERR_EIO;
	case EPIPE:
		return RM_ERR_EPIPE;
	default:
		return RM_ERR_OTHER;
	}
}

void rm_get_stats(Rm *rm, RmStats *ret)
{
	G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&rm->lock);

	g_mutex_lock(&rm->space_lock);
	*ret = rm->stats;
	g_mutex_unlock(&rm->space_lock);
}

void rm_space_get_stats(RmSpace *space, RmSpaceStats *ret)
{
	Rm *rm = space->rm;
	G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&rm->lock);

	memset(ret, 0, sizeof(*ret));
	ret->client_commands = space->client_commands;
	ret->backend_commands = space->backend_commands;
	for (unsigned int i = 0; i < rm->opts.max_objects; i++)
		ret->objects += space->tables.context_tbl[i] != RM_SLOT_FREE;
	for (unsigned int i = 0; i < rm->opts.max_sessions; i++)
		ret->sessions += space->tables.session_tbl[i] != 0;
}

int rm_with_backend(Rm *rm, int (*fn)(TpmBackend *be, void *user), void *user)
{
	G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&rm->lock);

	return fn(rm->backend, user);
}
