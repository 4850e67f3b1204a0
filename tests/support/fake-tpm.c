/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fake TPM of fake-tpm.h.  One transmit is: log the command, apply the first fault
 * that matches it, or execute it against the small model of objects and sessions.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "fake-tpm.h"

#define HT_MASK	      0xff000000u
#define HT_TRANSIENT  0x80000000u
#define HT_PERSISTENT 0x81000000u
#define HT_HMAC	      0x02000000u
#define HT_POLICY     0x03000000u
#define HT_PERMANENT  0x40000000u
#define HT_NV	      0x01000000u

/* The savedHandle of an object context says what kind of object it was (part 2, 14.6). */
#define SAVED_OBJECT   0x80000000u
#define SAVED_SEQUENCE 0x80000001u

#define MAGIC_OBJECT  0x464b4f42u /* "FKOB" */
#define MAGIC_SESSION 0x464b5345u /* "FKSE" */

#define RANDOM_MAX 64
#define NONCE_SIZE 16

typedef enum FaultKind {
	FAULT_SAVE,
	FAULT_LOAD,
	FAULT_RC,
	FAULT_RAW,
	FAULT_ERRNO,
} FaultKind;

struct FakeFault {
	FaultKind kind;
	uint32_t cc;	   /* RC, RAW, ERRNO: 0 matches any command */
	uint32_t entity;   /* SAVE, LOAD */
	unsigned int skip; /* matching commands to let through first */
	int times;	   /* < 0: for ever */
	uint32_t rc;
	int err;
	uint8_t *bytes;
	size_t len;
};

typedef struct FakeTpmEntry {
	char *text;
	uint8_t *cmd;
	size_t cmd_len;
	uint8_t *rsp; /* NULL when transmit failed */
	size_t rsp_len;
} FakeTpmEntry;

typedef struct Exec Exec;

typedef struct FakeCommand {
	uint32_t cc;
	const char *name;
	unsigned int nhandles; /* what the fake parses, whatever the table reports */
	uint32_t attrs;	       /* the TPMA_CC reported by default (libtpms's values) */
	uint32_t (*run)(Exec *x);
} FakeCommand;

/* A context in a ContextLoad command, as far as the fake understands it. */
typedef struct ParsedContext {
	bool valid;
	bool session;
	uint32_t id; /* object number, or session handle */
	uint64_t sequence;
} ParsedContext;

/* One command being executed. */
struct Exec {
	FakeTpm *fake;
	const uint8_t *cmd;
	size_t len;
	uint32_t cc;
	const FakeCommand *def; /* NULL: unknown command code */
	uint32_t handles[3];
	bool short_handles;
	Tpm2Reader params; /* after the handle and authorization areas */
	bool params_ok;
	ParsedContext ctx;  /* ContextLoad */
	uint32_t flush;	    /* FlushContext */
	uint32_t cap, prop; /* GetCapability */
	uint32_t cap_count; /* GetCapability */
	Tpm2Writer w;	    /* the response, header already written */
	GString *text;
};

static uint32_t run_create_primary(Exec *x);
static uint32_t run_nothing(Exec *x);
static uint32_t run_load(Exec *x);
static uint32_t run_sequence_update(Exec *x);
static uint32_t run_context_load(Exec *x);
static uint32_t run_context_save(Exec *x);
static uint32_t run_flush_context(Exec *x);
static uint32_t run_read_public(Exec *x);
static uint32_t run_start_auth_session(Exec *x);
static uint32_t run_get_capability(Exec *x);
static uint32_t run_get_random(Exec *x);
static uint32_t run_hash_sequence_start(Exec *x);
static uint32_t run_policy_get_digest(Exec *x);

/* Sorted by command code, as GetCapability(TPM_CAP_COMMANDS) lists them. */
static const FakeCommand commands[] = {
	{ TPM2_CC_CreatePrimary, "CreatePrimary", 1, 0x12000131u, run_create_primary },
	{ TPM2_CC_SelfTest, "SelfTest", 0, 0x00800143u, run_nothing },
	{ TPM2_CC_Load, "Load", 1, 0x12000157u, run_load },
	{ TPM2_CC_SequenceUpdate, "SequenceUpdate", 1, 0x0200015cu, run_sequence_update },
	{ TPM2_CC_ContextLoad, "ContextLoad", 0, 0x10000161u, run_context_load },
	{ TPM2_CC_ContextSave, "ContextSave", 1, 0x02000162u, run_context_save },
	{ TPM2_CC_FlushContext, "FlushContext", 0, 0x00000165u, run_flush_context },
	{ TPM2_CC_ReadPublic, "ReadPublic", 1, 0x02000173u, run_read_public },
	{ TPM2_CC_StartAuthSession, "StartAuthSession", 2, 0x14000176u, run_start_auth_session },
	{ TPM2_CC_GetCapability, "GetCapability", 0, 0x0000017au, run_get_capability },
	{ TPM2_CC_GetRandom, "GetRandom", 0, 0x0000017bu, run_get_random },
	{ TPM2_CC_HashSequenceStart, "HashSequenceStart", 0, 0x10000186u, run_hash_sequence_start },
	{ TPM2_CC_PolicyGetDigest, "PolicyGetDigest", 1, 0x02000189u, run_policy_get_digest },
	{ FAKE_TPM_VENDOR_CC, "Vendor 0x20000001", 0, 0x20000001u, run_nothing },
};

