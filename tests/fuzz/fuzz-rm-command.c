/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-rm-command: client bytes into rm_process() over the real in-process libtpms, in up
 * to four spaces at once.
 *
 * The input is a list of operations.  Each starts with one byte: the space (bits 0-1,
 * opened on first use) and the operation (the rest, modulo OP_COUNT):
 *
 *   OP_RAW             u16 length, then that many bytes: a command exactly as a client
 *                      writes it (lengths up to 4200, so E2BIG is reachable)
 *   OP_CLOSE           rm_space_free(); the next operation on that space opens a new one
 *   OP_CREATE_PRIMARY  byte: hierarchy and key type (HMAC key, AES key, AES storage
 *                      parent: microseconds each; ECC P-256 storage parent: 1.5 ms)
 *   OP_CREATE_LOADED   byte: parent, byte: key type; a child key, loaded
 *   OP_HASH_SEQUENCE   HashSequenceStart(SHA-256)
 *   OP_START_SESSION   byte: bind handle, byte: HMAC, policy or trial
 *   OP_FLUSH, OP_CONTEXT_SAVE, OP_READ_PUBLIC, OP_SEQUENCE_UPDATE, OP_POLICY_DIGEST
 *                      byte: the handle (see pick_handle)
 *   OP_CONTEXT_LOAD    byte: one of the contexts saved by any space so far
 *   OP_GETCAP_HANDLES  byte: first handle and count
 *   OP_ADMIN           byte: TPM2_Clear, HierarchyControl (owner, endorsement or platform
 *                      off), ChangeEPS, ChangePPS, or EvictControl of a picked handle:
 *                      what makes a space's saved contexts unloadable (I11)
 *
 * Handles are picked from fixed values (vhandles of all slots, physical-looking handles,
 * session types, permanent handles) or from the handles any space has been given, so
 * one space's handles are used in another.
 *
 * Checks, after every operation: a response is 10 to 4096 bytes and its header says its
 * length; the RM fails only with the errnos of the spec's section 3; a new object comes
 * back as a vhandle of this space; no other space's counters or tables moved; between
 * commands the TPM holds no transient object and no loaded session (I7).  At the end, a
 * GetCapability(HANDLES) through each space lists exactly its own objects, by vhandle.
 *
 * libtpms is process-global: each input gets a new volatile TPM (about 0.1 ms), so every
 * input runs against the same fresh TPM and nothing (lockout, NV, hierarchy auth) carries
 * over.  Commands that take tens of milliseconds in libtpms (RSA key generation, a full
 * self test) are not sent: they teach the RM nothing and would stall the fuzzer.
 */
#include <errno.h>
#include <string.h>

#include "fuzz-common.h"
#include "rm.h"

#define NR_SPACES 4
#define MAX_OPS	  48
#define RAW_MAX	  4200

enum {
	OP_RAW,
	OP_CLOSE,
	OP_CREATE_PRIMARY,
	OP_CREATE_LOADED,
	OP_HASH_SEQUENCE,
	OP_START_SESSION,
	OP_FLUSH,
	OP_CONTEXT_SAVE,
	OP_CONTEXT_LOAD,
	OP_GETCAP_HANDLES,
	OP_READ_PUBLIC,
	OP_SEQUENCE_UPDATE,
	OP_POLICY_DIGEST,
	OP_ADMIN,
	OP_COUNT
};

typedef struct Harness {
	FuzzIn in;
	TpmBackend *be;
	Rm *rm;
	RmSpace *spaces[NR_SPACES];
	FuzzPool pool;
	uint8_t cmd[RAW_MAX];
	size_t cmd_len;
	uint8_t *rsp; /* RM_BUF_MAX bytes on the heap: ASan sees a write past it */
	size_t rsp_len;
} Harness;

static const uint32_t fixed_handles[] = {
	FUZZ_VHANDLE(0), FUZZ_VHANDLE(1), FUZZ_VHANDLE(2), FUZZ_VHANDLE(3),	0x80000000u,
	0x80000001u,	 0x02000000u,	  0x03000000u,	   0x02000001u,		0x03000001u,
	0x81000001u,	 TPM2_RH_OWNER,	  TPM2_RH_NULL,	   TPM2_RH_ENDORSEMENT,
};

