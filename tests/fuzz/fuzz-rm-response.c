/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-rm-response: TPM bytes into the resource manager.  The RM runs over a backend that
 * answers every command it is sent -- the RM's own GetCapability(COMMANDS) in rm_new(),
 * ContextLoad, ContextSave and FlushContext, and the clients' commands -- as the input
 * says: with the fake TPM's real answer (tests/support/fake-tpm.h), or with a lie.
 *
 * The input:
 *
 *   byte 0    RmOptions: max_objects and max_sessions (1..4), context_bytes (16384, 64,
 *             150 or 300: the ENOMEM path), the H5 quirk on or off
 *   byte 1    the fake: loaded-object slots (1..16), TPM_CAP_COMMANDS page size
 *   u16 N     then N bytes of client operations: each a byte (space 0..2 and operation,
 *             as in fuzz-rm-command), then its arguments
 *   the rest  the TPM's side: one control byte (and its arguments) per command the TPM
 *             receives, bits 0-2:
 *               0-2  the fake's answer
 *               3    the fake's answer cut or padded to a u16 length (bit 3: the header
 *                    says the new length)
 *               4    u16 length and that many bytes, the fake not asked
 *               5    the fake's answer with 1-16 bytes (bit 3: u32 words) overwritten at
 *                    u16 offsets: lying sizes, handles, counts, tags
 *               6    no response: -EIO, -ETIME, -EFAULT, -ENODEV (bit 3: the fake ran it)
 *               7    a bare response with a u32 response code (bit 3: the fake ran it)
 *             When the input runs out, the fake answers truthfully.
 *
 * Checks: every response a client gets passes the transmit check (10 to 4096 bytes,
 * header size = length) and lists only vhandles of its own space; an errno is one the RM
 * or the backend can give, and no response length is set with it; a space never holds
 * more than its limits; a command in one space changes no other space's counters or
 * tables, whatever the TPM says; while the TPM told no lie about its command table, a
 * new object reaches the client as a vhandle.  Everything is freed at the end (LSan).
 */
#include <errno.h>
#include <string.h>

#include "fake-tpm.h"
#include "fuzz-common.h"
#include "rm.h"

#define NR_SPACES 3
#define MAX_OPS	  40
#define RAW_MAX	  4200

enum {
	OP_RAW,
	OP_RAW_PATH,
	OP_CLOSE,
	OP_CREATE_PRIMARY,
	OP_LOAD,
	OP_HASH_SEQUENCE,
	OP_START_SESSION,
	OP_FLUSH,
	OP_CONTEXT_SAVE,
	OP_CONTEXT_LOAD,
	OP_GETCAP_HANDLES,
	OP_READ_PUBLIC,
	OP_SEQUENCE_UPDATE,
	OP_POLICY_DIGEST,
	OP_GET_RANDOM,
	OP_VENDOR,
	OP_COUNT
};

/* The lying TPM: the fake, with the input deciding each answer. */
typedef struct LiarTpm {
	TpmBackend base;
	FakeTpm *fake;
	FuzzIn *in;
	unsigned int lies;
} LiarTpm;

typedef struct Harness {
	FuzzIn in;  /* client operations */
	FuzzIn tpm; /* the TPM's answers */
	LiarTpm liar;
	RmOptions opts;
	Rm *rm;
	bool table_lied; /* the command table in rm_new() was not the fake's */
	RmSpace *spaces[NR_SPACES];
	FuzzPool pool;
	uint8_t cmd[RAW_MAX];
	size_t cmd_len;
	uint8_t *rsp; /* RM_BUF_MAX bytes on the heap */
	size_t rsp_len;
} Harness;

/* --- the backend --- */

static int fake_answer(LiarTpm *l, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t cap,
		       size_t *ret_len)
{
	TpmBackend *be = fake_tpm_backend(l->fake);

	return be->ops->transmit(be, cmd, cmd_len, rsp, cap, ret_len);
}

