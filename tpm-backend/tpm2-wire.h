/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tpm2-wire: the TPM 2.0 byte format, and nothing else.
 *
 * Bounds-checked big-endian readers and writers, command/response header parsing, and
 * builders and parsers for the commands the resource manager and the daemon send on their
 * own behalf.  Every parser takes a length and never reads past it; malformed input gives
 * -EINVAL.  This is the only code that touches wire bytes: everything above it holds
 * values in host order.
 */
#ifndef TPMRM_TPM2_WIRE_H
#define TPMRM_TPM2_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

/* tag (u16), size (u32), command or response code (u32). */
#define TPM2_WIRE_HEADER_SIZE 10
/* The kernel's TPM_BUFSIZE: the largest command and the largest response. */
#define TPM2_WIRE_BUF_MAX 4096

typedef struct Tpm2Header {
	uint16_t tag;
	uint32_t size;
	uint32_t code; /* command code in a command, response code in a response */
} Tpm2Header;

/* Big-endian loads and stores on raw bytes; the caller has checked the bounds. */
static inline uint16_t tpm2_wire_load_u16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t tpm2_wire_load_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void tpm2_wire_store_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * A cursor over @len bytes at @buf.  Every get fails with -EINVAL, and leaves the cursor
 * where it was, when the value would run past the end.
 */
typedef struct Tpm2Reader {
	const uint8_t *buf;
	size_t len;
	size_t off;
} Tpm2Reader;

static inline Tpm2Reader tpm2_reader_init(const uint8_t *buf, size_t len)
{
	return (Tpm2Reader){ .buf = buf, .len = len, .off = 0 };
}

static inline size_t tpm2_reader_left(const Tpm2Reader *r)
{
	return r->len - r->off;
}

int tpm2_wire_get_u8(Tpm2Reader *r, uint8_t *ret);
int tpm2_wire_get_u16(Tpm2Reader *r, uint16_t *ret);
int tpm2_wire_get_u32(Tpm2Reader *r, uint32_t *ret);
int tpm2_wire_get_u64(Tpm2Reader *r, uint64_t *ret);
/* Points *ret at the next @n bytes (no copy) and steps over them. */
int tpm2_wire_get_bytes(Tpm2Reader *r, size_t n, const uint8_t **ret);
/* A TPM2B: u16 size, then that many bytes. */
int tpm2_wire_get_tpm2b(Tpm2Reader *r, const uint8_t **ret, uint16_t *ret_size);

/*
 * A writer into @cap bytes at @buf.  A put that does not fit sets @overflow and writes
 * nothing more; tpm2_wire_finish() reports it once, so builders need no check per field.
 */
typedef struct Tpm2Writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
} Tpm2Writer;

static inline Tpm2Writer tpm2_writer_init(uint8_t *buf, size_t cap)
{
	return (Tpm2Writer){ .buf = buf, .cap = cap, .len = 0, .overflow = false };
}

void tpm2_wire_put_u8(Tpm2Writer *w, uint8_t v);
void tpm2_wire_put_u16(Tpm2Writer *w, uint16_t v);
void tpm2_wire_put_u32(Tpm2Writer *w, uint32_t v);
void tpm2_wire_put_u64(Tpm2Writer *w, uint64_t v);
void tpm2_wire_put_bytes(Tpm2Writer *w, const uint8_t *p, size_t n);
/* tag, a size to be filled in by tpm2_wire_finish(), and @code. */
void tpm2_wire_put_header(Tpm2Writer *w, uint16_t tag, uint32_t code);
/*
 * Writes the total length into the header's size field and returns it in *ret_len.
 * Returns -ENOBUFS if anything did not fit, -EINVAL if no header was written.
 */
int tpm2_wire_finish(Tpm2Writer *w, size_t *ret_len);

/* The header of a command or response: -EINVAL when @len < 10.  No other check. */
int tpm2_wire_header_parse(const uint8_t *buf, size_t len, Tpm2Header *ret);