static uint32_t pick_handle(Harness *h)
{
	return fuzz_pool_pick(&h->pool, &h->in, fixed_handles, G_N_ELEMENTS(fixed_handles));
}

/* --- templates: TPMT_PUBLIC of keys libtpms makes in well under a millisecond --- */

static const uint8_t PUB_HMAC[] = {
	0x00, 0x08, 0x00, 0x0B, 0x00, 0x04, 0x00, 0x72, /* keyedhash, SHA-256, sign */
	0x00, 0x00, 0x00, 0x05, 0x00, 0x0B, 0x00, 0x00, /* no policy, HMAC-SHA-256 */
};
static const uint8_t PUB_AES[] = {
	0x00, 0x25, 0x00, 0x0B, 0x00, 0x06, 0x00, 0x72, /* symcipher, sign|decrypt */
	0x00, 0x00, 0x00, 0x06, 0x00, 0x80, 0x00, 0x43, /* AES-128-CFB */
	0x00, 0x00,
};
static const uint8_t PUB_AES_PARENT[] = {
	0x00, 0x25, 0x00, 0x0B, 0x00, 0x03, 0x00, 0x72, /* restricted decrypt */
	0x00, 0x00, 0x00, 0x06, 0x00, 0x80, 0x00, 0x43, 0x00, 0x00,
};
static const uint8_t PUB_ECC_PARENT[] = {
	0x00, 0x23, 0x00, 0x0B, 0x00, 0x03, 0x04, 0x72, /* ECC, restricted decrypt, noDA */
	0x00, 0x00, 0x00, 0x06, 0x00, 0x80, 0x00, 0x43, /* AES-128-CFB */
	0x00, 0x10, 0x00, 0x03, 0x00, 0x10,		/* no scheme, P-256, no kdf */
	0x00, 0x00, 0x00, 0x00,
};

static const struct {
	const uint8_t *pub;
	size_t len;
} templates[] = {
	{ PUB_HMAC, sizeof(PUB_HMAC) },
	{ PUB_AES, sizeof(PUB_AES) },
	{ PUB_AES_PARENT, sizeof(PUB_AES_PARENT) },
	{ PUB_ECC_PARENT, sizeof(PUB_ECC_PARENT) },
};

/* inSensitive (empty), inPublic, and for CreatePrimary outsideInfo and creationPCR. */
static size_t create_params(uint8_t *buf, size_t cap, uint8_t kind, bool primary)
{
	Tpm2Writer w = tpm2_writer_init(buf, cap);
	size_t t = kind % G_N_ELEMENTS(templates);

	tpm2_wire_put_u16(&w, 4);
	tpm2_wire_put_u32(&w, 0);
	tpm2_wire_put_u16(&w, (uint16_t)templates[t].len);
	tpm2_wire_put_bytes(&w, templates[t].pub, templates[t].len);
	if (primary) {
		tpm2_wire_put_u16(&w, 0);
		tpm2_wire_put_u32(&w, 0);
	}
	return w.overflow ? 0 : w.len;
}

static void build_create(Harness *h, bool primary)
{
	static const uint32_t hierarchies[] = { TPM2_RH_OWNER, TPM2_RH_ENDORSEMENT,
						TPM2_RH_PLATFORM, TPM2_RH_NULL };
	uint8_t params[128];
	uint32_t parent;
	uint8_t b;
	size_t n;

	if (primary) {
		b = fuzz_in_u8(&h->in);
		parent = hierarchies[b % G_N_ELEMENTS(hierarchies)];
		b >>= 2;
	} else {
		parent = pick_handle(h);
		b = fuzz_in_u8(&h->in);
	}
	n = create_params(params, sizeof(params), b, primary);
	h->cmd_len = fuzz_build_cmd(h->cmd, primary ? TPM2_CC_CreatePrimary : TPM2_CC_CreateLoaded,
				    &parent, 1, true, params, n);
}

static void build_start_session(Harness *h)
{
	static const uint8_t types[] = { TPM2_SE_HMAC, TPM2_SE_POLICY, TPM2_SE_TRIAL };
	uint32_t handles[2] = { TPM2_RH_NULL, pick_handle(h) };
	uint8_t params[] = {
		0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, /* nonce */
		0x00, 0x00,							   /* salt */
		0x00,	    /* sessionType, filled in below */
		0x00, 0x10, /* symmetric: null */
		0x00, 0x0B, /* authHash: SHA-256 */
	};

	params[20] = types[fuzz_in_u8(&h->in) % G_N_ELEMENTS(types)];
	h->cmd_len = fuzz_build_cmd(h->cmd, TPM2_CC_StartAuthSession, handles, 2, false, params,
				    sizeof(params));
}

