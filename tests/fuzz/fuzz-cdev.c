/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz-cdev: the per-open-file state machine (cuse/cdev.h) driven by sequences of open,
 * write, read, poll, O_NONBLOCK toggles and close on up to four files, over a resource
 * manager over the fake TPM.
 *
 * Byte 0 configures the device: bit 0 raw (/dev/tpm0) mode; bits 1-2 the response
 * time-out (1 or 5 ms, else 60 s: no time-out within one input); bit 3 no poll
 * callbacks; bits 4-7 from 10 on a fault for the fake TPM (an injected response code,
 * errno, save or load failure, or a short response), its details in bytes 1-3.  Then
 * each operation is a byte (file in bits 0-1, operation above) and its arguments:
 *
 *   OP_WRITE_RAW  u16 length and that many bytes (up to 4200: E2BIG is reachable)
 *   OP_WRITE_CMD  byte: one of a few well-formed commands
 *   OP_READ       u16 count (up to 4200), into a buffer of exactly that size
 *   OP_POLL       byte: bit 0 parks a poll handle
 *   OP_TOGGLE     flips the file's O_NONBLOCK
 *   OP_WAIT       byte: sleep up to 1.5 ms, only with a short time-out, a few per input
 *   OP_WAIT_OPEN  byte: cdev_device_wait_open() for up to 1 ms
 *   OP_OPEN, OP_CLOSE
 *
 * A file that is not open is opened by the first operation on it.  Checks: no call
 * blocks for ever (libFuzzer's -timeout, ctest's TIMEOUT); reads return at most what
 * was asked; errnos are those of the spec's section 3; poll answers IN or OUT, nothing
 * else; a raw device refuses a second open and only that; every parked poll handle is
 * woken or released exactly once by the time the device is gone.  Without time-outs the
 * kernel's rules are checked exactly against a model of each file: EBUSY while a
 * response is unread (B2) or a command queued, EINVAL for short or lying writes (B4), a
 * response read in pieces adds up to its header's size (C2), an async error comes back
 * once (C4), poll says IN exactly while something is pending (D1, D2).
 */
#include <errno.h>
#include <string.h>

#include "cdev.h"
#include "fake-tpm.h"
#include "fuzz-common.h"
#include "rm.h"

#define NR_FILES 4
#define MAX_OPS	 64
#define RAW_MAX	 4200
/* Time one input may spend waiting for the device's timers, in ms (roughly). */
#define MAX_WAIT_MS 4

#define MASK_IN	 (POLLIN | POLLRDNORM)
#define MASK_OUT (POLLOUT | POLLWRNORM)

enum {
	OP_OPEN,
	OP_CLOSE,
	OP_WRITE_RAW,
	OP_WRITE_CMD,
	OP_READ,
	OP_POLL,
	OP_TOGGLE,
	OP_WAIT,
	OP_WAIT_OPEN,
	OP_COUNT
};

/* What a file holds, as far as its client can know without a time-out. */
typedef enum FileState {
	FILE_IDLE,     /* nothing pending: read gives 0, poll OUT */
	FILE_ASYNC,    /* an O_NONBLOCK command was accepted: queued, running or done */
	FILE_RESPONSE, /* a response is pending */
} FileState;

typedef struct FileModel {
	CdevFile *f;
	bool nonblock;
	FileState state;
	bool any_read;	 /* of the pending response (B5: then write is allowed) */
	uint8_t head[6]; /* its first bytes, to learn its size */
	size_t consumed;
	size_t total; /* 0 until 6 bytes were read */
} FileModel;

typedef struct PollHandle {
	gint notified;
	gint destroyed;
} PollHandle;

typedef struct Harness {
	FuzzIn in;
	FakeTpm *fake;
	Rm *rm;
	CdevDevice *dev;
	CdevConfig cfg;
	bool strict; /* no time-out can fire: the model is exact */
	bool poll_ops;
	FileModel files[NR_FILES];
	PollHandle handles[MAX_OPS];
	unsigned int n_handles;
	unsigned int waited_ms;
	uint8_t buf[RAW_MAX];
} Harness;

static void ph_notify(void *ph)
{
	g_atomic_int_inc(&((PollHandle *)ph)->notified);
}

static void ph_destroy(void *ph)
{
	g_atomic_int_inc(&((PollHandle *)ph)->destroyed);
}

static const CdevPollOps poll_recorder = {
	.notify = ph_notify,
	.destroy = ph_destroy,
};

static bool errno_allowed(ssize_t r)
{
	switch (-r) {
	case E2BIG:
	case EBUSY:
	case EINVAL:
	case EPIPE:
	case ENOMEM:
	case EFAULT:
	case ENOENT:
	case ENODATA:
	case EIO:
	case ETIME:
		return true;
	default:
		return false;
	}
}