static uint32_t attrs_cc(uint32_t attrs)
{
	return (attrs & TPMA_CC_COMMANDINDEX_MASK) | (attrs & TPMA_CC_V);
}

static const FakeCommand *find_command(uint32_t cc)
{
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
		if (commands[i].cc == cc)
			return &commands[i];
	return NULL;
}

/* --- the model --- */

static uint32_t object_at(FakeTpm *fake, uint32_t phandle)
{
	uint32_t i = phandle - HT_TRANSIENT;

	if ((phandle & HT_MASK) != HT_TRANSIENT || i >= FAKE_TPM_MAX_LOADED ||
	    i >= fake->max_loaded)
		return 0;
	return fake->loaded[i];
}

static FakeSession *session_of(FakeTpm *fake, uint32_t handle)
{
	uint32_t i = handle & 0xffffffu;

	if ((handle & HT_MASK) != HT_HMAC && (handle & HT_MASK) != HT_POLICY)
		return NULL;
	if (i >= fake->n_sessions || fake->sessions[i].handle != handle ||
	    fake->sessions[i].state == FAKE_SESSION_NONE)
		return NULL;
	return &fake->sessions[i];
}

static bool persistent_exists(FakeTpm *fake, uint32_t handle)
{
	for (size_t i = 0; i < fake->n_persistent; i++)
		if (fake->persistent[i] == handle)
			return true;
	return false;
}

/* Load object @id at the lowest free phandle; 0 when the TPM is full. */
static uint32_t load_object(FakeTpm *fake, uint32_t id)
{
	for (uint32_t i = 0; i < fake->max_loaded && i < FAKE_TPM_MAX_LOADED; i++) {
		if (!fake->loaded[i]) {
			fake->loaded[i] = id;
			return HT_TRANSIENT + i;
		}
	}
	return 0;
}

/* Create and load an object; its phandle, or 0 (TPM_RC_OBJECT_MEMORY). */
static uint32_t create_object(FakeTpm *fake, uint32_t hierarchy, bool sequence)
{
	uint32_t id, phandle;

	if (fake->n_objects >= FAKE_TPM_MAX_OBJECTS)
		return 0;
	id = fake->n_objects + 1;
	phandle = load_object(fake, id);
	if (!phandle)
		return 0;
	fake->n_objects = id;
	fake->objects[id].hierarchy = hierarchy;
	fake->objects[id].sequence = sequence;
	return phandle;
}

/* The rc for handle @h at @index of the handle area, when it must name an object. */
static uint32_t check_object(FakeTpm *fake, uint32_t h, unsigned int index)
{
	if ((h & HT_MASK) == HT_TRANSIENT)
		return object_at(fake, h) ? 0 : TPM2_RC_REFERENCE_H0 + index;
	if ((h & HT_MASK) == HT_PERSISTENT && persistent_exists(fake, h))
		return 0;
	return TPM2_RC_HANDLE + TPM2_RC_H + ((index + 1) << 8);
}

/* The hierarchy of the object at @h (transient or persistent). */
static uint32_t hierarchy_of(FakeTpm *fake, uint32_t h)
{
	uint32_t id = object_at(fake, h);

	return id ? fake->objects[id].hierarchy : TPM2_RH_OWNER;
}

static void put_context(Tpm2Writer *w, uint64_t sequence, uint32_t saved_handle, uint32_t hierarchy,
			uint32_t magic, uint32_t id)
{
	static const uint8_t zeros[FAKE_TPM_BLOB_SIZE];

	tpm2_wire_put_u64(w, sequence);
	tpm2_wire_put_u32(w, saved_handle);
	tpm2_wire_put_u32(w, hierarchy);
	tpm2_wire_put_u16(w, FAKE_TPM_BLOB_SIZE);
	tpm2_wire_put_u32(w, magic);
	tpm2_wire_put_u32(w, id);
	tpm2_wire_put_u64(w, sequence);
	tpm2_wire_put_bytes(w, zeros, FAKE_TPM_BLOB_SIZE - 16);
}

static void put_tpm2b_fill(Tpm2Writer *w, uint16_t size, uint8_t first, uint8_t step)
{
	tpm2_wire_put_u16(w, size);
	for (uint16_t i = 0; i < size; i++)
		tpm2_wire_put_u8(w, (uint8_t)(first + i * step));
}

/* --- faults --- */

static void fault_free(FakeFault *f)
{
	if (f) {
		g_free(f->bytes);
		g_free(f);
	}
}