/* Mode 3: cut or pad the truthful answer. */
static void lie_length(LiarTpm *l, uint8_t c, uint8_t *rsp, size_t cap, size_t *len)
{
	size_t n = fuzz_in_u16(l->in);

	n = MIN(n, cap);
	if (n > *len)
		memset(rsp + *len, 0, n - *len);
	*len = n;
	if ((c & 8) && n >= 6)
		tpm2_wire_store_u32(rsp + 2, (uint32_t)n);
}

/* Mode 5: overwrite bytes or words of the truthful answer. */
static void lie_patch(LiarTpm *l, uint8_t c, uint8_t *rsp, size_t len)
{
	unsigned int n = (c >> 4) + 1u;

	for (unsigned int i = 0; i < n && len > 0; i++) {
		size_t off = fuzz_in_u16(l->in) % len;

		if (c & 8) {
			uint32_t v = fuzz_in_u32(l->in);

			if (off + 4 <= len)
				tpm2_wire_store_u32(rsp + off, v);
		} else {
			rsp[off] = fuzz_in_u8(l->in);
		}
	}
}

static int liar_transmit(TpmBackend *be, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			 size_t rsp_cap, size_t *ret_len)
{
	static const int errnos[] = { EIO, ETIME, EFAULT, ENODEV };
	LiarTpm *l = (LiarTpm *)be;
	uint8_t c = fuzz_in_u8(l->in);
	size_t len = 0;
	int r = 0;

	if (l->in->eof || (c & 7) <= 2)
		return fake_answer(l, cmd, cmd_len, rsp, rsp_cap, ret_len);
	l->lies++;
	if ((c & 7) == 4) {
		len = fuzz_in_u16(l->in);
		len = fuzz_in_bytes(l->in, rsp, MIN(len, rsp_cap));
		goto out;
	}
	/* The other lies start from the truth, or pretend the TPM did nothing. */
	if ((c & 7) == 3 || (c & 7) == 5 || (c & 8))
		r = fake_answer(l, cmd, cmd_len, rsp, rsp_cap, &len);
	if (r < 0)
		return r;
	switch (c & 7) {
	case 3:
		lie_length(l, c, rsp, rsp_cap, &len);
		break;
	case 5:
		lie_patch(l, c, rsp, len);
		break;
	case 6:
		return -errnos[fuzz_in_u8(l->in) % G_N_ELEMENTS(errnos)];
	default: {
		Tpm2Writer w = tpm2_writer_init(rsp, rsp_cap);

		tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, fuzz_in_u32(l->in));
		FUZZ_CHECK(tpm2_wire_finish(&w, &len) == 0, "no room for a header");
		break;
	}
	}
out:
	*ret_len = len;
	return 0;
}

static void liar_destroy(TpmBackend *be)
{
	LiarTpm *l = (LiarTpm *)be;

	tpm_backend_free(fake_tpm_backend(l->fake));
	l->fake = NULL;
}

static const TpmBackendOps liar_ops = {
	.name = "liar",
	.transmit = liar_transmit,
	.cancel = NULL,
	.destroy = liar_destroy,
};

/* --- client commands, in the fake's vocabulary --- */

static const uint32_t fixed_handles[] = {
	FUZZ_VHANDLE(0), FUZZ_VHANDLE(1), FUZZ_VHANDLE(2), FUZZ_VHANDLE(3),
	0x80000000u,	 0x80000001u,	  0x02000000u,	   0x03000000u,
	0x02000001u,	 0x81000001u,	  TPM2_RH_OWNER,   TPM2_RH_NULL,
};

static uint32_t pick_handle(Harness *h)
{
	return fuzz_pool_pick(&h->pool, &h->in, fixed_handles, G_N_ELEMENTS(fixed_handles));
}