static void build_getcap(Harness *h)
{
	static const uint32_t firsts[] = { 0x80000000u, FUZZ_VHANDLE(2), 0x02000000u,
					   0x03000000u, 0x81000000u,	 0x40000000u };
	uint8_t b = fuzz_in_u8(&h->in);
	uint8_t params[12];

	tpm2_wire_store_u32(params, TPM2_CAP_HANDLES);
	tpm2_wire_store_u32(params + 4, firsts[b % G_N_ELEMENTS(firsts)]);
	tpm2_wire_store_u32(params + 8, (uint32_t)(b / G_N_ELEMENTS(firsts)) % 8);
	h->cmd_len = fuzz_build_cmd(h->cmd, TPM2_CC_GetCapability, NULL, 0, false, params,
				    sizeof(params));
}

static void build_context_load(Harness *h)
{
	size_t len = 0;
	const uint8_t *ctx = fuzz_pool_context(&h->pool, &h->in, &len);

	h->cmd_len =
		ctx ? fuzz_build_cmd(h->cmd, TPM2_CC_ContextLoad, NULL, 0, false, ctx, len) : 0;
}

/* A command with one handle and fixed parameters. */
static void build_one_handle(Harness *h, uint32_t cc, bool pw, const uint8_t *params, size_t len)
{
	uint32_t handle = pick_handle(h);

	h->cmd_len = fuzz_build_cmd(h->cmd, cc, &handle, 1, pw, params, len);
}

static void build_raw(Harness *h)
{
	size_t len = fuzz_in_u16(&h->in) % (RAW_MAX + 1);

	h->cmd_len = fuzz_in_bytes(&h->in, h->cmd, len);
}

/* Hierarchy-wide changes, all authorised with the (empty) password of a fresh TPM. */
static void build_admin(Harness *h)
{
	uint8_t b = fuzz_in_u8(&h->in);
	uint32_t handles[2] = { TPM2_RH_PLATFORM, 0 };
	uint8_t params[5] = { 0 };

	switch (b % 6) {
	case 0:
		handles[0] = TPM2_RH_LOCKOUT;
		h->cmd_len = fuzz_build_cmd(h->cmd, TPM2_CC_Clear, handles, 1, true, NULL, 0);
		break;
	case 1:
	case 2:
	case 3: /* HierarchyControl: enable (owner, endorsement or platform) := NO */
		tpm2_wire_store_u32(params, b % 6 == 1	 ? TPM2_RH_OWNER
					    : b % 6 == 2 ? TPM2_RH_ENDORSEMENT
							 : TPM2_RH_PLATFORM);
		h->cmd_len = fuzz_build_cmd(h->cmd, TPM2_CC_HierarchyControl, handles, 1, true,
					    params, sizeof(params));
		break;
	case 4:
		h->cmd_len = fuzz_build_cmd(h->cmd, b & 8 ? TPM2_CC_ChangeEPS : TPM2_CC_ChangePPS,
					    handles, 1, true, NULL, 0);
		break;
	default: /* EvictControl(owner, object, 0x81000000 + n) */
		handles[0] = TPM2_RH_OWNER;
		handles[1] = pick_handle(h);
		tpm2_wire_store_u32(params, 0x81000000u + (b >> 4));
		h->cmd_len =
			fuzz_build_cmd(h->cmd, TPM2_CC_EvictControl, handles, 2, true, params, 4);
		break;
	}
}