static void add_fault(FakeTpm *fake, FakeFault *f)
{
	if (fake->n_faults >= FAKE_TPM_MAX_FAULTS || f->times == 0) {
		g_critical("fake-tpm: fault not added (too many, or zero times)");
		fault_free(f);
		return;
	}
	fake->faults[fake->n_faults++] = f;
}

static void remove_fault(FakeTpm *fake, size_t i)
{
	fault_free(fake->faults[i]);
	memmove(&fake->faults[i], &fake->faults[i + 1],
		(fake->n_faults - i - 1) * sizeof(fake->faults[0]));
	fake->n_faults--;
}

/* Use up one application of fault @i. */
static void spend_fault(FakeTpm *fake, size_t i)
{
	FakeFault *f = fake->faults[i];

	if (f->times > 0 && --f->times == 0)
		remove_fault(fake, i);
}

/* The rc a ContextSave/ContextLoad fault on @entity gives, or 0. */
static uint32_t take_entity_fault(FakeTpm *fake, FaultKind kind, uint32_t entity)
{
	for (size_t i = 0; i < fake->n_faults; i++) {
		FakeFault *f = fake->faults[i];
		uint32_t rc;

		if (f->kind != kind || f->entity != entity)
			continue;
		rc = f->rc;
		spend_fault(fake, i);
		return rc;
	}
	return 0;
}

/*
 * The first command-level fault that applies to @cc, copied to @ret (bytes duplicated),
 * or false.  Faults still skipping count this command.
 */
static bool take_command_fault(FakeTpm *fake, uint32_t cc, FakeFault *ret)
{
	bool found = false;

	for (size_t i = 0; i < fake->n_faults; i++) {
		FakeFault *f = fake->faults[i];

		if (f->kind != FAULT_RC && f->kind != FAULT_RAW && f->kind != FAULT_ERRNO)
			continue;
		if (f->cc != 0 && f->cc != cc)
			continue;
		if (f->skip > 0) {
			f->skip--;
			continue;
		}
		if (found)
			continue;
		*ret = *f;
		ret->bytes = g_memdup2(f->bytes, f->len);
		found = true;
		spend_fault(fake, i);
		i--; /* the fault at i may have gone */
	}
	return found;
}

/* --- describing a command --- */

static void parse_context(Exec *x)
{
	Tpm2Reader r = x->params;
	const uint8_t *blob;
	uint64_t seq, blob_seq;
	uint32_t saved, hierarchy, magic, id;
	uint16_t size;
	Tpm2Reader b;

	x->ctx.valid = false;
	if (tpm2_wire_get_u64(&r, &seq) < 0 || tpm2_wire_get_u32(&r, &saved) < 0 ||
	    tpm2_wire_get_u32(&r, &hierarchy) < 0 || tpm2_wire_get_tpm2b(&r, &blob, &size) < 0 ||
	    size != FAKE_TPM_BLOB_SIZE)
		return;
	b = tpm2_reader_init(blob, size);
	if (tpm2_wire_get_u32(&b, &magic) < 0 || tpm2_wire_get_u32(&b, &id) < 0 ||
	    tpm2_wire_get_u64(&b, &blob_seq) < 0 || blob_seq != seq)
		return;
	if (magic == MAGIC_OBJECT && id >= 1 && id <= x->fake->n_objects) {
		x->ctx.session = false;
	} else if (magic == MAGIC_SESSION && id == saved) {
		x->ctx.session = true;
	} else {
		return;
	}
	x->ctx.valid = true;
	x->ctx.id = id;
	x->ctx.sequence = seq;
}

static const char *cap_name(uint32_t cap)
{
	switch (cap) {
	case TPM2_CAP_COMMANDS:
		return "COMMANDS";
	case TPM2_CAP_HANDLES:
		return "HANDLES";
	case TPM2_CAP_TPM_PROPERTIES:
		return "PROPERTIES";
	default:
		return NULL;
	}
}

/* What follows the handle area: skip an authorization area, describe the parameters. */
static void describe_params(Exec *x, size_t off)
{
	Tpm2Reader *r = &x->params;
	uint32_t auth_size;
	const uint8_t *skip;

	*r = tpm2_reader_init(x->cmd, x->len);
	r->off = off;
	x->params_ok = true;
	if (tpm2_wire_load_u16(x->cmd) == TPM2_ST_SESSIONS &&
	    (tpm2_wire_get_u32(r, &auth_size) < 0 || tpm2_wire_get_bytes(r, auth_size, &skip) < 0))
		x->params_ok = false;

	if (!x->params_ok)
		return;
	if (x->cc == TPM2_CC_ContextLoad) {
		parse_context(x);
		if (!x->ctx.valid)
			g_string_append(x->text, " (bad)");
		else if (x->ctx.session)
			g_string_append_printf(x->text, " 0x%08x", x->ctx.id);
		else
			g_string_append_printf(x->text, " obj#%u", x->ctx.id);
	} else if (x->cc == TPM2_CC_FlushContext) {
		Tpm2Reader c = *r;

		if (tpm2_wire_get_u32(&c, &x->flush) == 0)
			g_string_append_printf(x->text, " 0x%08x", x->flush);
	} else if (x->cc == TPM2_CC_GetCapability) {
		Tpm2Reader c = *r;
		const char *name;

		if (tpm2_wire_get_u32(&c, &x->cap) < 0 || tpm2_wire_get_u32(&c, &x->prop) < 0 ||
		    tpm2_wire_get_u32(&c, &x->cap_count) < 0) {
			x->params_ok = false;
			return;
		}
		name = cap_name(x->cap);
		if (name)
			g_string_append_printf(x->text, " %s 0x%08x", name, x->prop);
		else
			g_string_append_printf(x->text, " 0x%08x 0x%08x", x->cap, x->prop);
	}
}