static void build_session(Harness *h)
{
	static const uint8_t types[] = { TPM2_SE_HMAC, TPM2_SE_POLICY, TPM2_SE_TRIAL, 0x7f };
	uint32_t handles[2] = { pick_handle(h), pick_handle(h) };
	/* nonceCaller, encryptedSalt, sessionType, symmetric TPM_ALG_NULL, authHash SHA256 */
	uint8_t params[] = { 0, 0, 0, 0, 0, 0x00, 0x10, 0x00, 0x0b };

	params[4] = types[fuzz_in_u8(&h->in) % G_N_ELEMENTS(types)];
	h->cmd_len = fuzz_build_cmd(h->cmd, TPM2_CC_StartAuthSession, handles, 2, false, params,
				    sizeof(params));
}

static void build_getcap(Harness *h)
{
	static const uint32_t firsts[] = { 0x80000000u, FUZZ_VHANDLE(2), 0x02000000u, 0x03000000u,
					   0x81000000u };
	uint8_t b = fuzz_in_u8(&h->in);
	uint8_t params[12];

	tpm2_wire_store_u32(params, TPM2_CAP_HANDLES);
	tpm2_wire_store_u32(params + 4, firsts[b % G_N_ELEMENTS(firsts)]);
	tpm2_wire_store_u32(params + 8, 1u + (b / G_N_ELEMENTS(firsts)) % 16);
	h->cmd_len = fuzz_build_cmd(h->cmd, TPM2_CC_GetCapability, NULL, 0, false, params,
				    sizeof(params));
}

static void build_handle_cmd(Harness *h, uint32_t cc, const uint8_t *params, size_t len)
{
	uint32_t handle = pick_handle(h);

	h->cmd_len = fuzz_build_cmd(h->cmd, cc, &handle, 1, false, params, len);
}

static void build_command(Harness *h, unsigned int op)
{
	static const uint8_t SIXTEEN[] = { 0x00, 0x10 };
	const uint8_t *ctx;
	size_t len = 0;

	switch (op) {
	case OP_RAW:
	case OP_RAW_PATH:
		len = fuzz_in_u16(&h->in) % (RAW_MAX + 1);
		h->cmd_len = fuzz_in_bytes(&h->in, h->cmd, len);
		break;
	case OP_CREATE_PRIMARY:
		build_handle_cmd(h, TPM2_CC_CreatePrimary, NULL, 0);
		break;
	case OP_LOAD:
		build_handle_cmd(h, TPM2_CC_Load, NULL, 0);
		break;
	case OP_HASH_SEQUENCE:
		h->cmd_len =
			fuzz_build_cmd(h->cmd, TPM2_CC_HashSequenceStart, NULL, 0, false, NULL, 0);
		break;
	case OP_START_SESSION:
		build_session(h);
		break;
	case OP_FLUSH:
		build_handle_cmd(h, TPM2_CC_FlushContext, NULL, 0);
		break;
	case OP_CONTEXT_SAVE:
		build_handle_cmd(h, TPM2_CC_ContextSave, NULL, 0);
		break;
	case OP_CONTEXT_LOAD:
		ctx = fuzz_pool_context(&h->pool, &h->in, &len);
		h->cmd_len =
			ctx ? fuzz_build_cmd(h->cmd, TPM2_CC_ContextLoad, NULL, 0, false, ctx, len)
			    : 0;
		break;
	case OP_GETCAP_HANDLES:
		build_getcap(h);
		break;
	case OP_READ_PUBLIC:
		build_handle_cmd(h, TPM2_CC_ReadPublic, NULL, 0);
		break;
	case OP_SEQUENCE_UPDATE:
		build_handle_cmd(h, TPM2_CC_SequenceUpdate, NULL, 0);
		break;
	case OP_POLICY_DIGEST:
		build_handle_cmd(h, TPM2_CC_PolicyGetDigest, NULL, 0);
		break;
	case OP_GET_RANDOM:
		h->cmd_len = fuzz_build_cmd(h->cmd, TPM2_CC_GetRandom, NULL, 0, false, SIXTEEN,
					    sizeof(SIXTEEN));
		break;
	default:
		h->cmd_len = fuzz_build_cmd(h->cmd, FAKE_TPM_VENDOR_CC, NULL, 0, false, NULL, 0);
		break;
	}
}