/* The command of operation @op in h->cmd (h->cmd_len 0: nothing to send). */
static void build_command(Harness *h, unsigned int op)
{
	static const uint8_t SHA256[] = { 0x00, 0x00, 0x00, 0x0B };
	static const uint8_t SOME_BYTES[] = { 0x00, 0x03, 'a', 'b', 'c' };

	switch (op) {
	case OP_RAW:
		build_raw(h);
		break;
	case OP_CREATE_PRIMARY:
		build_create(h, true);
		break;
	case OP_CREATE_LOADED:
		build_create(h, false);
		break;
	case OP_HASH_SEQUENCE:
		h->cmd_len = fuzz_build_cmd(h->cmd, TPM2_CC_HashSequenceStart, NULL, 0, false,
					    SHA256, sizeof(SHA256));
		break;
	case OP_START_SESSION:
		build_start_session(h);
		break;
	case OP_FLUSH:
		build_one_handle(h, TPM2_CC_FlushContext, false, NULL, 0);
		break;
	case OP_CONTEXT_SAVE:
		build_one_handle(h, TPM2_CC_ContextSave, false, NULL, 0);
		break;
	case OP_CONTEXT_LOAD:
		build_context_load(h);
		break;
	case OP_GETCAP_HANDLES:
		build_getcap(h);
		break;
	case OP_READ_PUBLIC:
		build_one_handle(h, TPM2_CC_ReadPublic, false, NULL, 0);
		break;
	case OP_SEQUENCE_UPDATE:
		build_one_handle(h, TPM2_CC_SequenceUpdate, true, SOME_BYTES, sizeof(SOME_BYTES));
		break;
	case OP_POLICY_DIGEST:
		build_one_handle(h, TPM2_CC_PolicyGetDigest, false, NULL, 0);
		break;
	default:
		build_admin(h);
		break;
	}
}

/*
 * Commands that cost libtpms tens of milliseconds or more: a full self test, and RSA key
 * generation (CreatePrimary, Create, CreateLoaded with an RSA inPublic).  The parse
 * follows the command as the TPM reads it; where it fails, so does the TPM's, before any
 * key is made.
 */
static bool too_slow(const uint8_t *cmd, size_t len)
{
	Tpm2Reader r = tpm2_reader_init(cmd, len);
	Tpm2Header hdr;
	const uint8_t *skip;
	uint32_t handle, auth_size = 0;
	uint16_t size, type = 0;

	if (tpm2_wire_header_parse(cmd, len, &hdr) < 0)
		return false;
	if (hdr.code == TPM2_CC_SelfTest)
		return len > TPM2_WIRE_HEADER_SIZE && cmd[TPM2_WIRE_HEADER_SIZE] != 0;
	if (hdr.code == TPM2_CC_IncrementalSelfTest)
		return true;
	if (hdr.code != TPM2_CC_CreatePrimary && hdr.code != TPM2_CC_Create &&
	    hdr.code != TPM2_CC_CreateLoaded)
		return false;
	r.off = TPM2_WIRE_HEADER_SIZE;
	if (tpm2_wire_get_u32(&r, &handle) < 0)
		return false;
	if (hdr.tag == TPM2_ST_SESSIONS && (tpm2_wire_get_u32(&r, &auth_size) < 0 ||
					    tpm2_wire_get_bytes(&r, auth_size, &skip) < 0))
		return false;
	/* inSensitive, then inPublic's size and its type */
	if (tpm2_wire_get_tpm2b(&r, &skip, &size) < 0 || tpm2_wire_get_bytes(&r, 2, &skip) < 0 ||
	    tpm2_wire_get_u16(&r, &type) < 0)
		return false;
	return type == TPM2_ALG_RSA;
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
		return true;
	default:
		return false;
	}
}

/* What the client got for command @cmd: sane, and only ever vhandles of its own. */
static void check_result(Harness *h, int r, const uint8_t *cmd, size_t cmd_len)
{
	uint32_t cc = cmd_len >= TPM2_WIRE_HEADER_SIZE ? tpm2_wire_load_u32(cmd + 6) : 0;
	uint32_t handle;

	if (r < 0) {
		FUZZ_CHECK(errno_allowed(r), "rm_process gave %d", r);
		FUZZ_CHECK(h->rsp_len == SIZE_MAX, "response length set on failure");
		return;
	}
	FUZZ_CHECK(r == 0, "rm_process gave %d", r);
	fuzz_check_response(h->rsp, h->rsp_len, RM_BUF_MAX);
	fuzz_check_handle_listing(cmd, cmd_len, h->rsp, h->rsp_len, RM_KERNEL_MAX_OBJECTS);
	if (tpm2_wire_load_u32(h->rsp + 6) != TPM2_RC_SUCCESS)
		return;
	if (cc == TPM2_CC_ContextSave)
		fuzz_pool_add_context(&h->pool, h->rsp, h->rsp_len);
	if (!fuzz_cc_has_rhandle(cc) || h->rsp_len < TPM2_WIRE_HEADER_SIZE + 4)
		return;
	handle = tpm2_wire_load_u32(h->rsp + TPM2_WIRE_HEADER_SIZE);
	if ((handle & FUZZ_HT_MASK) == FUZZ_HR_TRANSIENT)
		FUZZ_CHECK(handle <= FUZZ_VHANDLE(0) &&
				   handle > FUZZ_VHANDLE(RM_KERNEL_MAX_OBJECTS),
			   "client got transient handle 0x%08x", handle);
	fuzz_pool_add_handle(&h->pool, handle);
}

