/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A fake TPM 2.0 behind the TpmBackend interface: just enough of a TPM for the resource
 * manager's tests.  It keeps transient objects (phandles 0x80000000 + n, lowest free
 * first), HMAC and policy sessions (0x02000000 + n, 0x03000000 + n; loaded, saved or
 * gone), a context counter, and a command table that it reports through
 * GetCapability(TPM_CAP_COMMANDS).  It implements CreatePrimary, Load, ContextLoad,
 * ContextSave, FlushContext, ReadPublic, StartAuthSession, GetCapability (COMMANDS,
 * HANDLES and TPM_PT_TOTAL_COMMANDS), GetRandom, PolicyGetDigest, HashSequenceStart,
 * SequenceUpdate, SelfTest and one vendor command; anything else gets TPM_RC_COMMAND_CODE.
 * Nothing is authorised or checked beyond what the RM cares about.
 *
 * Every command it receives lands in a log as one readable line, for example
 *   "GetCapability COMMANDS 0x0000011f"      "CreatePrimary 0x40000001 -> 0x80000000"
 *   "ContextLoad obj#1 -> 0x80000000"         "ContextLoad 0x03000000 -> 0x03000000"
 *   "ContextSave 0x80000000"                  "ContextSave 0x02000001 -> rc 0x910"
 *   "FlushContext 0x80000000"                 "GetRandom"
 *   "StartAuthSession 0x40000007 0x40000007 -> 0x03000000"
 * The line names the command and the handles of its handle area as they arrived (so a
 * test sees whether the RM translated them), then "-> result" for a command that makes a
 * handle, "-> rc 0x%03x" when it failed, "-> raw" when a test replaced its response and
 * "-> errno N" when a test made transmit fail.  FlushContext lines never carry a result
 * of their own, not even "-> rc" when the handle is gone (the RM ignores flush errors, so
 * a repeated flush reads the same as the first); a fault injected on a FlushContext shows.
 *
 * Objects are named "obj#N" by the order of their creation (CreatePrimary, Load,
 * HashSequenceStart); a reloaded context is the same object at a new phandle.  A saved
 * context is a real TPMS_CONTEXT of FAKE_TPM_CONTEXT_SIZE bytes whose blob says which
 * object or session it holds; a session context is valid only while the session is saved
 * and only for its latest save (else TPM_RC_HANDLE + P + 1 = 0x1cb, as a TPM answers).
 */
#ifndef TPMRM_TEST_FAKE_TPM_H
#define TPMRM_TEST_FAKE_TPM_H

#include <check.h>
#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tpm-backend.h"

#define FAKE_TPM_MAX_COMMANDS 32  /* entries of the reported command table */
#define FAKE_TPM_MAX_LOADED   16  /* object slots: phandles 0x80000000 .. 0x8000000f */
#define FAKE_TPM_MAX_OBJECTS  256 /* objects created over the fake's life */
#define FAKE_TPM_MAX_SESSIONS 64  /* sessions created over the fake's life */
#define FAKE_TPM_MAX_FAULTS   32

/* The vendor command in the default table (V bit set, no handles). */
#define FAKE_TPM_VENDOR_CC 0x20000001u

/* The contextBlob of each saved context, and the whole TPMS_CONTEXT around it. */
#define FAKE_TPM_BLOB_SIZE    48
#define FAKE_TPM_CONTEXT_SIZE (8 + 4 + 4 + 2 + FAKE_TPM_BLOB_SIZE)

/* An entity for the fault injectors: an object by its number, or a session by handle. */
#define FAKE_TPM_OBJ(n) ((uint32_t)(n))

/* The realistic response codes a test most often needs. */
#define FAKE_RC_HANDLE_P1    0x1cbu /* TPM_RC_HANDLE + TPM_RC_P + TPM_RC_1 */
#define FAKE_RC_INTEGRITY_P1 0x1dfu /* TPM_RC_INTEGRITY + TPM_RC_P + TPM_RC_1 */

typedef enum FakeSessionState {
	FAKE_SESSION_NONE, /* never existed, or flushed */
	FAKE_SESSION_LOADED,
	FAKE_SESSION_SAVED,
} FakeSessionState;

typedef struct FakeSession {
	uint32_t handle;
	FakeSessionState state;
	uint64_t sequence; /* of its latest save */
} FakeSession;

typedef struct FakeObjectInfo {
	uint32_t hierarchy;
	bool sequence; /* a hash sequence object (savedHandle 0x80000001) */
} FakeObjectInfo;

typedef struct FakeFault FakeFault;