/* --- operations --- */

static bool open_file(Harness *h, FileModel *m)
{
	unsigned int open = 0;

	if (m->f)
		return true;
	for (unsigned int i = 0; i < NR_FILES; i++)
		open += h->files[i].f != NULL;
	memset(m, 0, sizeof(*m));
	m->f = cdev_file_open(h->dev, NULL);
	/* A2, J1: a raw device has one file at a time; otherwise open never fails (A1). */
	FUZZ_CHECK((m->f == NULL) == (h->cfg.raw && open > 0), "open with %u open gave %p", open,
		   (void *)m->f);
	return m->f != NULL;
}

static void close_file(FileModel *m)
{
	if (m->f)
		cdev_file_release(m->f);
	memset(m, 0, sizeof(*m));
}

/* The result @h's model expects of a write of @len bytes, or 1 when it cannot tell. */
static ssize_t expected_write(const FileModel *m, const uint8_t *buf, size_t len)
{
	if (len > RM_BUF_MAX)
		return -E2BIG; /* B1 */
	if (m->state == FILE_ASYNC || (m->state == FILE_RESPONSE && !m->any_read))
		return -EBUSY; /* B2 */
	if (len < 6 || tpm2_wire_load_u32(buf + 2) > len)
		return -EINVAL; /* B4 */
	return m->nonblock ? (ssize_t)len : 1;
}

static void do_write(Harness *h, FileModel *m, size_t len)
{
	g_autofree uint8_t *copy = g_memdup2(h->buf, len);
	ssize_t expect = expected_write(m, h->buf, len);
	ssize_t r = cdev_file_write(m->f, copy, len, m->nonblock);

	g_debug("file %" G_GUINT64_FORMAT ": write %zu%s: %zd", cdev_file_id(m->f), len,
		m->nonblock ? " (O_NONBLOCK)" : "", r);
	FUZZ_CHECK(r == (ssize_t)len || (r < 0 && errno_allowed(r)), "write of %zu gave %zd", len,
		   r);
	if (h->strict && expect != 1)
		FUZZ_CHECK(r == expect, "write of %zu gave %zd, expected %zd", len, r, expect);
	if (r < 0 && (r == -E2BIG || r == -EBUSY || (h->strict && expect < 0)))
		return; /* refused before anything changed */
	/* B5: a new command; whatever was pending is gone. */
	memset(m->head, 0, sizeof(m->head));
	m->consumed = m->total = 0;
	m->any_read = false;
	if (r < 0)
		m->state = FILE_IDLE; /* a blocking write's error leaves nothing to read */
	else
		m->state = m->nonblock ? FILE_ASYNC : FILE_RESPONSE;
}

/* A few commands the fake knows, and one it does not (H3). */
static size_t build_known(Harness *h)
{
	static const uint8_t GET_RANDOM[] = { 0x00, 0x10 };
	static const uint8_t GETCAP[] = { 0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0, 0, 8 };
	static const uint8_t SESSION[] = { 0, 0, 0, 0, 1, 0x00, 0x10, 0x00, 0x0b };
	const uint32_t handles[] = { TPM2_RH_OWNER, TPM2_RH_NULL, TPM2_RH_NULL };
	const uint32_t vh0 = FUZZ_VHANDLE(0);
	uint8_t b = fuzz_in_u8(&h->in);

	switch (b % 8) {
	case 0:
		return fuzz_build_cmd(h->buf, TPM2_CC_GetRandom, NULL, 0, false, GET_RANDOM, 2);
	case 1:
		return fuzz_build_cmd(h->buf, TPM2_CC_CreatePrimary, handles, 1, false, NULL, 0);
	case 2:
		return fuzz_build_cmd(h->buf, TPM2_CC_StartAuthSession, handles + 1, 2, false,
				      SESSION, sizeof(SESSION));
	case 3:
		return fuzz_build_cmd(h->buf, TPM2_CC_FlushContext, &vh0, 1, false, NULL, 0);
	case 4:
		return fuzz_build_cmd(h->buf, TPM2_CC_ContextSave, &vh0, 1, false, NULL, 0);
	case 5:
		return fuzz_build_cmd(h->buf, TPM2_CC_GetCapability, NULL, 0, false, GETCAP,
				      sizeof(GETCAP));
	case 6:
		return fuzz_build_cmd(h->buf, TPM2_CC_ReadPublic, &vh0, 1, false, NULL, 0);
	default:
		return fuzz_build_cmd(h->buf, 0x000001ffu, NULL, 0, false, NULL, 0);
	}
}