/* --- checks --- */

static bool errno_allowed(int r)
{
	switch (-r) {
	case E2BIG:
	case EINVAL:
	case ENOMEM:
	case EFAULT:
	case ENOENT:
	case ENODATA:
	case EIO:
	case ETIME:
	case ENODEV: /* what the backend said */
		return true;
	default:
		return false;
	}
}

static void check_result(Harness *h, int r, bool raw)
{
	uint32_t cc = h->cmd_len >= TPM2_WIRE_HEADER_SIZE ? tpm2_wire_load_u32(h->cmd + 6) : 0;
	uint32_t handle;

	if (r < 0) {
		FUZZ_CHECK(errno_allowed(r), "rm_process gave %d", r);
		FUZZ_CHECK(h->rsp_len == SIZE_MAX, "response length set on failure");
		return;
	}
	FUZZ_CHECK(r == 0, "rm_process gave %d", r);
	fuzz_check_response(h->rsp, h->rsp_len, RM_BUF_MAX);
	if (raw || tpm2_wire_load_u32(h->rsp + 6) != TPM2_RC_SUCCESS)
		return;
	fuzz_check_handle_listing(h->cmd, h->cmd_len, h->rsp, h->rsp_len, h->opts.max_objects);
	if (cc == TPM2_CC_ContextSave)
		fuzz_pool_add_context(&h->pool, h->rsp, h->rsp_len);
	if (!fuzz_cc_has_rhandle(cc) || h->rsp_len < TPM2_WIRE_HEADER_SIZE + 4)
		return;
	handle = tpm2_wire_load_u32(h->rsp + TPM2_WIRE_HEADER_SIZE);
	if ((handle & FUZZ_HT_MASK) == FUZZ_HR_TRANSIENT && !h->table_lied)
		FUZZ_CHECK(handle <= FUZZ_VHANDLE(0) && handle > FUZZ_VHANDLE(h->opts.max_objects),
			   "client got transient handle 0x%08x", handle);
	fuzz_pool_add_handle(&h->pool, handle);
}

static bool same_stats(const RmSpaceStats *a, const RmSpaceStats *b)
{
	return a->client_commands == b->client_commands &&
	       a->backend_commands == b->backend_commands && a->objects == b->objects &&
	       a->sessions == b->sessions;
}

static void run_command(Harness *h, unsigned int i, bool raw)
{
	RmSpaceStats before[NR_SPACES] = { 0 }, after;
	g_autofree uint8_t *cmd = g_memdup2(h->cmd, h->cmd_len);
	int r;

	if (!raw && !h->spaces[i])
		h->spaces[i] = rm_space_new(h->rm, NULL);
	for (unsigned int j = 0; j < NR_SPACES; j++)
		if (h->spaces[j])
			rm_space_get_stats(h->spaces[j], &before[j]);

	h->rsp_len = SIZE_MAX;
	if (raw)
		r = rm_process_raw(h->rm, cmd, h->cmd_len, h->rsp, RM_BUF_MAX, &h->rsp_len);
	else
		r = rm_process(h->rm, h->spaces[i], cmd, h->cmd_len, h->rsp, RM_BUF_MAX,
			       &h->rsp_len);
	g_debug("client %u: %zu-byte command 0x%08x: %d, response 0x%08x", i, h->cmd_len,
		h->cmd_len >= TPM2_WIRE_HEADER_SIZE ? tpm2_wire_load_u32(h->cmd + 6) : 0, r,
		r == 0 ? tpm2_wire_load_u32(h->rsp + 6) : 0);
	FUZZ_CHECK(memcmp(cmd, h->cmd, h->cmd_len) == 0, "the RM changed the command");
	check_result(h, r, raw);

	for (unsigned int j = 0; j < NR_SPACES; j++) {
		if (!h->spaces[j])
			continue;
		rm_space_get_stats(h->spaces[j], &after);
		if (raw || j != i)
			FUZZ_CHECK(same_stats(&before[j], &after), "a command %s changed space %u",
				   raw ? "on the raw path" : "in another space", j);
		/* A failed command commits nothing (I12): the tables are as they were. */
		if (!raw && j == i && r < 0)
			FUZZ_CHECK(before[j].objects == after.objects &&
					   before[j].sessions == after.sessions,
				   "a failed command changed its space's tables");
		FUZZ_CHECK(after.objects <= h->opts.max_objects &&
				   after.sessions <= h->opts.max_sessions,
			   "space %u holds %u objects, %u sessions", j, after.objects,
			   after.sessions);
	}
}