static void describe(Exec *x)
{
	size_t off = TPM2_WIRE_HEADER_SIZE;

	if (x->len < TPM2_WIRE_HEADER_SIZE) {
		g_string_printf(x->text, "(%zu bytes)", x->len);
		return;
	}
	x->cc = tpm2_wire_load_u32(x->cmd + 6);
	x->def = find_command(x->cc);
	if (!x->def) {
		g_string_printf(x->text, "cc 0x%08x", x->cc);
		return;
	}
	g_string_assign(x->text, x->def->name);
	for (unsigned int i = 0; i < x->def->nhandles; i++, off += 4) {
		if (off + 4 > x->len) {
			g_string_append(x->text, " (short)");
			x->short_handles = true;
			return;
		}
		x->handles[i] = tpm2_wire_load_u32(x->cmd + off);
		g_string_append_printf(x->text, " 0x%08x", x->handles[i]);
	}
	describe_params(x, off);
}

/* --- the commands --- */

static uint32_t run_nothing(Exec *x)
{
	(void)x;
	return 0;
}

static uint32_t new_object_response(Exec *x, uint32_t phandle, bool name)
{
	if (!phandle)
		return TPM2_RC_OBJECT_MEMORY;
	tpm2_wire_put_u32(&x->w, phandle);
	if (name)
		tpm2_wire_put_u16(&x->w, 0);
	g_string_append_printf(x->text, " -> 0x%08x", phandle);
	return 0;
}

static uint32_t run_create_primary(Exec *x)
{
	if ((x->handles[0] & HT_MASK) != HT_PERMANENT)
		return TPM2_RC_HANDLE + TPM2_RC_1;
	return new_object_response(x, create_object(x->fake, x->handles[0], false), true);
}

static uint32_t run_load(Exec *x)
{
	uint32_t rc = check_object(x->fake, x->handles[0], 0);

	if (rc)
		return rc;
	return new_object_response(
		x, create_object(x->fake, hierarchy_of(x->fake, x->handles[0]), false), true);
}

static uint32_t run_hash_sequence_start(Exec *x)
{
	return new_object_response(x, create_object(x->fake, TPM2_RH_NULL, true), false);
}

static uint32_t run_sequence_update(Exec *x)
{
	return check_object(x->fake, x->handles[0], 0);
}

static uint32_t run_read_public(Exec *x)
{
	uint32_t rc = check_object(x->fake, x->handles[0], 0);
	uint32_t id = object_at(x->fake, x->handles[0]);

	if (rc)
		return rc;
	/* outPublic: four bytes naming the object, so a test sees which one was read. */
	tpm2_wire_put_u16(&x->w, 4);
	tpm2_wire_put_u32(&x->w, id ? id : x->handles[0]);
	tpm2_wire_put_u16(&x->w, 0); /* name */
	tpm2_wire_put_u16(&x->w, 0); /* qualifiedName */
	return 0;
}

static uint32_t run_policy_get_digest(Exec *x)
{
	FakeSession *s = session_of(x->fake, x->handles[0]);

	if (!s || s->state != FAKE_SESSION_LOADED)
		return TPM2_RC_REFERENCE_H0;
	put_tpm2b_fill(&x->w, 32, (uint8_t)s->handle, 0);
	return 0;
}

static uint32_t check_session_key(FakeTpm *fake, uint32_t h, unsigned int index)
{
	return h == TPM2_RH_NULL ? 0 : check_object(fake, h, index);
}

static uint32_t run_start_auth_session(Exec *x)
{
	FakeTpm *fake = x->fake;
	const uint8_t *nonce, *salt;
	uint16_t nonce_size, salt_size;
	uint8_t type;
	uint32_t rc, handle;

	rc = check_session_key(fake, x->handles[0], 0);
	if (!rc)
		rc = check_session_key(fake, x->handles[1], 1);
	if (rc)
		return rc;
	if (tpm2_wire_get_tpm2b(&x->params, &nonce, &nonce_size) < 0 ||
	    tpm2_wire_get_tpm2b(&x->params, &salt, &salt_size) < 0 ||
	    tpm2_wire_get_u8(&x->params, &type) < 0)
		return TPM2_RC_INSUFFICIENT;
	if (type != TPM2_SE_HMAC && type != TPM2_SE_POLICY && type != TPM2_SE_TRIAL)
		return TPM2_RC_VALUE + TPM2_RC_P + TPM2_RC_3;
	if (fake->n_sessions >= FAKE_TPM_MAX_SESSIONS)
		return TPM2_RC_SESSION_HANDLES;

	handle = (type == TPM2_SE_HMAC ? HT_HMAC : HT_POLICY) | (uint32_t)fake->n_sessions;
	fake->sessions[fake->n_sessions++] = (FakeSession){ handle, FAKE_SESSION_LOADED, 0 };
	tpm2_wire_put_u32(&x->w, handle);
	put_tpm2b_fill(&x->w, NONCE_SIZE, 0x5a, 0);
	g_string_append_printf(x->text, " -> 0x%08x", handle);
	return 0;
}

