/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-wire: the byte parsers of tpm2-wire.h and the --backend SPEC parser, on arbitrary
 * bytes.  Every input goes through all of them:
 *
 *   - header, response check and response code, which must agree with each other;
 *   - TPMS_CONTEXT parse, and ContextLoad built from a context that parsed;
 *   - the ContextSave, handle and GetCapability response parsers: on success what they
 *     return lies inside the response and is consistent with it;
 *   - the reader and writer cursors, driven by the input as a little program;
 *   - the command builders, into buffers of the input's choice of size;
 *   - tpm_backend_spec_parse() on the input as a string (up to its first NUL).
 *
 * Memory errors are left to the sanitizers; the checks here are about lengths and
 * consistency, which they cannot see.
 */
#include <errno.h>
#include <string.h>

#include "fuzz-common.h"

static bool inside(const uint8_t *p, size_t n, const uint8_t *buf, size_t len)
{
	return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static void fuzz_header(const uint8_t *data, size_t size)
{
	Tpm2Header h;
	uint32_t rc = 0;
	int check = tpm2_wire_response_check(data, size);
	int r = tpm2_wire_header_parse(data, size, &h);

	FUZZ_CHECK((r == 0) == (size >= TPM2_WIRE_HEADER_SIZE), "header_parse gave %d", r);
	FUZZ_CHECK(check == 0 || check == -EFAULT, "response_check gave %d", check);
	if (check == 0) {
		FUZZ_CHECK(r == 0 && h.size == size && size <= TPM2_WIRE_BUF_MAX,
			   "a %zu-byte response passed the check", size);
		FUZZ_CHECK(tpm2_wire_response_rc(data, size, &rc) == 0 && rc == h.code,
			   "response_rc disagrees with the header");
	} else {
		FUZZ_CHECK(tpm2_wire_response_rc(data, size, &rc) == -EINVAL,
			   "response_rc accepts what response_check refuses");
	}
}

static void fuzz_context(const uint8_t *data, size_t size)
{
	uint8_t cmd[TPM2_WIRE_BUF_MAX];
	Tpm2Context c;
	size_t len = 0;
	int r = tpm2_wire_context_parse(data, size, &c);
	int b = tpm2_wire_build_context_load(cmd, sizeof(cmd), data, size, &len);

	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL && b == -EINVAL, "context_parse %d, build %d", r, b);
		return;
	}
	FUZZ_CHECK(size == (size_t)18 + c.blob_size, "a %zu-byte context with a %u-byte blob", size,
		   c.blob_size);
	if (size + TPM2_WIRE_HEADER_SIZE <= sizeof(cmd)) {
		FUZZ_CHECK(b == 0 && len == size + TPM2_WIRE_HEADER_SIZE &&
				   memcmp(cmd + TPM2_WIRE_HEADER_SIZE, data, size) == 0,
			   "ContextLoad of a good context: %d, %zu bytes", b, len);
	} else {
		FUZZ_CHECK(b == -ENOBUFS, "ContextLoad of %zu bytes gave %d", size, b);
	}
}

static void fuzz_response_parsers(const uint8_t *data, size_t size)
{
	const uint8_t *ctx = NULL;
	size_t ctx_len = 0;
	TPM2_HANDLE handle;
	Tpm2CapData cap;
	Tpm2Context c;
	int r;

	if (tpm2_wire_parse_context_save_rsp(data, size, &ctx, &ctx_len) == 0) {
		FUZZ_CHECK(inside(ctx, ctx_len, data, size) &&
				   ctx == data + TPM2_WIRE_HEADER_SIZE &&
				   ctx_len == size - TPM2_WIRE_HEADER_SIZE,
			   "ContextSave body outside its response");
		FUZZ_CHECK(tpm2_wire_context_parse(ctx, ctx_len, &c) == 0,
			   "ContextSave body does not parse as a context");
	}
	r = tpm2_wire_parse_handle_rsp(data, size, &handle);
	FUZZ_CHECK(r == 0 || r == -EINVAL, "parse_handle_rsp gave %d", r);
	if (r == 0)
		FUZZ_CHECK(size >= TPM2_WIRE_HEADER_SIZE + 4 &&
				   handle == tpm2_wire_load_u32(data + TPM2_WIRE_HEADER_SIZE),
			   "handle 0x%08x", handle);

	r = tpm2_wire_parse_cap_rsp(data, size, &cap);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -EOPNOTSUPP, "parse_cap_rsp gave %d", r);
	if (r == 0) {
		FUZZ_CHECK(cap.item_size == 4 || cap.item_size == 8, "item size %zu",
			   cap.item_size);
		FUZZ_CHECK(size == TPM2_WIRE_HEADER_SIZE + 9 + (size_t)cap.count * cap.item_size,
			   "%u items of %zu bytes in %zu bytes", cap.count, cap.item_size, size);
		FUZZ_CHECK(inside(cap.items, (size_t)cap.count * cap.item_size, data, size),
			   "items outside the response");
	}
}