/*
 * What every backend demands of a TPM response before anyone reads it, as the kernel's
 * tpm_try_transmit() does: at least 10 bytes, at most TPM2_WIRE_BUF_MAX, and a header size
 * equal to the bytes received.  Returns 0 or -EFAULT.
 */
int tpm2_wire_response_check(const uint8_t *rsp, size_t len);

/*
 * The response code of a response that passes tpm2_wire_response_check(); -EINVAL for
 * one that does not.
 */
int tpm2_wire_response_rc(const uint8_t *rsp, size_t len, uint32_t *ret_rc);

/*
 * Builders for the commands the RM and the daemon send themselves.  Each writes one whole
 * command into @buf (room for @cap bytes), sets *ret_len and returns 0, or returns
 * -ENOBUFS when @cap is too small.
 */
int tpm2_wire_build_startup(uint8_t *buf, size_t cap, TPM2_SU type, size_t *ret_len);
int tpm2_wire_build_shutdown(uint8_t *buf, size_t cap, TPM2_SU type, size_t *ret_len);
int tpm2_wire_build_self_test(uint8_t *buf, size_t cap, bool full, size_t *ret_len);
int tpm2_wire_build_get_capability(uint8_t *buf, size_t cap, TPM2_CAP capability, uint32_t property,
				   uint32_t count, size_t *ret_len);
int tpm2_wire_build_context_save(uint8_t *buf, size_t cap, TPM2_HANDLE handle, size_t *ret_len);
int tpm2_wire_build_flush_context(uint8_t *buf, size_t cap, TPM2_HANDLE handle, size_t *ret_len);
/*
 * ContextLoad of a TPMS_CONTEXT as a TPM returned it from ContextSave.  -EINVAL when
 * @context is not one well-formed TPMS_CONTEXT of exactly @context_len bytes.
 */
int tpm2_wire_build_context_load(uint8_t *buf, size_t cap, const uint8_t *context,
				 size_t context_len, size_t *ret_len);

/* A TPMS_CONTEXT, as far as a resource manager needs to know it. */
typedef struct Tpm2Context {
	uint64_t sequence;
	TPM2_HANDLE saved_handle;
	TPM2_HANDLE hierarchy;
	uint16_t blob_size;
} Tpm2Context;

/* Parses exactly @len bytes of TPMS_CONTEXT; -EINVAL if short, long or inconsistent. */
int tpm2_wire_context_parse(const uint8_t *ctx, size_t len, Tpm2Context *ret);

/*
 * Response parsers.  Each takes a whole response whose response code is 0 and returns
 * -EINVAL for anything else (a TPM error, a truncated or overlong body).
 */

/* ContextSave: points *ret_ctx into @rsp at the TPMS_CONTEXT, of *ret_ctx_len bytes. */
int tpm2_wire_parse_context_save_rsp(const uint8_t *rsp, size_t len, const uint8_t **ret_ctx,
				     size_t *ret_ctx_len);

/* The response handle of a command that returns one (ContextLoad, CreatePrimary, ...). */
int tpm2_wire_parse_handle_rsp(const uint8_t *rsp, size_t len, TPM2_HANDLE *ret_handle);

/* GetCapability for the capabilities whose data is a list of u32 or of u32 pairs. */
typedef struct Tpm2CapData {
	bool more_data;
	TPM2_CAP capability;
	uint32_t count;
	size_t item_size;     /* 4 (handles, TPMA_CC, command codes) or 8 (properties) */
	const uint8_t *items; /* points into the response: count * item_size bytes */
} Tpm2CapData;

/*
 * GetCapability: the body must be exactly moreData, capability, count and count items.
 * -EOPNOTSUPP for a capability whose data is not such a list (algorithms, PCRs, ...).
 */
int tpm2_wire_parse_cap_rsp(const uint8_t *rsp, size_t len, Tpm2CapData *ret);

#endif