/* A piece of the pending response arrived: learn its size from the first 6 bytes. */
static void took_bytes(FileModel *m, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && m->consumed + i < sizeof(m->head); i++)
		m->head[m->consumed + i] = p[i];
	m->consumed += n;
	m->any_read = true;
	if (!m->total && m->consumed >= sizeof(m->head)) {
		m->total = tpm2_wire_load_u32(m->head + 2);
		FUZZ_CHECK(m->total >= TPM2_WIRE_HEADER_SIZE && m->total <= RM_BUF_MAX,
			   "a response of %zu bytes", m->total);
	}
	if (m->total)
		FUZZ_CHECK(m->consumed <= m->total, "read %zu bytes of a %zu-byte response",
			   m->consumed, m->total);
	if (m->total && m->consumed == m->total)
		m->state = FILE_IDLE;
}

static void do_read(Harness *h, FileModel *m, size_t n)
{
	g_autofree uint8_t *buf = g_malloc(n ? n : 1);
	ssize_t r = cdev_file_read(m->f, buf, n);

	g_debug("file %" G_GUINT64_FORMAT ": read %zu: %zd", cdev_file_id(m->f), n, r);
	FUZZ_CHECK(r <= (ssize_t)n && (r >= 0 || errno_allowed(r)), "read of %zu gave %zd", n, r);
	if (!h->strict || n == 0) {
		FUZZ_CHECK(n > 0 || r == 0, "zero-length read gave %zd", r); /* C6 */
		if (r > 0 && m->state != FILE_IDLE)
			took_bytes(m, buf, (size_t)r);
		else if (r != 0 || !h->strict)
			m->state = FILE_IDLE;
		return;
	}
	switch (m->state) {
	case FILE_IDLE:
		FUZZ_CHECK(r == 0, "read with nothing pending gave %zd", r); /* C3 */
		return;
	case FILE_ASYNC:
		FUZZ_CHECK(r != 0, "read after an async write gave nothing"); /* C4, C7 */
		if (r < 0) {
			m->state = FILE_IDLE;
			return;
		}
		m->state = FILE_RESPONSE;
		break;
	default:
		FUZZ_CHECK(r > 0, "read of a pending response gave %zd", r);
		if (m->total)
			FUZZ_CHECK((size_t)r == MIN(n, m->total - m->consumed),
				   "read %zd of %zu with %zu left", r, n, m->total - m->consumed);
		break;
	}
	took_bytes(m, buf, (size_t)r);
}

static void do_poll(Harness *h, FileModel *m, bool park)
{
	PollHandle *ph = NULL;
	unsigned int mask;

	if (park && h->n_handles < MAX_OPS)
		ph = &h->handles[h->n_handles++];
	mask = cdev_file_poll(m->f, ph);
	g_debug("file %" G_GUINT64_FORMAT ": poll: 0x%x", cdev_file_id(m->f), mask);
	FUZZ_CHECK(mask == MASK_IN || mask == MASK_OUT, "poll mask 0x%x", mask);
	if (h->strict && m->state != FILE_ASYNC)
		FUZZ_CHECK(mask == (m->state == FILE_IDLE ? MASK_OUT : MASK_IN),
			   "poll mask 0x%x with state %d", mask, (int)m->state);
}

static void run_op(Harness *h)
{
	uint8_t b = fuzz_in_u8(&h->in);
	FileModel *m = &h->files[b % NR_FILES];
	unsigned int op = (b / NR_FILES) % OP_COUNT;
	size_t n;

	switch (op) {
	case OP_CLOSE:
		close_file(m);
		return;
	case OP_WAIT:
		/* Only time-outs need time to pass; and not much of it, or fuzzing crawls. */
		b = fuzz_in_u8(&h->in);
		if (!h->strict && h->waited_ms < MAX_WAIT_MS) {
			g_usleep((gulong)500 * (b % 4));
			h->waited_ms += 1;
		}
		return;
	case OP_WAIT_OPEN:
		b = fuzz_in_u8(&h->in);
		if (h->waited_ms < MAX_WAIT_MS) {
			cdev_device_wait_open(h->dev, b % NR_FILES, b / NR_FILES % 2);
			h->waited_ms += b / NR_FILES % 2;
		}
		return;
	default:
		break;
	}
	if (!open_file(h, m))
		return;
	switch (op) {
	case OP_WRITE_RAW:
		n = fuzz_in_u16(&h->in) % (RAW_MAX + 1);
		do_write(h, m, fuzz_in_bytes(&h->in, h->buf, n));
		break;
	case OP_WRITE_CMD:
		do_write(h, m, build_known(h));
		break;
	case OP_READ:
		do_read(h, m, fuzz_in_u16(&h->in) % (RAW_MAX + 1));
		break;
	case OP_POLL:
		do_poll(h, m, fuzz_in_u8(&h->in) & 1);
		break;
	case OP_TOGGLE:
		m->nonblock = !m->nonblock;
		break;
	default: /* OP_OPEN: done above */
		break;
	}
}