typedef struct TpmView {
	uint32_t first;
	uint32_t count; /* UINT32_MAX: the TPM did not answer with a list */
} TpmView;

/* With the RM's lock held: how many handles the TPM lists from @first on. */
static int count_handles(TpmBackend *be, void *user)
{
	TpmView *v = user;
	uint8_t cmd[32], rsp[TPM2_WIRE_BUF_MAX];
	size_t len = 0;
	uint32_t rc = 0;
	Tpm2CapData cap;
	int r;

	v->count = UINT32_MAX;
	r = tpm2_wire_build_get_capability(cmd, sizeof(cmd), TPM2_CAP_HANDLES, v->first, 64, &len);
	if (r == 0)
		r = tpm_backend_call(be, cmd, len, rsp, sizeof(rsp), &len, &rc);
	if (r == 0 && rc == TPM2_RC_SUCCESS && tpm2_wire_parse_cap_rsp(rsp, len, &cap) == 0)
		v->count = cap.count;
	return 0;
}

/* I7: between commands no space has anything loaded (sessions stay, saved). */
static void check_tpm_empty(Harness *h)
{
	TpmView objects = { .first = FUZZ_HR_TRANSIENT };
	TpmView sessions = { .first = FUZZ_HR_LOADED_SESSION };

	rm_with_backend(h->rm, count_handles, &objects);
	rm_with_backend(h->rm, count_handles, &sessions);
	/* UINT32_MAX: a TPM the client shut down or put in failure mode; nothing to see. */
	FUZZ_CHECK(objects.count == 0 || objects.count == UINT32_MAX,
		   "%u transient objects loaded between commands", objects.count);
	FUZZ_CHECK(sessions.count == 0 || sessions.count == UINT32_MAX,
		   "%u sessions loaded between commands", sessions.count);
}

static bool same_stats(const RmSpaceStats *a, const RmSpaceStats *b)
{
	return a->client_commands == b->client_commands &&
	       a->backend_commands == b->backend_commands && a->objects == b->objects &&
	       a->sessions == b->sessions;
}

/* I1-I7 as a client sees them: a handle listing shows exactly this space's objects. */
static void check_listing(Harness *h, RmSpace *space)
{
	uint8_t cmd[32];
	RmSpaceStats st;
	Tpm2CapData cap;
	size_t len = 0;

	FUZZ_CHECK(tpm2_wire_build_get_capability(cmd, sizeof(cmd), TPM2_CAP_HANDLES,
						  FUZZ_HR_TRANSIENT, 64, &len) == 0,
		   "GetCapability does not build");
	h->rsp_len = SIZE_MAX;
	if (rm_process(h->rm, space, cmd, len, h->rsp, RM_BUF_MAX, &h->rsp_len) < 0 ||
	    tpm2_wire_parse_cap_rsp(h->rsp, h->rsp_len, &cap) < 0)
		return; /* a wedged space (I11) or a TPM the client shut down */
	fuzz_check_handle_listing(cmd, len, h->rsp, h->rsp_len, RM_KERNEL_MAX_OBJECTS);
	rm_space_get_stats(space, &st);
	FUZZ_CHECK(cap.count == st.objects, "space lists %u objects, holds %u", cap.count,
		   st.objects);
}

/* --- the run --- */

static RmSpace *space_at(Harness *h, unsigned int i)
{
	if (!h->spaces[i])
		h->spaces[i] = rm_space_new(h->rm, NULL);
	return h->spaces[i];
}

