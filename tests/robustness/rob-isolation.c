/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rob-client isolation NODE SPACES STEPS SEED CONTROL_SOCKET
 *
 * A seeded random interleaving of SPACES open files of one node (blocking and O_NONBLOCK
 * alternately), checked step by step against a model of the kernel profile:
 *
 * - objects (LoadExternal of a keyed-hash public area whose unique field names it, copies
 *   through ContextSave/ContextLoad) get the lowest free vhandle (I4), ReadPublic returns
 *   the space's own object, GetCapability lists exactly the space's own (I5);
 * - every vhandle 0x80FFFFFF-0x80FFFFFD and every physical-looking 0x80000000-0x80000010
 *   tried with ReadPublic, ContextSave or FlushContext from a space that does not hold it
 *   gives EINVAL (I2), and that rollback costs the space its sessions (I12);
 * - policy sessions: a space's own work (PolicyGetDigest); another space's session cannot
 *   be used (a TPM error: it is saved, never loaded, during anyone else's command), but
 *   FlushContext from another space flushes it (I14); the owner forgets it at its next
 *   command, and, as the kernel does (RM_QUIRK_SESSION_RELOAD_OFFSET), the sessions after
 *   it in its table too, which stay saved in the TPM until someone flushes them;
 * - reopening a space releases it: its sessions are flushed (A5), even a handle the TPM
 *   has since given to another space's session, as the kernel's release does (one such
 *   interleaving is played on purpose before the walk);
 * - every 25 steps the control socket shows no transient object and no loaded session in
 *   the TPM (I7), and exactly the saved sessions the model expects.
 *
 * Any difference fails with the step, the seed and what differed.
 */
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rob-tpm.h"

#define MAX_SPACES   16
#define MAX_SESSIONS 3
#define MAX_LEAKED   8 /* flush leaked sessions beyond this: the TPM has 64 in all */
#define CHECK_EVERY  25

typedef enum SessState { SESS_NONE, SESS_LIVE, SESS_DEAD } SessState;

typedef struct Space {
	RobConn c;
	RobSlots objs;
	uint8_t id[ROB_MAX_OBJECTS][32]; /* what each slot's object is */
	uint32_t sess[MAX_SESSIONS];	 /* the RM's session table, as the model has it */
	SessState st[MAX_SESSIONS];
	TPMS_CONTEXT saved; /* the latest ContextSave of an own object */
	uint8_t saved_id[32];
	bool have_saved;
} Space;

typedef struct Iso {
	Space sp[MAX_SPACES];
	unsigned int n;
	const char *node;
	const char *ctl;
	uint32_t leaked[64]; /* forgotten by their space, still saved in the TPM */
	unsigned int n_leaked;
	unsigned long step;
	unsigned long counts[16];
} Iso;

enum {
	C_CREATE,
	C_COPY,
	C_PROBE,
	C_EINVAL,
	C_LIST,
	C_SESSION,
	C_CROSS_FLUSH,
	C_CROSS_USE,
	C_LEAKED,
	C_REOPEN,
	C_CHECKS
};

static uint32_t low24(uint32_t h)
{
	return h & 0x00FFFFFFu;
}

/* --- the model's session bookkeeping --- */

static void leak_add(Iso *iso, uint32_t h)
{
	if (iso->n_leaked >= G_N_ELEMENTS(iso->leaked))
		rob_fail("step %lu: too many leaked sessions in the model", iso->step);
	iso->leaked[iso->n_leaked++] = h;
	iso->counts[C_LEAKED]++;
}

static void leak_remove(Iso *iso, uint32_t h)
{
	for (unsigned int i = 0; i < iso->n_leaked; i++)
		if (low24(iso->leaked[i]) == low24(h))
			iso->leaked[i--] = iso->leaked[--iso->n_leaked];
}

/* The TPM flushed session @h (whoever asked): it is no one's any more. */
static void session_flushed(Iso *iso, uint32_t h)
{
	leak_remove(iso, h);
	for (unsigned int s = 0; s < iso->n; s++)
		for (unsigned int i = 0; i < MAX_SESSIONS; i++)
			if (iso->sp[s].st[i] == SESS_LIVE && low24(iso->sp[s].sess[i]) == low24(h))
				iso->sp[s].st[i] = SESS_DEAD;
}

/*
 * Swap-in of space @sp (I11 with the kernel's offset quirk): the first dead session is
 * forgotten, and every later one too; the live ones among those stay saved in the TPM.
 * After a rolled-back command (I12) nothing of this is committed, and every session the
 * space still lists was flushed.
 */
static void swap_in(Iso *iso, Space *sp, bool rolled_back)
{
	int first = -1;

	for (int i = 0; i < MAX_SESSIONS && first < 0; i++)
		if (sp->st[i] == SESS_DEAD)
			first = i;
	for (int i = first < 0 ? MAX_SESSIONS : first; i < MAX_SESSIONS; i++) {
		if (sp->st[i] == SESS_LIVE)
			leak_add(iso, sp->sess[i]);
		if (!rolled_back) {
			sp->st[i] = SESS_NONE;
			sp->sess[i] = 0;
		}
	}
	for (int i = 0; rolled_back && i < MAX_SESSIONS; i++)
		if (sp->st[i] != SESS_NONE)
			sp->st[i] = SESS_DEAD;
}

static unsigned int sessions_after_swap_in(const Space *sp)
{
	unsigned int n = 0;

	for (int i = 0; i < MAX_SESSIONS && sp->st[i] != SESS_DEAD; i++)
		n += sp->st[i] == SESS_LIVE;
	return n;
}

/* --- commands, each followed by the model's update --- */

/* What a command must give: success, a TPM error, or EINVAL. */
typedef enum Want { WANT_OK, WANT_TPM_ERROR, WANT_EINVAL } Want;

static const char *want_name(Want w)
{
	return w == WANT_OK ? "success" : w == WANT_TPM_ERROR ? "a TPM error" : "EINVAL";
}

/* Check @rc against @want; on EINVAL apply the rollback, else commit the swap-in. */
static void settle(Iso *iso, Space *sp, TSS2_RC rc, Want want, const char *what)
{
	RobResult res = rob_classify(&sp->c, rc);
	Want got = res == ROB_OK ? WANT_OK : res == ROB_TPM_RC ? WANT_TPM_ERROR : WANT_EINVAL;

	if (res == ROB_MALFORMED || (res == ROB_ERRNO && sp->c.last_errno != EINVAL) || got != want)
		rob_fail("step %lu, space %ld: %s gave %s (rc 0x%x, errno %d), expected %s",
			 iso->step, (long)(sp - iso->sp), what,
			 res == ROB_OK	     ? "success"
			 : res == ROB_TPM_RC ? "a TPM error"
					     : "an errno",
			 rc, sp->c.last_errno, want_name(want));
	swap_in(iso, sp, got == WANT_EINVAL);
	if (got == WANT_EINVAL)
		iso->counts[C_EINVAL]++;
}

static void make_public(TPM2B_PUBLIC *pub, const uint8_t id[32])
{
	memset(pub, 0, sizeof(*pub));
	pub->publicArea.type = TPM2_ALG_KEYEDHASH;
	pub->publicArea.nameAlg = TPM2_ALG_SHA256;
	pub->publicArea.objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA;
	pub->publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
	pub->publicArea.unique.keyedHash.size = 32;
	memcpy(pub->publicArea.unique.keyedHash.buffer, id, 32);
}

static void op_create(Iso *iso, Space *sp)
{
	TPM2B_PUBLIC pub;
	TPM2B_NAME name = { .size = 0 };
	uint8_t id[32];
	uint32_t h = 0;
	TSS2_RC rc;

	rob_random_bytes(id, sizeof(id));
	make_public(&pub, id);
	rc = Tss2_Sys_LoadExternal(sp->c.sys, NULL, NULL, &pub, TPM2_RH_NULL, &h, &name, NULL);
	settle(iso, sp, rc, WANT_OK, "LoadExternal");
	rob_slots_add(&sp->objs, h, "LoadExternal");
	memcpy(sp->id[ROB_FIRST_VHANDLE - h], id, 32);
	iso->counts[C_CREATE]++;
}

/* ReadPublic of @h, which must be this space's object in slot @slot. */
static void read_own(Iso *iso, Space *sp, uint32_t h)
{
	TPM2B_PUBLIC pub = { .size = 0 };
	TPM2B_NAME name = { .size = 0 }, qname = { .size = 0 };
	TSS2_RC rc = Tss2_Sys_ReadPublic(sp->c.sys, h, NULL, &pub, &name, &qname, NULL);

	settle(iso, sp, rc, WANT_OK, "ReadPublic of an own object");
	if (pub.publicArea.unique.keyedHash.size != 32 ||
	    memcmp(pub.publicArea.unique.keyedHash.buffer, sp->id[ROB_FIRST_VHANDLE - h], 32) != 0)
		rob_fail("step %lu: ReadPublic(0x%08x) gave an object that is not this space's",
			 iso->step, h);
}

/* ContextSave of an own object, or ContextLoad of the saved one: a copy (I15, I17). */
static void op_copy(Iso *iso, Space *sp)
{
	uint32_t h = sp->objs.handle[rob_random_below(ROB_MAX_OBJECTS)];
	TSS2_RC rc;

	if (sp->have_saved && rob_slots_next(&sp->objs)) {
		rc = Tss2_Sys_ContextLoad(sp->c.sys, &sp->saved, &h);
		settle(iso, sp, rc, WANT_OK, "ContextLoad of an own saved object");
		rob_slots_add(&sp->objs, h, "ContextLoad");
		memcpy(sp->id[ROB_FIRST_VHANDLE - h], sp->saved_id, 32);
		read_own(iso, sp, h);
		iso->counts[C_COPY]++;
	} else if (h) {
		rc = Tss2_Sys_ContextSave(sp->c.sys, h, &sp->saved);
		settle(iso, sp, rc, WANT_OK, "ContextSave of an own object");
		memcpy(sp->saved_id, sp->id[ROB_FIRST_VHANDLE - h], 32);
		sp->have_saved = true;
	}
}

/* One of 0x80FFFFFF-0x80FFFFFD or 0x80000000-0x80000010, used three ways. */
static void op_probe(Iso *iso, Space *sp)
{
	uint32_t pick = rob_random_below(3 + 17);
	uint32_t h = pick < 3 ? ROB_FIRST_VHANDLE - pick : 0x80000000u + (pick - 3);
	bool own = rob_slots_has(&sp->objs, h);
	TPMS_CONTEXT ctx;
	TSS2_RC rc;

	iso->counts[C_PROBE]++;
	switch (rob_random_below(3)) {
	case 0:
		if (own) {
			read_own(iso, sp, h);
			break;
		}
		rc = Tss2_Sys_ReadPublic(sp->c.sys, h, NULL, &(TPM2B_PUBLIC){ .size = 0 },
					 &(TPM2B_NAME){ .size = 0 }, &(TPM2B_NAME){ .size = 0 },
					 NULL);
		settle(iso, sp, rc, WANT_EINVAL, "ReadPublic of a handle not its own");
		break;
	case 1:
		rc = Tss2_Sys_ContextSave(sp->c.sys, h, &ctx);
		settle(iso, sp, rc, own ? WANT_OK : WANT_EINVAL, "ContextSave of a probed handle");
		break;
	default:
		rc = Tss2_Sys_FlushContext(sp->c.sys, h);
		settle(iso, sp, rc, own ? WANT_OK : WANT_EINVAL, "FlushContext of a probed handle");
		if (own)
			rob_slots_remove(&sp->objs, h); /* freed at save (I8) */
	}
}

static void op_list(Iso *iso, Space *sp)
{
	TSS2_RC rc = rob_check_transients(&sp->c, &sp->objs);

	settle(iso, sp, rc, WANT_OK, "GetCapability(handles)");
	iso->counts[C_LIST]++;
}

static void op_start_session(Iso *iso, Space *sp)
{
	TPM2B_NONCE nonce = { .size = 16 }, nonce_tpm = { .size = 0 };
	TPM2B_ENCRYPTED_SECRET salt = { .size = 0 };
	TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
	uint32_t h = 0;
	TSS2_RC rc;

	rob_random_bytes(nonce.buffer, nonce.size);
	rc = Tss2_Sys_StartAuthSession(sp->c.sys, TPM2_RH_NULL, TPM2_RH_NULL, NULL, &nonce, &salt,
				       TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &h, &nonce_tpm, NULL);
	settle(iso, sp, rc, WANT_OK, "StartAuthSession");
	for (unsigned int s = 0; s < iso->n; s++)
		for (unsigned int i = 0; i < MAX_SESSIONS; i++)
			if (iso->sp[s].st[i] == SESS_LIVE && low24(iso->sp[s].sess[i]) == low24(h))
				rob_fail("step %lu: new session 0x%08x is still live in space %u",
					 iso->step, h, s);
	for (unsigned int i = 0; i < MAX_SESSIONS; i++) {
		if (sp->st[i] == SESS_NONE) { /* the lowest free entry (I4) */
			sp->sess[i] = h;
			sp->st[i] = SESS_LIVE;
			iso->counts[C_SESSION]++;
			return;
		}
	}
	rob_fail("step %lu: a session with a full session table", iso->step);
}

/* A live session of some space, or 0. */
static uint32_t pick_live_session(Iso *iso, unsigned int *ret_space)
{
	unsigned int s = rob_random_below(iso->n), i = rob_random_below(MAX_SESSIONS);

	*ret_space = s;
	return iso->sp[s].st[i] == SESS_LIVE ? iso->sp[s].sess[i] : 0;
}

/* Whether @h is @sp's and comes through its next swap-in (no dead session before it). */
static bool survives_swap_in(const Space *sp, uint32_t h)
{
	for (int i = 0; i < MAX_SESSIONS && sp->st[i] != SESS_DEAD; i++)
		if (sp->st[i] == SESS_LIVE && sp->sess[i] == h)
			return true;
	return false;
}

/* PolicyGetDigest of @h from @sp: the model says whether it must work. */
static void op_use_session_handle(Iso *iso, Space *sp, uint32_t h)
{
	TPM2B_DIGEST d = { .size = 0 };
	bool own = survives_swap_in(sp, h);
	TSS2_RC rc = Tss2_Sys_PolicyGetDigest(sp->c.sys, h, NULL, &d, NULL);

	settle(iso, sp, rc, own ? WANT_OK : WANT_TPM_ERROR,
	       own ? "PolicyGetDigest of an own session"
		   : "PolicyGetDigest of a session not its own");
	if (own && (d.size != 32 || memcmp(d.buffer, (uint8_t[32]){ 0 }, 32) != 0))
		rob_fail("step %lu: a fresh policy session has a digest that is not zero",
			 iso->step);
}

/* PolicyGetDigest: works on the space's own live session, fails on another's. */
static void op_use_session(Iso *iso, Space *sp)
{
	unsigned int owner;
	uint32_t h = pick_live_session(iso, &owner);

	if (!h)
		return;
	op_use_session_handle(iso, sp, h);
	if (&iso->sp[owner] != sp)
		iso->counts[C_CROSS_USE]++;
}

/*
 * FlushContext of a session: any space may (I14).  A session of this space that its own
 * swap-in forgets first is still saved in the TPM: the flush works all the same.
 */
static void op_flush_session(Iso *iso, Space *sp)
{
	unsigned int owner;
	uint32_t h = pick_live_session(iso, &owner);
	TSS2_RC rc;

	if (!h)
		return;
	rc = Tss2_Sys_FlushContext(sp->c.sys, h);
	settle(iso, sp, rc, WANT_OK, "FlushContext of a session");
	session_flushed(iso, h);
	if (&iso->sp[owner] != sp) {
		iso->counts[C_CROSS_FLUSH]++;
		return;
	}
	for (int i = 0; i < MAX_SESSIONS; i++) {
		if (sp->st[i] == SESS_DEAD && low24(sp->sess[i]) == low24(h)) {
			sp->st[i] = SESS_NONE; /* its own: forgotten at save (I9) */
			sp->sess[i] = 0;
		}
	}
}

/* Leaked sessions: flushed from any space, or the TPM runs out of them. */
static void op_flush_leaked(Iso *iso, Space *sp)
{
	while (iso->n_leaked) {
		uint32_t h = iso->leaked[0];
		TSS2_RC rc = Tss2_Sys_FlushContext(sp->c.sys, h);

		settle(iso, sp, rc, WANT_OK, "FlushContext of a leaked session");
		session_flushed(iso, h);
	}
}

/* --- reopening, and the TPM as the control socket sees it --- */

static void space_open(Iso *iso, Space *sp)
{
	int r = rob_conn_open(&sp->c, iso->node, (sp - iso->sp) % 2 == 1);

	if (r < 0)
		rob_fail("open %s: %s", iso->node, strerror(-r));
	memset(&sp->objs, 0, sizeof(sp->objs));
	memset(sp->sess, 0, sizeof(sp->sess));
	memset(sp->st, 0, sizeof(sp->st));
	sp->have_saved = false;
}

/* Wait until the daemon has released all but @open files (FUSE sends RELEASE later). */
static void wait_released(Iso *iso, unsigned int open)
{
	g_autofree char *req = g_strdup_printf("wait-spaces %u 5000", open);
	g_autofree char *out = rob_control(iso->ctl, req);
	g_autofree char *want = g_strdup_printf("ok %u\n", open);

	if (strcmp(out, want) != 0 &&
	    !(g_str_has_prefix(out, "ok ") && strtoul(out + 3, NULL, 10) <= open))
		rob_fail("step %lu: wait-spaces %u: '%s'", iso->step, open, out);
}

/* Close: the release flushes every session in the space's table, dead ones too (A5). */
static void space_close(Iso *iso, Space *sp)
{
	for (int i = 0; i < MAX_SESSIONS; i++) {
		if (sp->st[i] != SESS_NONE)
			session_flushed(iso, sp->sess[i]);
		sp->st[i] = SESS_NONE;
		sp->sess[i] = 0;
	}
	rob_conn_close(&sp->c);
}

static void op_reopen(Iso *iso, Space *sp)
{
	space_close(iso, sp);
	wait_released(iso, iso->n - 1);
	space_open(iso, sp);
	iso->counts[C_REOPEN]++;
}

static bool expected_saved(const Iso *iso, uint32_t h)
{
	for (unsigned int i = 0; i < iso->n_leaked; i++)
		if (low24(iso->leaked[i]) == low24(h))
			return true;
	for (unsigned int s = 0; s < iso->n; s++)
		for (unsigned int i = 0; i < MAX_SESSIONS; i++)
			if (iso->sp[s].st[i] == SESS_LIVE && low24(iso->sp[s].sess[i]) == low24(h))
				return true;
	return false;
}

static unsigned int expected_saved_count(const Iso *iso)
{
	unsigned int n = iso->n_leaked;

	for (unsigned int s = 0; s < iso->n; s++)
		for (unsigned int i = 0; i < MAX_SESSIONS; i++)
			n += iso->sp[s].st[i] == SESS_LIVE;
	return n;
}

/* Between commands: no object and no loaded session in the TPM; the saved sessions known. */
static void check_tpm(Iso *iso)
{
	g_autofree char *out = rob_control(iso->ctl, "handles");
	g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
	g_auto(GStrv) saved = NULL;
	unsigned int n = 0;

	if (g_strv_length(lines) < 3 || strcmp(lines[0], "transient") != 0 ||
	    strcmp(lines[1], "loaded-session") != 0 || !g_str_has_prefix(lines[2], "saved-session"))
		rob_fail("step %lu: between commands the TPM holds: %s", iso->step, out);
	saved = g_strsplit(lines[2] + strlen("saved-session"), " ", -1);
	for (char **h = saved; *h; h++) {
		if (!**h)
			continue;
		n++;
		if (!expected_saved(iso, (uint32_t)strtoul(*h, NULL, 16)))
			rob_fail("step %lu: the TPM has saved session %s, the model has not: %s",
				 iso->step, *h, lines[2]);
	}
	if (n != expected_saved_count(iso))
		rob_fail("step %lu: the TPM has %u saved sessions, the model %u: %s", iso->step, n,
			 expected_saved_count(iso), lines[2]);
	iso->counts[C_CHECKS]++;
}

/* --- the walk --- */

typedef void (*Op)(Iso *iso, Space *sp);

static void op_read_own(Iso *iso, Space *sp)
{
	uint32_t h = sp->objs.handle[rob_random_below(ROB_MAX_OBJECTS)];

	if (h)
		read_own(iso, sp, h);
}

static void op_flush_own(Iso *iso, Space *sp)
{
	uint32_t h = sp->objs.handle[rob_random_below(ROB_MAX_OBJECTS)];
	TSS2_RC rc;

	if (!h)
		return;
	rc = Tss2_Sys_FlushContext(sp->c.sys, h);
	settle(iso, sp, rc, WANT_OK, "FlushContext of an own object");
	rob_slots_remove(&sp->objs, h);
}

static void op_maybe_create(Iso *iso, Space *sp)
{
	if (rob_slots_next(&sp->objs))
		op_create(iso, sp);
}

static void op_maybe_session(Iso *iso, Space *sp)
{
	if (sessions_after_swap_in(sp) < MAX_SESSIONS)
		op_start_session(iso, sp);
}

static const struct {
	Op op;
	unsigned int weight;
} ops[] = {
	{ op_maybe_create, 4 },	 { op_copy, 1 },	{ op_read_own, 3 },
	{ op_probe, 8 },	 { op_list, 2 },	{ op_flush_own, 2 },
	{ op_maybe_session, 3 }, { op_use_session, 3 }, { op_flush_session, 2 },
	{ op_reopen, 1 },
};

static Op pick_op(void)
{
	unsigned int total = 0, r;

	for (size_t i = 0; i < G_N_ELEMENTS(ops); i++)
		total += ops[i].weight;
	r = rob_random_below(total);
	for (size_t i = 0;; i++) {
		if (r < ops[i].weight)
			return ops[i].op;
		r -= ops[i].weight;
	}
}

/* The latest session @sp started (its highest live entry), or 0. */
static uint32_t newest_session(const Space *sp)
{
	for (int i = MAX_SESSIONS - 1; i >= 0; i--)
		if (sp->st[i] == SESS_LIVE)
			return sp->sess[i];
	return 0;
}

/*
 * Before the walk, one interleaving on purpose (the walk finds it too, by chance): space 0
 * starts a session and then fails a command (EINVAL), which flushes the session but leaves
 * it in the space's table (I12); space 1's next session gets the freed handle; closing
 * space 0 flushes that handle (A5), so space 1's session is gone: the kernel does the same.
 */
static void scenario_release_after_rollback(Iso *iso)
{
	Space *a = &iso->sp[0], *b = &iso->sp[1];
	uint32_t h, h2;
	TSS2_RC rc;

	op_start_session(iso, a);
	h = newest_session(a);
	rc = Tss2_Sys_FlushContext(a->c.sys, 0x80000000u);
	settle(iso, a, rc, WANT_EINVAL, "FlushContext(0x80000000)");
	op_start_session(iso, b);
	h2 = newest_session(b);
	op_reopen(iso, a);
	op_use_session_handle(iso, b, h2);
	printf("isolation: session 0x%08x of space 0 flushed by a failed command; space 1 got "
	       "0x%08x next%s\n",
	       h, h2,
	       low24(h) == low24(h2) ? ", and lost it when space 0 was closed (as in the kernel)"
				     : " (another handle: nothing to see)");
}

static void finish(Iso *iso)
{
	op_flush_leaked(iso, &iso->sp[0]);
	check_tpm(iso);
	for (unsigned int s = 0; s < iso->n; s++)
		space_close(iso, &iso->sp[s]);
	wait_released(iso, 0);
	check_tpm(iso);
	printf("isolation: %u spaces, %lu steps: %lu objects made, %lu copies, %lu probes "
	       "(%lu EINVAL), %lu lists, %lu sessions, %lu used by another space, %lu flushed by "
	       "another space, %lu left saved by the reload quirk, %lu reopens, %lu TPM checks\n",
	       iso->n, iso->step, iso->counts[C_CREATE], iso->counts[C_COPY], iso->counts[C_PROBE],
	       iso->counts[C_EINVAL], iso->counts[C_LIST], iso->counts[C_SESSION],
	       iso->counts[C_CROSS_USE], iso->counts[C_CROSS_FLUSH], iso->counts[C_LEAKED],
	       iso->counts[C_REOPEN], iso->counts[C_CHECKS]);
}

int rob_isolation_main(int argc, char **argv)
{
	static Iso iso;
	unsigned long steps;
	uint32_t seed;

	if (argc != 6)
		rob_fail("usage: isolation NODE SPACES STEPS SEED CONTROL_SOCKET");
	iso.node = argv[1];
	iso.n = (unsigned int)strtoul(argv[2], NULL, 10);
	steps = strtoul(argv[3], NULL, 10);
	seed = (uint32_t)strtoul(argv[4], NULL, 10);
	iso.ctl = argv[5];
	if (iso.n < 2 || iso.n > MAX_SPACES)
		rob_fail("SPACES must be 2 to %d", MAX_SPACES);
	rob_set_who("isolation (seed %u)", seed);
	printf("isolation: seed %u (to repeat: TPMRM_ROB_SEED=%u)\n", seed, seed);
	fflush(stdout);
	rob_seed(seed);
	for (unsigned int s = 0; s < iso.n; s++)
		space_open(&iso, &iso.sp[s]);
	scenario_release_after_rollback(&iso);
	check_tpm(&iso);
	for (iso.step = 1; iso.step <= steps; iso.step++) {
		pick_op()(&iso, &iso.sp[rob_random_below(iso.n)]);
		if (iso.n_leaked > MAX_LEAKED)
			op_flush_leaked(&iso, &iso.sp[rob_random_below(iso.n)]);
		if (iso.step % CHECK_EVERY == 0)
			check_tpm(&iso);
	}
	iso.step--;
	finish(&iso);
	return 0;
}