/* The input as a program for a reader over itself: each byte picks the next get. */
static void fuzz_reader(const uint8_t *data, size_t size)
{
	Tpm2Reader rd = tpm2_reader_init(data, size);
	const uint8_t *p;
	uint64_t v64;
	uint32_t v32;
	uint16_t v16;
	uint8_t op;

	while (tpm2_wire_get_u8(&rd, &op) == 0) {
		size_t before = rd.off;
		int r;

		switch (op % 6) {
		case 0:
			r = tpm2_wire_get_u16(&rd, &v16);
			break;
		case 1:
			r = tpm2_wire_get_u32(&rd, &v32);
			break;
		case 2:
			r = tpm2_wire_get_u64(&rd, &v64);
			break;
		case 3:
			r = tpm2_wire_get_bytes(&rd, op / 6, &p);
			if (r == 0)
				FUZZ_CHECK(p == data + before, "get_bytes points elsewhere");
			break;
		case 4:
			r = tpm2_wire_get_tpm2b(&rd, &p, &v16);
			if (r == 0)
				FUZZ_CHECK(inside(p, v16, data, size), "TPM2B outside the input");
			break;
		default:
			r = tpm2_wire_get_bytes(&rd, SIZE_MAX - op, &p);
			break;
		}
		FUZZ_CHECK(rd.off <= rd.len, "reader at %zu of %zu", rd.off, rd.len);
		FUZZ_CHECK(r == 0 || (r == -EINVAL && rd.off == before),
			   "a failed get moved the reader (%d)", r);
	}
}

/* One step of fuzz_writer(): a put chosen by @op; returns the bytes it asked for. */
static size_t writer_step(Tpm2Writer *w, uint8_t op, const uint8_t *data, size_t size)
{
	size_t n = MIN(size, (size_t)op / 6);

	switch (op % 6) {
	case 0:
		tpm2_wire_put_u8(w, op);
		return 1;
	case 1:
		tpm2_wire_put_u16(w, op);
		return 2;
	case 2:
		tpm2_wire_put_u32(w, op);
		return 4;
	case 3:
		tpm2_wire_put_u64(w, op);
		return 8;
	case 4:
		tpm2_wire_put_bytes(w, data, n);
		return n;
	default:
		tpm2_wire_put_header(w, TPM2_ST_NO_SESSIONS, op);
		return TPM2_WIRE_HEADER_SIZE;
	}
}

/* The input as a program for a writer into a buffer of the size of its first byte. */
static void fuzz_writer(const uint8_t *data, size_t size)
{
	uint8_t buf[256 + 8];
	size_t cap = size ? data[0] : 0, len = 0, wanted = 0;
	Tpm2Writer w = tpm2_writer_init(buf, cap);
	bool header = size > 1 && data[1] % 6 == 5;
	int r;

	memset(buf + cap, 0xa5, sizeof(buf) - cap);
	for (size_t i = 1; i < size; i++) {
		wanted += writer_step(&w, data[i], data, size);
		FUZZ_CHECK(w.len <= cap, "writer at %zu of %zu", w.len, cap);
		FUZZ_CHECK(w.overflow == (wanted > cap), "overflow %d after %zu of %zu", w.overflow,
			   wanted, cap);
	}
	for (size_t i = cap; i < sizeof(buf); i++)
		FUZZ_CHECK(buf[i] == 0xa5, "writer wrote at %zu, past its %zu bytes", i, cap);
	r = tpm2_wire_finish(&w, &len);
	if (w.overflow)
		FUZZ_CHECK(r == -ENOBUFS, "finish after overflow gave %d", r);
	else if (header)
		FUZZ_CHECK(r == 0 && len == wanted && tpm2_wire_load_u32(buf + 2) == len,
			   "finish gave %d, %zu bytes of %zu", r, len, wanted);
}