static uint32_t run_context_save(Exec *x)
{
	FakeTpm *fake = x->fake;
	uint32_t h = x->handles[0];
	uint32_t id = object_at(fake, h);
	FakeSession *s = session_of(fake, h);
	uint32_t rc = take_entity_fault(fake, FAULT_SAVE, id ? FAKE_TPM_OBJ(id) : h);

	if (rc)
		return rc;
	if (id) {
		fake->context_counter++;
		put_context(&x->w, fake->context_counter,
			    fake->objects[id].sequence ? SAVED_SEQUENCE : SAVED_OBJECT,
			    fake->objects[id].hierarchy, MAGIC_OBJECT, id);
		return 0;
	}
	if (s && s->state == FAKE_SESSION_LOADED) {
		s->sequence = ++fake->context_counter;
		s->state = FAKE_SESSION_SAVED;
		put_context(&x->w, s->sequence, h, TPM2_RH_NULL, MAGIC_SESSION, h);
		return 0;
	}
	if ((h & HT_MASK) == HT_TRANSIENT || (h & HT_MASK) == HT_HMAC || (h & HT_MASK) == HT_POLICY)
		return TPM2_RC_REFERENCE_H0;
	return TPM2_RC_HANDLE + TPM2_RC_1;
}

static uint32_t run_context_load(Exec *x)
{
	FakeTpm *fake = x->fake;
	FakeSession *s;
	uint32_t rc, phandle;

	if (!x->ctx.valid)
		return FAKE_RC_INTEGRITY_P1;
	rc = take_entity_fault(fake, FAULT_LOAD, x->ctx.id);
	if (rc)
		return rc;
	if (!x->ctx.session)
		return new_object_response(x, load_object(fake, x->ctx.id), false);

	/* A session context is good once: for its latest save, while the session is saved. */
	s = session_of(fake, x->ctx.id);
	if (!s || s->state != FAKE_SESSION_SAVED || s->sequence != x->ctx.sequence)
		return FAKE_RC_HANDLE_P1;
	s->state = FAKE_SESSION_LOADED;
	phandle = s->handle;
	tpm2_wire_put_u32(&x->w, phandle);
	g_string_append_printf(x->text, " -> 0x%08x", phandle);
	return 0;
}

static uint32_t run_flush_context(Exec *x)
{
	FakeTpm *fake = x->fake;
	FakeSession *s;
	uint32_t h;

	if (tpm2_wire_get_u32(&x->params, &h) < 0)
		return TPM2_RC_INSUFFICIENT;
	if (object_at(fake, h)) {
		fake->loaded[h - HT_TRANSIENT] = 0;
		return 0;
	}
	s = session_of(fake, h);
	if (s) {
		s->state = FAKE_SESSION_NONE;
		return 0;
	}
	return FAKE_RC_HANDLE_P1;
}

/* Handles of the kind @prop names, from @prop up, ascending; returns how many. */
static size_t list_handles(FakeTpm *fake, uint32_t prop, uint32_t *out, size_t cap)
{
	size_t n = 0;

	switch (prop & HT_MASK) {
	case HT_TRANSIENT:
		for (uint32_t i = 0; i < FAKE_TPM_MAX_LOADED && n < cap; i++)
			if (fake->loaded[i] && HT_TRANSIENT + i >= prop)
				out[n++] = HT_TRANSIENT + i;
		break;
	case HT_HMAC:	/* TPM_HT_LOADED_SESSION */
	case HT_POLICY: /* TPM_HT_SAVED_SESSION */
		for (size_t i = 0; i < fake->n_sessions && n < cap; i++) {
			FakeSession *s = &fake->sessions[i];
			FakeSessionState want = (prop & HT_MASK) == HT_HMAC ? FAKE_SESSION_LOADED
									    : FAKE_SESSION_SAVED;

			if (s->state == want && (s->handle & 0xffffffu) >= (prop & 0xffffffu))
				out[n++] = s->handle;
		}
		break;
	case HT_PERSISTENT:
		for (size_t i = 0; i < fake->n_persistent && n < cap; i++)
			if (fake->persistent[i] >= prop)
				out[n++] = fake->persistent[i];
		break;
	default:
		break;
	}
	return n;
}