static void run_command(Harness *h, unsigned int i)
{
	RmSpaceStats before[NR_SPACES] = { 0 }, after;
	RmSpace *space = space_at(h, i);
	/* An exact-size copy: ASan sees the RM read past what the client wrote. */
	g_autofree uint8_t *cmd = g_memdup2(h->cmd, h->cmd_len);
	int r;

	for (unsigned int j = 0; j < NR_SPACES; j++)
		if (h->spaces[j])
			rm_space_get_stats(h->spaces[j], &before[j]);

	h->rsp_len = SIZE_MAX;
	r = rm_process(h->rm, space, cmd, h->cmd_len, h->rsp, RM_BUF_MAX, &h->rsp_len);
	g_debug("client %u: %zu-byte command 0x%08x: %d, response 0x%08x", i, h->cmd_len,
		h->cmd_len >= TPM2_WIRE_HEADER_SIZE ? tpm2_wire_load_u32(h->cmd + 6) : 0, r,
		r == 0 ? tpm2_wire_load_u32(h->rsp + 6) : 0);
	FUZZ_CHECK(memcmp(cmd, h->cmd, h->cmd_len) == 0, "rm_process changed the command");
	check_result(h, r, h->cmd, h->cmd_len);

	for (unsigned int j = 0; j < NR_SPACES; j++) {
		if (!h->spaces[j])
			continue;
		rm_space_get_stats(h->spaces[j], &after);
		if (j != i)
			FUZZ_CHECK(same_stats(&before[j], &after),
				   "a command in space %u changed space %u", i, j);
		/* A failed command commits nothing (I12): the tables are as they were. */
		if (j == i && r < 0)
			FUZZ_CHECK(before[j].objects == after.objects &&
					   before[j].sessions == after.sessions,
				   "a failed command changed its space's tables");
		FUZZ_CHECK(after.objects <= RM_KERNEL_MAX_OBJECTS &&
				   after.sessions <= RM_KERNEL_MAX_SESSIONS,
			   "space %u holds %u objects, %u sessions", j, after.objects,
			   after.sessions);
	}
	check_tpm_empty(h);
}

static void run_op(Harness *h)
{
	uint8_t b = fuzz_in_u8(&h->in);
	unsigned int i = b % NR_SPACES, op = (b / NR_SPACES) % OP_COUNT;

	if (op == OP_CLOSE) {
		g_clear_pointer(&h->spaces[i], rm_space_free);
		check_tpm_empty(h);
		return;
	}
	build_command(h, op);
	if (h->cmd_len == 0 || too_slow(h->cmd, h->cmd_len))
		return;
	run_command(h, i);
}

static void finish(Harness *h)
{
	unsigned int open = 0;
	RmStats st;

	for (unsigned int i = 0; i < NR_SPACES; i++) {
		if (!h->spaces[i])
			continue;
		open++;
		check_listing(h, h->spaces[i]);
	}
	rm_get_stats(h->rm, &st);
	FUZZ_CHECK(st.spaces_open == open, "%" G_GUINT64_FORMAT " spaces open, %u expected",
		   st.spaces_open, open);
	for (unsigned int i = 0; i < NR_SPACES; i++)
		g_clear_pointer(&h->spaces[i], rm_space_free);
	check_tpm_empty(h);
	fuzz_pool_clear(&h->pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static Harness h;
	g_autofree char *error = NULL;
	RmOptions opts;
	int r;

	fuzz_init();
	memset(&h, 0, sizeof(h));
	h.in = fuzz_in_init(data, size);
	h.rsp = g_malloc(RM_BUF_MAX);
	r = tpm_backend_libtpms_new(NULL, &h.be, &error);
	FUZZ_CHECK(r == 0, "libtpms: %s", error ? error : g_strerror(-r));
	rm_options_init(&opts, RM_PROFILE_KERNEL);
	opts.sleep_ms = fuzz_no_sleep;
	r = rm_new(h.be, &opts, &h.rm);
	FUZZ_CHECK(r == 0, "rm_new over libtpms: %s", g_strerror(-r));

	for (unsigned int n = 0; n < MAX_OPS && !fuzz_in_done(&h.in); n++)
		run_op(&h);

	finish(&h);
	rm_free(h.rm);
	tpm_backend_free(h.be);
	g_free(h.rsp);
	return 0;
}