/* A built command: -ENOBUFS, or exactly its header's size within @cap and code @cc. */
static void check_built(int r, const uint8_t *buf, size_t cap, size_t len, uint32_t cc)
{
	Tpm2Header hdr;

	FUZZ_CHECK(r == 0 || r == -ENOBUFS, "builder of 0x%08x gave %d", cc, r);
	if (r < 0)
		return;
	FUZZ_CHECK(len <= cap && tpm2_wire_header_parse(buf, len, &hdr) == 0 && hdr.size == len &&
			   hdr.code == cc,
		   "0x%08x built as %zu bytes in %zu", cc, len, cap);
}

/* The builders, into a heap buffer of the size of the first byte. */
static void fuzz_builders(const uint8_t *data, size_t size)
{
	size_t cap = size ? data[0] % 40 : 0, len = 0;
	uint32_t v = size >= 5 ? tpm2_wire_load_u32(data + 1) : 0;
	g_autofree uint8_t *buf = g_malloc(cap ? cap : 1);
	int r;

	r = tpm2_wire_build_startup(buf, cap, (TPM2_SU)v, &len);
	check_built(r, buf, cap, len, TPM2_CC_Startup);
	r = tpm2_wire_build_shutdown(buf, cap, (TPM2_SU)v, &len);
	check_built(r, buf, cap, len, TPM2_CC_Shutdown);
	r = tpm2_wire_build_self_test(buf, cap, v & 1, &len);
	check_built(r, buf, cap, len, TPM2_CC_SelfTest);
	r = tpm2_wire_build_get_capability(buf, cap, v, ~v, v >> 3, &len);
	check_built(r, buf, cap, len, TPM2_CC_GetCapability);
	r = tpm2_wire_build_context_save(buf, cap, v, &len);
	check_built(r, buf, cap, len, TPM2_CC_ContextSave);
	r = tpm2_wire_build_flush_context(buf, cap, v, &len);
	check_built(r, buf, cap, len, TPM2_CC_FlushContext);
}

static bool port_ok(const char *port)
{
	char *end = NULL;
	unsigned long v;

	if (!port || !g_ascii_isdigit(port[0]))
		return false;
	v = strtoul(port, &end, 10);
	return *end == '\0' && v >= 1 && v <= 65535;
}

static void fuzz_spec(const uint8_t *data, size_t size)
{
	g_autofree char *text = g_strndup((const char *)data, size);
	g_autofree char *error = NULL;
	TpmBackendSpec spec;
	int r;

	r = tpm_backend_spec_parse(text, &spec, &error);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL && error && *error, "spec parse gave %d", r);
		return;
	}
	FUZZ_CHECK(error == NULL, "a message for a good spec");
	switch (spec.kind) {
	case TPM_BACKEND_LIBTPMS:
		FUZZ_CHECK(!spec.host && !spec.port && (!spec.path || *spec.path),
			   "libtpms spec with host, port or empty path");
		break;
	case TPM_BACKEND_DEVICE:
	case TPM_BACKEND_SWTPM_UNIX:
		FUZZ_CHECK(spec.path && *spec.path && !spec.host && !spec.port,
			   "path spec without its path");
		break;
	case TPM_BACKEND_SWTPM_TCP:
		FUZZ_CHECK(!spec.path && spec.host && *spec.host && port_ok(spec.port),
			   "tcp spec host '%s' port '%s'", spec.host ? spec.host : "(null)",
			   spec.port ? spec.port : "(null)");
		break;
	default:
		FUZZ_CHECK(false, "spec kind %d", (int)spec.kind);
	}
	FUZZ_CHECK(spec.timeout_ms == TPM_BACKEND_DEFAULT_TIMEOUT_MS, "timeout %u",
		   spec.timeout_ms);
	tpm_backend_spec_clear(&spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_init();
	fuzz_header(data, size);
	fuzz_context(data, size);
	if (size >= TPM2_WIRE_HEADER_SIZE)
		fuzz_context(data + TPM2_WIRE_HEADER_SIZE, size - TPM2_WIRE_HEADER_SIZE);
	fuzz_response_parsers(data, size);
	fuzz_reader(data, size);
	fuzz_writer(data, size);
	fuzz_builders(data, size);
	fuzz_spec(data, size);
	return 0;
}