static void put_cap_list(Exec *x, const uint32_t *items, size_t n, uint32_t max)
{
	size_t count = n < max ? n : max;

	tpm2_wire_put_u8(&x->w, n > count);
	tpm2_wire_put_u32(&x->w, x->cap);
	tpm2_wire_put_u32(&x->w, (uint32_t)count);
	for (size_t i = 0; i < count; i++)
		tpm2_wire_put_u32(&x->w, items[i]);
}

static uint32_t run_get_capability(Exec *x)
{
	FakeTpm *fake = x->fake;
	uint32_t items[FAKE_TPM_MAX_COMMANDS + FAKE_TPM_MAX_SESSIONS + FAKE_TPM_MAX_LOADED] = { 0 };
	uint32_t max = x->cap_count < TPM2_MAX_CAP_CC ? x->cap_count : TPM2_MAX_CAP_CC;
	size_t n = 0;

	if (!x->params_ok)
		return TPM2_RC_INSUFFICIENT;
	switch (x->cap) {
	case TPM2_CAP_COMMANDS:
		for (size_t i = 0; i < fake->n_cc; i++)
			if (attrs_cc(fake->cc_attrs[i]) >= x->prop)
				items[n++] = fake->cc_attrs[i];
		if (fake->cc_page && max > fake->cc_page)
			max = fake->cc_page;
		put_cap_list(x, items, n, max);
		return 0;
	case TPM2_CAP_HANDLES:
		n = list_handles(fake, x->prop, items, G_N_ELEMENTS(items));
		put_cap_list(x, items, n, max);
		return 0;
	case TPM2_CAP_TPM_PROPERTIES:
		n = x->prop <= TPM2_PT_TOTAL_COMMANDS && max > 0;
		tpm2_wire_put_u8(&x->w, 0);
		tpm2_wire_put_u32(&x->w, x->cap);
		tpm2_wire_put_u32(&x->w, (uint32_t)n);
		if (n) {
			tpm2_wire_put_u32(&x->w, TPM2_PT_TOTAL_COMMANDS);
			tpm2_wire_put_u32(&x->w, (uint32_t)fake->n_cc);
		}
		return 0;
	default:
		put_cap_list(x, items, 0, 0);
		return 0;
	}
}

static uint32_t run_get_random(Exec *x)
{
	uint16_t n;

	if (tpm2_wire_get_u16(&x->params, &n) < 0)
		return TPM2_RC_INSUFFICIENT;
	put_tpm2b_fill(&x->w, n < RANDOM_MAX ? n : RANDOM_MAX, 0xa0, 1);
	return 0;
}

/* --- transmit --- */

static uint32_t execute(Exec *x)
{
	if (x->len < TPM2_WIRE_HEADER_SIZE || tpm2_wire_load_u32(x->cmd + 2) != x->len)
		return TPM2_RC_COMMAND_SIZE;
	if (!x->def)
		return TPM2_RC_COMMAND_CODE;
	if (x->short_handles || !x->params_ok)
		return TPM2_RC_INSUFFICIENT;
	return x->def->run(x);
}

static void entry_free(gpointer p)
{
	FakeTpmEntry *e = p;

	g_free(e->text);
	g_free(e->cmd);
	g_free(e->rsp);
	g_free(e);
}

static size_t bare_response(uint8_t *out, size_t cap, uint32_t rc)
{
	Tpm2Writer w = tpm2_writer_init(out, cap);
	size_t len = 0;

	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, rc);
	(void)tpm2_wire_finish(&w, &len);
	return len;
}

static int fake_transmit(TpmBackend *be, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			 size_t rsp_cap, size_t *ret_rsp_len)
{
	FakeTpm *fake = (FakeTpm *)be;
	FakeTpmEntry *e = g_new0(FakeTpmEntry, 1);
	uint8_t out[TPM2_WIRE_BUF_MAX];
	size_t out_len = 0;
	FakeFault fault = { 0 };
	Exec x = { .fake = fake, .cmd = cmd, .len = cmd_len, .text = g_string_new(NULL) };
	uint32_t rc;

	e->cmd = g_memdup2(cmd, cmd_len);
	e->cmd_len = cmd_len;
	g_ptr_array_add(fake->log, e);
	describe(&x);

	if (take_command_fault(fake, x.len >= TPM2_WIRE_HEADER_SIZE ? x.cc : 0, &fault)) {
		if (fault.kind == FAULT_ERRNO) {
			g_string_append_printf(x.text, " -> errno %d", fault.err);
			e->text = g_string_free(x.text, false);
			g_free(fault.bytes);
			return -fault.err;
		}
		if (fault.kind == FAULT_RC) {
			out_len = bare_response(out, sizeof(out), fault.rc);
			g_string_append_printf(x.text, " -> rc 0x%03x", fault.rc);
		} else {
			out_len = MIN(fault.len, sizeof(out));
			memcpy(out, fault.bytes, out_len);
			g_string_append(x.text, " -> raw");
		}
		g_free(fault.bytes);
	} else {
		x.w = tpm2_writer_init(out, sizeof(out));
		tpm2_wire_put_header(&x.w, TPM2_ST_NO_SESSIONS, TPM2_RC_SUCCESS);
		rc = execute(&x);
		if (rc) {
			out_len = bare_response(out, sizeof(out), rc);
			if (x.cc != TPM2_CC_FlushContext)
				g_string_append_printf(x.text, " -> rc 0x%03x", rc);
		} else if (tpm2_wire_finish(&x.w, &out_len) < 0) {
			out_len = bare_response(out, sizeof(out), TPM2_RC_FAILURE);
		}
	}

	e->text = g_string_free(x.text, false);
	e->rsp = g_memdup2(out, out_len);
	e->rsp_len = out_len;
	if (out_len > rsp_cap)
		return -EMSGSIZE;
	memcpy(rsp, out, out_len);
	*ret_rsp_len = out_len;
	return 0;
}