/* --- set-up --- */

static void inject_fault(Harness *h, unsigned int kind)
{
	static const uint32_t ccs[] = { 0,
					TPM2_CC_ContextSave,
					TPM2_CC_ContextLoad,
					TPM2_CC_FlushContext,
					TPM2_CC_GetRandom,
					TPM2_CC_CreatePrimary };
	static const uint32_t rcs[] = { 0x922u, 0x901u, 0x910u, 0x101u, 0x1cbu, 0x902u };
	static const uint8_t SHORT[] = { 0x80, 0x01, 0, 0, 0, 0x0b, 0, 0, 0, 0 };
	uint8_t cc = fuzz_in_u8(&h->in), skip = fuzz_in_u8(&h->in), v = fuzz_in_u8(&h->in);
	int times = 1 + (int)(v / G_N_ELEMENTS(rcs) % 3);

	switch (kind) {
	case 10:
		fake_tpm_inject_rc(h->fake, ccs[cc % G_N_ELEMENTS(ccs)], skip % 8,
				   rcs[v % G_N_ELEMENTS(rcs)], times);
		break;
	case 11:
		fake_tpm_inject_errno(h->fake, ccs[cc % G_N_ELEMENTS(ccs)], skip % 8,
				      v & 1 ? ETIME : EIO, times);
		break;
	case 12:
		fake_tpm_fail_context_save(h->fake, FAKE_TPM_OBJ(1 + cc % 3),
					   rcs[v % G_N_ELEMENTS(rcs)], times);
		break;
	case 13:
		fake_tpm_fail_context_load(h->fake, FAKE_TPM_OBJ(1 + cc % 3),
					   v & 1 ? FAKE_RC_HANDLE_P1 : FAKE_RC_INTEGRITY_P1, times);
		break;
	case 14:
		fake_tpm_inject_response(h->fake, ccs[cc % G_N_ELEMENTS(ccs)], skip % 8, SHORT,
					 sizeof(SHORT), times);
		break;
	default:
		break;
	}
}

static void setup(Harness *h)
{
	uint8_t b = fuzz_in_u8(&h->in);
	RmOptions opts;
	int r;

	h->cfg.raw = b & 1;
	switch ((b >> 1) & 3) {
	case 1:
		h->cfg.response_timeout_ms = 1;
		break;
	case 2:
		h->cfg.response_timeout_ms = 5;
		break;
	default:
		h->cfg.response_timeout_ms = 60000;
		break;
	}
	h->strict = h->cfg.response_timeout_ms == 60000;
	h->poll_ops = !(b & 8);
	h->fake = fake_tpm_new();
	if ((b >> 4) >= 10)
		inject_fault(h, b >> 4);

	rm_options_init(&opts, RM_PROFILE_KERNEL);
	opts.sleep_ms = fuzz_no_sleep;
	/* The fault may hit rm_new()'s GetCapability; then there is no device to fuzz. */
	r = rm_new(fake_tpm_backend(h->fake), &opts, &h->rm);
	if (r == 0)
		h->dev = cdev_device_new(h->rm, &h->cfg, h->poll_ops ? &poll_recorder : NULL);
}

static void teardown(Harness *h)
{
	unsigned int open = 0;
	CdevStats st;

	if (h->dev) {
		for (unsigned int i = 0; i < NR_FILES; i++)
			open += h->files[i].f != NULL;
		cdev_device_get_stats(h->dev, &st);
		FUZZ_CHECK(st.files_open == open, "%" G_GUINT64_FORMAT " files open, %u expected",
			   st.files_open, open);
		/* A5 for every file still open, as at daemon stop. */
		cdev_device_free(h->dev);
	}
	for (unsigned int i = 0; h->poll_ops && i < h->n_handles; i++)
		FUZZ_CHECK(h->handles[i].notified + h->handles[i].destroyed == 1,
			   "poll handle %u notified %d, destroyed %d times", i,
			   h->handles[i].notified, h->handles[i].destroyed);
	rm_free(h->rm);
	tpm_backend_free(fake_tpm_backend(h->fake));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static Harness h;

	fuzz_init();
	memset(&h, 0, sizeof(h));
	h.in = fuzz_in_init(data, size);
	setup(&h);
	for (unsigned int n = 0; h.dev && n < MAX_OPS && !fuzz_in_done(&h.in); n++)
		run_op(&h);
	teardown(&h);
	return 0;
}