static void run_op(Harness *h)
{
	uint8_t b = fuzz_in_u8(&h->in);
	unsigned int i = b % NR_SPACES, op = (b / NR_SPACES) % OP_COUNT;

	if (op == OP_CLOSE) {
		g_clear_pointer(&h->spaces[i], rm_space_free);
		return;
	}
	build_command(h, op);
	if (h->cmd_len > 0)
		run_command(h, i, op == OP_RAW_PATH);
}

/* --- set-up --- */

static void setup_options(Harness *h)
{
	static const size_t context_bytes[] = { RM_KERNEL_CONTEXT_BYTES, 64, 150, 300 };
	uint8_t b = fuzz_in_u8(&h->in);

	rm_options_init(&h->opts, RM_PROFILE_KERNEL);
	h->opts.sleep_ms = fuzz_no_sleep;
	h->opts.max_objects = 1 + (b & 3);
	h->opts.max_sessions = 1 + ((b >> 2) & 3);
	h->opts.context_bytes = context_bytes[(b >> 4) & 3];
	if (b & 0x40)
		h->opts.quirks &= ~(uint32_t)RM_QUIRK_NO_HANDLE_AREA_CHECK;
}

static void setup_fake(Harness *h)
{
	uint8_t b = fuzz_in_u8(&h->in);

	h->liar.base.ops = &liar_ops;
	h->liar.in = &h->tpm;
	h->liar.fake = fake_tpm_new();
	h->liar.fake->max_loaded = 1 + (b & 15);
	h->liar.fake->cc_page = (b >> 4) % 4 * 4; /* 0: all at once */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static Harness h;
	size_t ops_len;
	int r;

	fuzz_init();
	memset(&h, 0, sizeof(h));
	h.in = fuzz_in_init(data, size);
	setup_options(&h);
	setup_fake(&h);
	ops_len = fuzz_in_u16(&h.in);
	ops_len = MIN(ops_len, size - h.in.off);
	h.tpm = fuzz_in_init(data + h.in.off + ops_len, size - h.in.off - ops_len);
	h.in.size = h.in.off + ops_len;
	h.rsp = g_malloc(RM_BUF_MAX);

	r = rm_new(&h.liar.base, &h.opts, &h.rm);
	h.table_lied = h.liar.lies > 0;
	if (r == 0) {
		for (unsigned int n = 0; n < MAX_OPS && !fuzz_in_done(&h.in); n++)
			run_op(&h);
		for (unsigned int i = 0; i < NR_SPACES; i++)
			g_clear_pointer(&h.spaces[i], rm_space_free);
		rm_free(h.rm);
	} else {
		FUZZ_CHECK(r == -EIO || r == -EFAULT || r == -ETIME || r == -ENODEV || r == -EINVAL,
			   "rm_new gave %d", r);
		FUZZ_CHECK(h.rm == NULL, "rm_new failed and set its result");
	}
	tpm_backend_free(&h.liar.base);
	fuzz_pool_clear(&h.pool);
	g_free(h.rsp);
	return 0;
}