static void fake_destroy(TpmBackend *be)
{
	FakeTpm *fake = (FakeTpm *)be;

	fake_tpm_clear_faults(fake);
	g_ptr_array_unref(fake->log);
	g_free(fake->last_check);
	g_free(fake);
}

static const TpmBackendOps fake_ops = {
	.name = "fake",
	.transmit = fake_transmit,
	.cancel = NULL,
	.destroy = fake_destroy,
};

FakeTpm *fake_tpm_new(void)
{
	FakeTpm *fake = g_new0(FakeTpm, 1);

	fake->base.ops = &fake_ops;
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
		fake->cc_attrs[fake->n_cc++] = commands[i].attrs;
	fake->max_loaded = FAKE_TPM_MAX_LOADED;
	fake->persistent[fake->n_persistent++] = 0x81000001u;
	fake->log = g_ptr_array_new_with_free_func(entry_free);
	return fake;
}

/* --- the command table --- */

void fake_tpm_remove_command(FakeTpm *fake, uint32_t cc)
{
	for (size_t i = 0; i < fake->n_cc; i++) {
		if (attrs_cc(fake->cc_attrs[i]) == cc) {
			memmove(&fake->cc_attrs[i], &fake->cc_attrs[i + 1],
				(fake->n_cc - i - 1) * sizeof(fake->cc_attrs[0]));
			fake->n_cc--;
			return;
		}
	}
}

void fake_tpm_set_command(FakeTpm *fake, uint32_t attrs)
{
	uint32_t cc = attrs_cc(attrs);
	size_t i;

	fake_tpm_remove_command(fake, cc);
	g_return_if_fail(fake->n_cc < FAKE_TPM_MAX_COMMANDS);
	for (i = 0; i < fake->n_cc && attrs_cc(fake->cc_attrs[i]) < cc; i++)
		;
	memmove(&fake->cc_attrs[i + 1], &fake->cc_attrs[i],
		(fake->n_cc - i) * sizeof(fake->cc_attrs[0]));
	fake->cc_attrs[i] = attrs;
	fake->n_cc++;
}

/* --- state --- */

FakeSessionState fake_tpm_session_state(FakeTpm *fake, uint32_t handle)
{
	FakeSession *s = session_of(fake, handle);

	return s ? s->state : FAKE_SESSION_NONE;
}

unsigned int fake_tpm_loaded_objects(FakeTpm *fake)
{
	unsigned int n = 0;

	for (size_t i = 0; i < FAKE_TPM_MAX_LOADED; i++)
		n += fake->loaded[i] != 0;
	return n;
}

unsigned int fake_tpm_loaded_sessions(FakeTpm *fake)
{
	unsigned int n = 0;

	for (size_t i = 0; i < fake->n_sessions; i++)
		n += fake->sessions[i].state == FAKE_SESSION_LOADED;
	return n;
}

void fake_tpm_flush_session(FakeTpm *fake, uint32_t handle)
{
	FakeSession *s = session_of(fake, handle);

	if (s)
		s->state = FAKE_SESSION_NONE;
}

/* --- faults --- */

static FakeFault *fault_new(FaultKind kind, int times)
{
	FakeFault *f = g_new0(FakeFault, 1);

	f->kind = kind;
	f->times = times;
	return f;
}

void fake_tpm_fail_context_save(FakeTpm *fake, uint32_t entity, uint32_t rc, int times)
{
	FakeFault *f = fault_new(FAULT_SAVE, times);

	f->entity = entity;
	f->rc = rc;
	add_fault(fake, f);
}

void fake_tpm_fail_context_load(FakeTpm *fake, uint32_t entity, uint32_t rc, int times)
{
	FakeFault *f = fault_new(FAULT_LOAD, times);

	f->entity = entity;
	f->rc = rc;
	add_fault(fake, f);
}

void fake_tpm_inject_rc(FakeTpm *fake, uint32_t cc, unsigned int skip, uint32_t rc, int times)
{
	FakeFault *f = fault_new(FAULT_RC, times);

	f->cc = cc;
	f->skip = skip;
	f->rc = rc;
	add_fault(fake, f);
}