typedef struct FakeTpm {
	TpmBackend base;

	/* --- set by tests before use --- */
	/* The TPMA_CCs GetCapability(TPM_CAP_COMMANDS) reports, sorted by command code. */
	uint32_t cc_attrs[FAKE_TPM_MAX_COMMANDS];
	size_t n_cc;
	unsigned int cc_page;	 /* most TPMA_CCs in one response; 0: as many as asked */
	unsigned int max_loaded; /* loaded objects before TPM_RC_OBJECT_MEMORY */
	uint32_t persistent[4];	 /* persistent handles that exist */
	size_t n_persistent;

	/* --- TPM state --- */
	uint32_t loaded[FAKE_TPM_MAX_LOADED]; /* object number at 0x80000000 + i, 0: free */
	FakeObjectInfo objects[FAKE_TPM_MAX_OBJECTS + 1];
	uint32_t n_objects;
	FakeSession sessions[FAKE_TPM_MAX_SESSIONS]; /* index = handle & 0xffffff */
	size_t n_sessions;
	uint64_t context_counter;

	/* --- test doubles --- */
	FakeFault *faults[FAKE_TPM_MAX_FAULTS];
	size_t n_faults;
	GPtrArray *log;	  /* FakeTpmEntry *, everything since creation */
	size_t log_start; /* first entry since fake_tpm_log_reset() */
	char *last_check; /* the message of the latest fake_tpm_log_check() */
} FakeTpm;

/* A fake with the default command table, no persistent handles but 0x81000001. */
FakeTpm *fake_tpm_new(void);

static inline TpmBackend *fake_tpm_backend(FakeTpm *fake)
{
	return &fake->base;
}

/* --- the command table --- */

/* Report @attrs for its command code, replacing or adding the entry. */
void fake_tpm_set_command(FakeTpm *fake, uint32_t attrs);
/* Stop reporting @cc (the fake still executes it if it is sent). */
void fake_tpm_remove_command(FakeTpm *fake, uint32_t cc);

/* --- state, as a TPM would let another program see it --- */

FakeSessionState fake_tpm_session_state(FakeTpm *fake, uint32_t handle);
unsigned int fake_tpm_loaded_objects(FakeTpm *fake);
unsigned int fake_tpm_loaded_sessions(FakeTpm *fake);
/* Flush a session behind the RM's back (as through /dev/tpm0). */
void fake_tpm_flush_session(FakeTpm *fake, uint32_t handle);

/* --- faults; @times < 0 means for ever --- */

/* The next @times ContextSave of @entity answer @rc instead of saving. */
void fake_tpm_fail_context_save(FakeTpm *fake, uint32_t entity, uint32_t rc, int times);
/* The next @times ContextLoad of a context of @entity answer @rc instead of loading. */
void fake_tpm_fail_context_load(FakeTpm *fake, uint32_t entity, uint32_t rc, int times);
/*
 * After @skip commands with code @cc (0: any command) have run normally, the next @times
 * are not executed: they get a bare 10-byte response with @rc ...
 */
void fake_tpm_inject_rc(FakeTpm *fake, uint32_t cc, unsigned int skip, uint32_t rc, int times);
/* ... or exactly the bytes @rsp (any length, lies included) ... */
void fake_tpm_inject_response(FakeTpm *fake, uint32_t cc, unsigned int skip, const uint8_t *rsp,
			      size_t len, int times);
/* ... or transmit returns -@err and no response. */
void fake_tpm_inject_errno(FakeTpm *fake, uint32_t cc, unsigned int skip, int err, int times);
void fake_tpm_clear_faults(FakeTpm *fake);

/* --- the log --- */

/* Forget the entries so far: the next assertions see only what comes after. */
void fake_tpm_log_reset(FakeTpm *fake);
/* The number of commands received since the last reset. */
size_t fake_tpm_log_count(FakeTpm *fake);
const char *fake_tpm_log_text(FakeTpm *fake, size_t i);
/* The bytes of the @i-th command since the reset, and of the fake's response (NULL when
 * transmit failed). */
const uint8_t *fake_tpm_log_command(FakeTpm *fake, size_t i, size_t *ret_len);
const uint8_t *fake_tpm_log_response(FakeTpm *fake, size_t i, size_t *ret_len);
/* The entries since the reset, one per line, for messages. */
char *fake_tpm_log_dump(FakeTpm *fake);

/*
 * Compare the entries since the reset with the NULL-terminated @expected.  Returns NULL
 * when they are equal, else a message naming the first difference and listing the whole
 * log (free it with g_free).
 */
char *fake_tpm_log_diffv(FakeTpm *fake, const char *const *expected);
char *fake_tpm_log_diff(FakeTpm *fake, ...) G_GNUC_NULL_TERMINATED;

/*
 * The same comparison, but the message belongs to @fake: it stays valid until the next
 * check or until @fake goes.  So a failed assertion that never returns (check's no-fork
 * mode, under valgrind) leaks nothing.
 */
const char *fake_tpm_log_checkv(FakeTpm *fake, const char *const *expected);
const char *fake_tpm_log_check(FakeTpm *fake, ...) G_GNUC_NULL_TERMINATED;

/* fake_tpm_assert_log(fake, "GetRandom", NULL): the log since the reset is exactly that. */
#define fake_tpm_assert_log(fake, ...)                                             \
	do {                                                                       \
		const char *fake_tpm_msg_ = fake_tpm_log_check(fake, __VA_ARGS__); \
		ck_assert_msg(fake_tpm_msg_ == NULL, "%s", fake_tpm_msg_);         \
	} while (0)

#endif
