/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the fuzz targets share: a cursor over the input, quiet logging, the check that
 * aborts with a message (so libFuzzer and the replay program both report it as a crash),
 * and small command builders.
 *
 * Each target defines LLVMFuzzerTestOneInput().  Built with -DTPMRM_FUZZ=ON it links
 * libFuzzer; otherwise replay-main.c supplies main() and feeds it the committed corpus.
 */
#ifndef TPMRM_FUZZ_COMMON_H
#define TPMRM_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tpm-backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A broken invariant: print where and why, then abort().  Never a plain assert(): the
 * checks must stay in release builds.
 */
#define FUZZ_CHECK(cond, ...)                                              \
	do {                                                               \
		if (!(cond))                                               \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

G_NORETURN void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);

/*
 * Once per process: criticals (g_return_val_if_fail) abort, as G_DEBUG=fatal-criticals
 * does in the check tests; debug, info and message lines are dropped unless
 * TPMRM_FUZZ_VERBOSE is set, so a fuzzing run is not drowned in log lines.
 */
void fuzz_init(void);

/*
 * A cursor over the fuzz input.  Reads past the end give zeros and set @eof, so a
 * target never branches on how much input is left in the middle of building something.
 */
typedef struct FuzzIn {
	const uint8_t *data;
	size_t size;
	size_t off;
	bool eof;
} FuzzIn;

static inline FuzzIn fuzz_in_init(const uint8_t *data, size_t size)
{
	return (FuzzIn){ .data = data, .size = size, .off = 0, .eof = false };
}

static inline bool fuzz_in_done(const FuzzIn *in)
{
	return in->off >= in->size;
}

uint8_t fuzz_in_u8(FuzzIn *in);
uint16_t fuzz_in_u16(FuzzIn *in); /* big-endian */
uint32_t fuzz_in_u32(FuzzIn *in); /* big-endian */
/* Up to @n bytes (fewer at the end of the input); returns how many were copied. */
size_t fuzz_in_bytes(FuzzIn *in, uint8_t *buf, size_t n);

/* An RmOptions.sleep_ms that does not sleep: TPM_RC_RETRY loops cost no time. */
void fuzz_no_sleep(unsigned int ms);

/*
 * A command with @nr_handles handles and @params_len bytes of parameters, no sessions
 * (or with one empty password session when @pw_session is set, for commands that need
 * authorisation).  Returns its length; the buffer holds TPM2_WIRE_BUF_MAX bytes.
 */
size_t fuzz_build_cmd(uint8_t *buf, uint32_t cc, const uint32_t *handles, unsigned int nr_handles,
		      bool pw_session, const uint8_t *params, size_t params_len);

/*
 * What every response handed to a client must be, whoever made it: 10 to
 * TPM2_WIRE_BUF_MAX bytes, within @cap, and the header's size equal to @len.
 */
void fuzz_check_response(const uint8_t *rsp, size_t len, size_t cap);

/* True for the command codes whose response carries a new handle (TPMA_CC rHandle). */
bool fuzz_cc_has_rhandle(uint32_t cc);

/*
 * I5 from the client's side: if @rsp (a response to @cmd) is a successful
 * GetCapability(TPM_CAP_HANDLES), every transient handle in it is a vhandle of one of the
 * first @max_objects slots, listed once.  Whatever the TPM answered.
 */
void fuzz_check_handle_listing(const uint8_t *cmd, size_t cmd_len, const uint8_t *rsp,
			       size_t rsp_len, unsigned int max_objects);

/* tss2's TPM2_HR_* shift an int into its sign bit (UBSan objects); these do not. */
#define FUZZ_HT_MASK	       0xFF000000u
#define FUZZ_HR_TRANSIENT      0x80000000u
#define FUZZ_HR_LOADED_SESSION 0x02000000u
#define FUZZ_HR_SAVED_SESSION  0x03000000u

/* The vhandle of object slot @slot (spec section 1). */
#define FUZZ_VHANDLE(slot) (0x80FFFFFFu - (slot))

#define FUZZ_POOL_HANDLES 16
#define FUZZ_POOL_BLOBS	  4

/*
 * What the clients of one input have been given: handles from responses and contexts
 * from ContextSave, for later commands in any space to use (one space's handles in
 * another is the point).
 */
typedef struct FuzzPool {
	uint32_t handles[FUZZ_POOL_HANDLES]; /* newest last */
	size_t n_handles;
	uint8_t *blobs[FUZZ_POOL_BLOBS];
	size_t blob_len[FUZZ_POOL_BLOBS];
	size_t n_blobs;
} FuzzPool;

/*
 * One input byte names a handle: with the high bit set, one from the pool (if it has
 * any), else one of @fixed.
 */
uint32_t fuzz_pool_pick(FuzzPool *pool, FuzzIn *in, const uint32_t *fixed, size_t n_fixed);
void fuzz_pool_add_handle(FuzzPool *pool, uint32_t handle);
/* Keep a copy of the TPMS_CONTEXT in a successful ContextSave response. */
void fuzz_pool_add_context(FuzzPool *pool, const uint8_t *rsp, size_t rsp_len);
/* One input byte names a kept context; NULL when there is none. */
const uint8_t *fuzz_pool_context(FuzzPool *pool, FuzzIn *in, size_t *ret_len);
void fuzz_pool_clear(FuzzPool *pool);

#endif