void fake_tpm_inject_response(FakeTpm *fake, uint32_t cc, unsigned int skip, const uint8_t *rsp,
			      size_t len, int times)
{
	FakeFault *f = fault_new(FAULT_RAW, times);

	f->cc = cc;
	f->skip = skip;
	f->bytes = g_memdup2(rsp, len);
	f->len = len;
	add_fault(fake, f);
}

void fake_tpm_inject_errno(FakeTpm *fake, uint32_t cc, unsigned int skip, int err, int times)
{
	FakeFault *f = fault_new(FAULT_ERRNO, times);

	f->cc = cc;
	f->skip = skip;
	f->err = err;
	add_fault(fake, f);
}

void fake_tpm_clear_faults(FakeTpm *fake)
{
	while (fake->n_faults)
		remove_fault(fake, fake->n_faults - 1);
}

/* --- the log --- */

static FakeTpmEntry *entry(FakeTpm *fake, size_t i)
{
	g_return_val_if_fail(i < fake_tpm_log_count(fake), NULL);
	return g_ptr_array_index(fake->log, fake->log_start + i);
}

void fake_tpm_log_reset(FakeTpm *fake)
{
	fake->log_start = fake->log->len;
}

size_t fake_tpm_log_count(FakeTpm *fake)
{
	return fake->log->len - fake->log_start;
}

const char *fake_tpm_log_text(FakeTpm *fake, size_t i)
{
	FakeTpmEntry *e = entry(fake, i);

	return e ? e->text : NULL;
}

const uint8_t *fake_tpm_log_command(FakeTpm *fake, size_t i, size_t *ret_len)
{
	FakeTpmEntry *e = entry(fake, i);

	*ret_len = e ? e->cmd_len : 0;
	return e ? e->cmd : NULL;
}

const uint8_t *fake_tpm_log_response(FakeTpm *fake, size_t i, size_t *ret_len)
{
	FakeTpmEntry *e = entry(fake, i);

	*ret_len = e ? e->rsp_len : 0;
	return e ? e->rsp : NULL;
}

char *fake_tpm_log_dump(FakeTpm *fake)
{
	GString *s = g_string_new(NULL);

	for (size_t i = 0; i < fake_tpm_log_count(fake); i++)
		g_string_append_printf(s, "  %2zu %s\n", i, fake_tpm_log_text(fake, i));
	if (fake_tpm_log_count(fake) == 0)
		g_string_append(s, "  (nothing)\n");
	return g_string_free(s, false);
}

char *fake_tpm_log_diffv(FakeTpm *fake, const char *const *expected)
{
	size_t n = fake_tpm_log_count(fake);
	g_autofree char *got = NULL;
	GString *m;
	size_t i;

	for (i = 0; expected[i] && i < n; i++)
		if (strcmp(expected[i], fake_tpm_log_text(fake, i)) != 0)
			break;
	if (!expected[i] && i == n)
		return NULL;

	m = g_string_new(NULL);
	if (expected[i] && i < n)
		g_string_append_printf(m, "backend command %zu is \"%s\", expected \"%s\"", i,
				       fake_tpm_log_text(fake, i), expected[i]);
	else if (expected[i])
		g_string_append_printf(m, "backend command %zu missing: expected \"%s\"", i,
				       expected[i]);
	else
		g_string_append_printf(m, "unexpected backend command %zu: \"%s\"", i,
				       fake_tpm_log_text(fake, i));
	g_string_append(m, "\nexpected:\n");
	for (i = 0; expected[i]; i++)
		g_string_append_printf(m, "  %2zu %s\n", i, expected[i]);
	if (i == 0)
		g_string_append(m, "  (nothing)\n");
	got = fake_tpm_log_dump(fake);
	g_string_append_printf(m, "got:\n%s", got);
	return g_string_free(m, false);
}

/* @first and the NULL-terminated arguments after it, as a NULL-terminated array. */
static GPtrArray *collect_strings(const char *first, va_list ap)
{
	GPtrArray *a = g_ptr_array_new();

	for (const char *s = first; s; s = va_arg(ap, const char *))
		g_ptr_array_add(a, (gpointer)s);
	g_ptr_array_add(a, NULL);
	return a;
}

char *fake_tpm_log_diff(FakeTpm *fake, ...)
{
	g_autoptr(GPtrArray) expected = NULL;
	va_list ap;

	va_start(ap, fake);
	expected = collect_strings(va_arg(ap, const char *), ap);
	va_end(ap);
	return fake_tpm_log_diffv(fake, (const char *const *)expected->pdata);
}

const char *fake_tpm_log_checkv(FakeTpm *fake, const char *const *expected)
{
	g_free(fake->last_check);
	fake->last_check = fake_tpm_log_diffv(fake, expected);
	return fake->last_check;
}

const char *fake_tpm_log_check(FakeTpm *fake, ...)
{
	g_autoptr(GPtrArray) expected = NULL;
	va_list ap;

	va_start(ap, fake);
	expected = collect_strings(va_arg(ap, const char *), ap);
	va_end(ap);
	return fake_tpm_log_checkv(fake, (const char *const *)expected->pdata);
}
