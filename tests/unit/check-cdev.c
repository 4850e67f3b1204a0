/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cdev, the per-open-file state machine of /dev/tpmrm0, driven directly (no FUSE) over a
 * real resource manager over the in-process libtpms, with raw command bytes: the write,
 * read, poll, time-out and async rules of ../shared/spec/tpmrm-uapi.md sections 2.A-2.G
 * and 3, and the conformance cases 6-36 of section 5 that need no file descriptor.  Each
 * test names the spec ids it pins.
 *
 * Poll wake-ups go to a recorder (CdevPollOps) that counts, per handle, the notify and
 * destroy calls and signals a GCond.  Every wait has a deadline: something that must
 * happen is waited for up to WAIT_MS; something that must not happen is checked against a
 * control that does happen in the same window (another file's time-out, or a command on
 * another file that the dispatcher runs after the one under test).
 *
 * The short response time-out of the E tests is CDEV_TEST_TIMEOUT_MS (default 200 ms);
 * raise it for slow runs (valgrind).  Each test runs in its own process (check's
 * fork mode): libtpms is process-global.
 */
#include <check.h>
#include <errno.h>
#include <glib.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "cdev.h"
#include "rm.h"
#include "tpm-backend.h"

/* The longest wait for something that must happen. */
#define WAIT_MS 20000u

#define MASK_IN	 (POLLIN | POLLRDNORM)	/* D1: 0x041 */
#define MASK_OUT (POLLOUT | POLLWRNORM) /* D2: 0x104 */

#define VH0		  0x80FFFFFFu /* slot 0's vhandle (spec section 1) */
#define HT_MASK		  0xFF000000u
#define HT_POLICY_SESSION 0x03000000u
#define HR_TRANSIENT	  0x80000000u
#define HR_LOADED_SESSION 0x02000000u
#define HR_SAVED_SESSION  0x03000000u

/* --- commands, as a client writes them --- */

/* GetRandom(32), "GR32" in section 5. */
static const uint8_t GR32[] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x0C,
				0x00, 0x00, 0x01, 0x7B, 0x00, 0x20 };
#define GR32_RSP_LEN 44
static const uint8_t GR32_RSP_HEAD[] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x2C,
					 0x00, 0x00, 0x00, 0x00, 0x00, 0x20 };
/* GR32 with 4 bytes more than its header says (case 9). */
static const uint8_t GR32_PADDED[] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x0C, 0x00, 0x00,
				       0x01, 0x7B, 0x00, 0x20, 0xDE, 0xAD, 0xBE, 0xEF };
/* GR32 whose header says 0 bytes (case 10, B9). */
static const uint8_t GR32_SIZE0[] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x00,
				      0x00, 0x00, 0x01, 0x7B, 0x00, 0x20 };
/* GR32 whose header says 13 bytes: one more than written (B4). */
static const uint8_t GR32_SIZE13[] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x0D,
				       0x00, 0x00, 0x01, 0x7B, 0x00, 0x20 };
/* FlushContext(0xDEADBEEF), 14 bytes whose header says 15 (case 8, selftest test_too_short_cmd). */
static const uint8_t SHORT_CMD[] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x0F, 0x00,
				     0x00, 0x01, 0x65, 0xDE, 0xAD, 0xBE, 0xEF };
/* FlushContext(0x80123456): a vhandle of no slot (case 34, I2: EINVAL). */
static const uint8_t FLUSH_BAD_VHANDLE[] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x0E, 0x00,
					     0x00, 0x01, 0x65, 0x80, 0x12, 0x34, 0x56 };
/* ReadPublic(0x81FFFFFF), a persistent handle that does not exist (case 15). */
static const uint8_t READ_PUBLIC_ABSENT[] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x0E, 0x00,
					      0x00, 0x01, 0x73, 0x81, 0xFF, 0xFF, 0xFF };
/* GetCapability(TPM_CAP_TPM_PROPERTIES, TPM_PT_FIXED, 16): the same answer every time. */
static const uint8_t GETCAP_FIXED[] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00,
					0x01, 0x7A, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00,
					0x01, 0x00, 0x00, 0x00, 0x00, 0x10 };
/* The smallest write B4 accepts: a header cut after its size field. */
static const uint8_t SIX_BYTES[] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x06 };
/* What the RM answers for a command code the TPM does not have (H3). */
static const uint8_t RM_RC_COMMAND_CODE_RSP[] = { 0x80, 0x01, 0x00, 0x00, 0x00,
						  0x0A, 0x00, 0x0B, 0x01, 0x43 };

/* CreatePrimary(owner): an ECC P-256 AES-128-CFB storage key, noDA, empty auth. */
static const uint8_t CREATE_PRIMARY[] = {
	0x80, 0x02, 0x00, 0x00, 0x00, 0x43, 0x00, 0x00, 0x01, 0x31, /* 67 bytes, 0x131 */
	0x40, 0x00, 0x00, 0x01,					    /* TPM_RH_OWNER */
	0x00, 0x00, 0x00, 0x09, 0x40, 0x00, 0x00, 0x09,		    /* password session */
	0x00, 0x00, 0x00, 0x00, 0x00,				    /* empty nonce, hmac */
	0x00, 0x04, 0x00, 0x00, 0x00, 0x00,			    /* inSensitive */
	0x00, 0x1A, 0x00, 0x23, 0x00, 0x0B,			    /* inPublic: ECC, SHA-256 */
	0x00, 0x03, 0x04, 0x72,					    /* restricted decrypt */
	0x00, 0x00,						    /* authPolicy */
	0x00, 0x06, 0x00, 0x80, 0x00, 0x43,			    /* AES-128-CFB */
	0x00, 0x10, 0x00, 0x03, 0x00, 0x10,			    /* no scheme, P-256, no kdf */
	0x00, 0x00, 0x00, 0x00,					    /* unique */
	0x00, 0x00,						    /* outsideInfo */
	0x00, 0x00, 0x00, 0x00,					    /* creationPCR */
};

/* StartAuthSession: an unbound, unsalted SHA-256 policy session. */
static const uint8_t START_POLICY_SESSION[] = {
	0x80, 0x01, 0x00, 0x00, 0x00, 0x2B, 0x00, 0x00, 0x01, 0x76, /* 43 bytes, 0x176 */
	0x40, 0x00, 0x00, 0x07, 0x40, 0x00, 0x00, 0x07,		    /* tpmKey, bind: null */
	0x00, 0x10, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* nonceCaller */
	0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10,		    /* (16 bytes) */
	0x00, 0x00,						    /* encryptedSalt */
	0x01,							    /* TPM_SE_POLICY */
	0x00, 0x10,						    /* symmetric: null */
	0x00, 0x0B,						    /* authHash: SHA-256 */
};

/* --- the poll recorder --- */

/* A poll handle as the transport would park it; the test owns the memory. */
typedef struct PollHandle {
	unsigned int notified;
	unsigned int destroyed;
	bool hold; /* notify waits (bounded) until the test clears this */
} PollHandle;

static GMutex poll_lock;
static GCond poll_cond;
/* Handles outlive every file of a test: cdev may keep one until release. */
static PollHandle handle_pool[512];
static unsigned int handles_used;

static PollHandle *handle_new(void)
{
	PollHandle *h;

	g_mutex_lock(&poll_lock);
	ck_assert_uint_lt(handles_used, G_N_ELEMENTS(handle_pool));
	h = &handle_pool[handles_used++];
	memset(h, 0, sizeof(*h));
	g_mutex_unlock(&poll_lock);
	return h;
}

static void recorder_notify(void *ph)
{
	PollHandle *h = ph;
	gint64 end = g_get_monotonic_time() + (gint64)WAIT_MS * 1000;

	g_mutex_lock(&poll_lock);
	h->notified++;
	g_cond_broadcast(&poll_cond);
	while (h->hold && g_cond_wait_until(&poll_cond, &poll_lock, end))
		;
	g_mutex_unlock(&poll_lock);
}

static void recorder_destroy(void *ph)
{
	PollHandle *h = ph;

	g_mutex_lock(&poll_lock);
	h->destroyed++;
	g_cond_broadcast(&poll_cond);
	g_mutex_unlock(&poll_lock);
}

static const CdevPollOps recorder_ops = {
	.notify = recorder_notify,
	.destroy = recorder_destroy,
};

static unsigned int handle_notified(PollHandle *h)
{
	unsigned int n;

	g_mutex_lock(&poll_lock);
	n = h->notified;
	g_mutex_unlock(&poll_lock);
	return n;
}

static unsigned int handle_destroyed(PollHandle *h)
{
	unsigned int n;

	g_mutex_lock(&poll_lock);
	n = h->destroyed;
	g_mutex_unlock(&poll_lock);
	return n;
}

/* Wait up to @timeout_ms until @h has been notified at least @n times. */
static bool wait_notified(PollHandle *h, unsigned int n, unsigned int timeout_ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	bool ok;

	g_mutex_lock(&poll_lock);
	while (h->notified < n && g_cond_wait_until(&poll_cond, &poll_lock, end))
		;
	ok = h->notified >= n;
	g_mutex_unlock(&poll_lock);
	return ok;
}

/* Wait up to @timeout_ms until @h has been notified or destroyed, @n times in all. */
static bool wait_released(PollHandle *h, unsigned int n, unsigned int timeout_ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	bool ok;

	g_mutex_lock(&poll_lock);
	while (h->notified + h->destroyed < n && g_cond_wait_until(&poll_cond, &poll_lock, end))
		;
	ok = h->notified + h->destroyed >= n;
	g_mutex_unlock(&poll_lock);
	return ok;
}

static void handle_open_gate(PollHandle *h)
{
	g_mutex_lock(&poll_lock);
	h->hold = false;
	g_cond_broadcast(&poll_cond);
	g_mutex_unlock(&poll_lock);
}

/* --- a latch for helper threads: bounded waits instead of bare joins --- */

typedef struct Latch {
	GMutex lock;
	GCond cond;
	unsigned int count;
} Latch;

static Latch latch;

static void latch_arrive(Latch *l)
{
	g_mutex_lock(&l->lock);
	l->count++;
	g_cond_broadcast(&l->cond);
	g_mutex_unlock(&l->lock);
}

static bool latch_wait(Latch *l, unsigned int n, unsigned int timeout_ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	bool ok;

	g_mutex_lock(&l->lock);
	while (l->count < n && g_cond_wait_until(&l->cond, &l->lock, end))
		;
	ok = l->count >= n;
	g_mutex_unlock(&l->lock);
	return ok;
}

/* --- the fixture: libtpms, an Rm over it, a CdevDevice over that --- */

static TpmBackend *be;
static Rm *rm;
static CdevDevice *dev;

static unsigned int short_timeout_ms(void)
{
	const char *s = g_getenv("CDEV_TEST_TIMEOUT_MS");
	guint64 v = s ? g_ascii_strtoull(s, NULL, 10) : 0;

	return v >= 50 && v <= 60000 ? (unsigned int)v : 200;
}

static void setup_with_timeout(unsigned int timeout_ms)
{
	g_autofree char *error = NULL;
	CdevConfig cfg = { .response_timeout_ms = timeout_ms };
	int r;

	handles_used = 0; /* for CK_FORK=no runs */
	latch.count = 0;
	r = tpm_backend_libtpms_new(NULL, &be, &error);

	ck_assert_msg(r == 0, "libtpms: %s", error ? error : "?");
	ck_assert_int_eq(rm_new(be, NULL, &rm), 0);
	dev = cdev_device_new(rm, &cfg, &recorder_ops);
	ck_assert_ptr_nonnull(dev);
}

/* The kernel's 120 s time-out: never reached by a test. */
static void setup(void)
{
	setup_with_timeout(0);
}

static void setup_short_timeout(void)
{
	setup_with_timeout(short_timeout_ms());
}

static void teardown(void)
{
	g_clear_pointer(&dev, cdev_device_free);
	g_clear_pointer(&rm, rm_free);
	g_clear_pointer(&be, tpm_backend_free);
}

/* --- file helpers --- */

#define ck_assert_write(f, cmd, nonblock) \
	ck_assert_int_eq(cdev_file_write((f), (cmd), sizeof(cmd), (nonblock)), (ssize_t)sizeof(cmd))

#define ck_assert_write_fails(f, cmd, nonblock, err) \
	ck_assert_int_eq(cdev_file_write((f), (cmd), sizeof(cmd), (nonblock)), -(err))

static void assert_poll(CdevFile *f, unsigned int want)
{
	unsigned int got = cdev_file_poll(f, NULL);

	ck_assert_msg(got == want, "poll gave 0x%03x, expected 0x%03x", got, want);
}

static void assert_read_nothing(CdevFile *f)
{
	uint8_t buf[RM_BUF_MAX];

	ck_assert_int_eq(cdev_file_read(f, buf, sizeof(buf)), 0);
}

static void assert_gr32_response(const uint8_t *buf, ssize_t n)
{
	ck_assert_int_eq(n, GR32_RSP_LEN);
	ck_assert_mem_eq(buf, GR32_RSP_HEAD, sizeof(GR32_RSP_HEAD));
}

/* C2, C3: the whole GR32 response in one read, then nothing. */
static void read_gr32(CdevFile *f)
{
	uint8_t buf[RM_BUF_MAX];

	assert_gr32_response(buf, cdev_file_read(f, buf, sizeof(buf)));
	assert_read_nothing(f);
}

/* A blocking command and its whole response (one read), then nothing (C3). */
static size_t transact(CdevFile *f, const uint8_t *cmd, size_t len, uint8_t rsp[RM_BUF_MAX])
{
	ssize_t n;

	ck_assert_int_eq(cdev_file_write(f, cmd, len, false), (ssize_t)len);
	n = cdev_file_read(f, rsp, RM_BUF_MAX);
	ck_assert_int_ge(n, 10);
	ck_assert_uint_eq(tpm2_wire_load_u32(rsp + 2), (uint32_t)n);
	assert_read_nothing(f);
	return (size_t)n;
}

/* D4: poll until POLLIN, waiting (bounded) for the wake-up when the command is queued. */
static void wait_pollin(CdevFile *f)
{
	PollHandle *h = handle_new();
	unsigned int mask = cdev_file_poll(f, h);

	if (mask != MASK_IN) {
		ck_assert_uint_eq(mask, MASK_OUT); /* D2: queued, not yet done */
		ck_assert_msg(wait_notified(h, 1, WAIT_MS), "no wake-up within %u ms", WAIT_MS);
		mask = cdev_file_poll(f, NULL);
	}
	ck_assert_uint_eq(mask, MASK_IN);
}

static CdevStats cdev_stats(void)
{
	CdevStats s;

	cdev_device_get_stats(dev, &s);
	return s;
}

static RmStats rm_stats(void)
{
	RmStats s;

	rm_get_stats(rm, &s);
	return s;
}

/* Wait up to @timeout_ms until the device has discarded @n responses (E1). */
static bool wait_timeouts(uint64_t n, unsigned int timeout_ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	while (cdev_stats().timeouts < n) {
		if (g_get_monotonic_time() >= end)
			return false;
		g_usleep(2000);
	}
	return true;
}

static gint64 ms_since(gint64 t0)
{
	return (g_get_monotonic_time() - t0) / 1000;
}

/* --- the raw-TPM backchannel: the TPM itself, between two client commands --- */

typedef struct RawCall {
	uint8_t cmd[22];
	uint8_t rsp[RM_BUF_MAX];
	size_t rsp_len;
} RawCall;

static int raw_call(TpmBackend *b, void *user)
{
	RawCall *c = user;

	return tpm_backend_transmit(b, c->cmd, sizeof(c->cmd), c->rsp, sizeof(c->rsp), &c->rsp_len);
}

/* How many handles of @first's type the TPM has: GetCapability(HANDLES) past the RM. */
static unsigned int tpm_handles(uint32_t first)
{
	static const uint8_t head[] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x16, 0x00,
					0x00, 0x01, 0x7A, 0x00, 0x00, 0x00, 0x01 };
	RawCall c = { .rsp_len = 0 };
	uint32_t count;

	memcpy(c.cmd, head, sizeof(head));
	tpm2_wire_store_u32(c.cmd + 14, first);
	tpm2_wire_store_u32(c.cmd + 18, 64);
	ck_assert_int_eq(rm_with_backend(rm, raw_call, &c), 0);
	ck_assert_uint_ge(c.rsp_len, 19);
	ck_assert_uint_eq(tpm2_wire_load_u32(c.rsp + 6), 0);
	ck_assert_uint_eq(c.rsp[10], 0); /* moreData */
	count = tpm2_wire_load_u32(c.rsp + 15);
	ck_assert_uint_eq(c.rsp_len, 19 + 4 * (size_t)count);
	return count;
}

static unsigned int tpm_sessions(void)
{
	return tpm_handles(HR_LOADED_SESSION) + tpm_handles(HR_SAVED_SESSION);
}

/* A policy session in @f (blocking); returns its handle. */
static uint32_t start_policy_session(CdevFile *f)
{
	uint8_t rsp[RM_BUF_MAX];
	size_t n = transact(f, START_POLICY_SESSION, sizeof(START_POLICY_SESSION), rsp);
	uint32_t handle;

	ck_assert_uint_ge(n, 14);
	ck_assert_uint_eq(tpm2_wire_load_u32(rsp + 6), 0);
	handle = tpm2_wire_load_u32(rsp + 10);
	ck_assert_uint_eq(handle & HT_MASK, HT_POLICY_SESSION);
	return handle;
}

/* ======================= B: write() ======================= */

/* B1, case 7: E2BIG is checked before anything else, even before EBUSY. */
START_TEST(test_b1_write_over_4096_bytes_is_e2big_even_with_a_response_pending)
{
	g_autofree uint8_t *big = g_malloc0(RM_BUF_MAX + 1);
	CdevFile *f = cdev_file_open(dev, NULL);

	memcpy(big, GR32, sizeof(GR32));
	ck_assert_int_eq(cdev_file_write(f, big, RM_BUF_MAX + 1, false), -E2BIG);
	ck_assert_int_eq(cdev_file_write(f, big, RM_BUF_MAX + 1, true), -E2BIG);
	ck_assert_write(f, GR32, false);
	ck_assert_int_eq(cdev_file_write(f, big, RM_BUF_MAX + 1, false), -E2BIG);
	ck_assert_int_eq(cdev_file_write(f, big, RM_BUF_MAX + 1, true), -E2BIG);
	read_gr32(f); /* the pending response survived */
	ck_assert_uint_eq(cdev_stats().writes, 1);
	cdev_file_release(f);
}
END_TEST

/* B2, case 11, selftest test_send_two_cmds: no read since the response appeared. */
START_TEST(test_b2_second_write_with_an_unread_response_is_ebusy)
{
	CdevFile *f = cdev_file_open(dev, NULL);

	ck_assert_write(f, GR32, false);
	ck_assert_write_fails(f, GR32, false, EBUSY);
	ck_assert_write_fails(f, GR32, true, EBUSY);
	read_gr32(f);
	ck_assert_uint_eq(cdev_stats().writes, 1);
	ck_assert_uint_eq(rm_stats().client_commands, 1);
	cdev_file_release(f);
}
END_TEST

/* B2, B5, case 12, selftest test_read_partial_overwrite. */
START_TEST(test_b2_write_after_a_partial_read_is_accepted_and_drops_the_rest)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	uint8_t b[RM_BUF_MAX];

	ck_assert_write(f, GR32, false);
	ck_assert_int_eq(cdev_file_read(f, b, 1), 1);
	ck_assert_uint_eq(b[0], 0x80);
	ck_assert_write(f, GR32, false);
	/* A fresh, whole response from its first byte: the old remainder is gone. */
	read_gr32(f);

	/* The same after 15 bytes (the selftest's read(15)). */
	ck_assert_write(f, GR32, false);
	ck_assert_int_eq(cdev_file_read(f, b, 15), 15);
	ck_assert_write(f, GR32, false);
	read_gr32(f);
	cdev_file_release(f);
}
END_TEST

/* B2, F3, case 33: a queued or unread O_NONBLOCK command makes the file busy. */
START_TEST(test_b2_second_nonblocking_write_before_the_first_is_read_is_ebusy)
{
	CdevFile *f = cdev_file_open(dev, NULL);

	ck_assert_write(f, GR32, true);
	ck_assert_write_fails(f, GR32, true, EBUSY);
	ck_assert_write_fails(f, GR32, false, EBUSY);
	wait_pollin(f);
	ck_assert_write_fails(f, GR32, true, EBUSY);
	read_gr32(f);
	ck_assert_uint_eq(rm_stats().client_commands, 1);
	cdev_file_release(f);
}
END_TEST

/* B4, case 6: fewer than 6 bytes cannot even hold the size field. */
START_TEST(test_b4_write_under_6_bytes_is_einval)
{
	CdevFile *f = cdev_file_open(dev, NULL);

	for (size_t len = 0; len < 6; len++) {
		ck_assert_int_eq(cdev_file_write(f, GR32, len, false), -EINVAL);
		ck_assert_int_eq(cdev_file_write(f, GR32, len, true), -EINVAL); /* F5 */
	}
	assert_poll(f, MASK_OUT);
	assert_read_nothing(f);
	ck_assert_uint_eq(cdev_stats().writes, 0);
	ck_assert_uint_eq(rm_stats().client_commands, 0);
	cdev_file_release(f);
}
END_TEST

/* B4, cases 8 and 35: fewer bytes than the header's size; synchronous in both modes. */
START_TEST(test_b4_write_shorter_than_its_header_size_is_einval)
{
	CdevFile *f = cdev_file_open(dev, NULL);

	ck_assert_write_fails(f, SHORT_CMD, false, EINVAL);
	ck_assert_write_fails(f, SHORT_CMD, true, EINVAL);
	ck_assert_write_fails(f, GR32_SIZE13, false, EINVAL);
	ck_assert_write_fails(f, GR32_SIZE13, true, EINVAL);
	assert_poll(f, MASK_OUT);
	assert_read_nothing(f);
	ck_assert_uint_eq(rm_stats().client_commands, 0);
	/* Nothing stuck: the file still takes a command. */
	ck_assert_write(f, GR32, false);
	read_gr32(f);
	cdev_file_release(f);
}
END_TEST

/* B4, case 9: a header size below the count is accepted; write returns the full count. */
START_TEST(test_b4_header_size_below_the_count_is_accepted_with_the_full_count)
{
	CdevFile *f = cdev_file_open(dev, NULL);

	ck_assert_int_eq(cdev_file_write(f, GR32_PADDED, sizeof(GR32_PADDED), false), 16);
	read_gr32(f);
	ck_assert_int_eq(cdev_file_write(f, GR32_PADDED, sizeof(GR32_PADDED), true), 16);
	wait_pollin(f);
	read_gr32(f);
	cdev_file_release(f);
}
END_TEST

/* B4 boundary: 6 bytes whose header says 6 pass; the command code reads as 0 (H3). */
START_TEST(test_b4_six_byte_write_is_accepted_and_answered_by_the_rm)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	uint8_t rsp[RM_BUF_MAX];

	ck_assert_write(f, SIX_BYTES, false);
	ck_assert_int_eq(cdev_file_read(f, rsp, sizeof(rsp)), sizeof(RM_RC_COMMAND_CODE_RSP));
	ck_assert_mem_eq(rsp, RM_RC_COMMAND_CODE_RSP, sizeof(RM_RC_COMMAND_CODE_RSP));
	assert_read_nothing(f);
	cdev_file_release(f);
}
END_TEST

/* B7, case 15: a TPM error is a response, not an errno. */
START_TEST(test_b7_blocking_write_of_a_command_the_tpm_rejects_returns_the_count)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	uint8_t rsp[RM_BUF_MAX];
	size_t n = transact(f, READ_PUBLIC_ABSENT, sizeof(READ_PUBLIC_ABSENT), rsp);

	ck_assert_uint_eq(n, 10);
	ck_assert_uint_ne(tpm2_wire_load_u32(rsp + 6), 0);
	cdev_file_release(f);
}
END_TEST

/* B9, case 10: header size 0 fails in the transmit layer with ENODATA. */
START_TEST(test_b9_header_size_0_is_enodata_from_a_blocking_write)
{
	CdevFile *f = cdev_file_open(dev, NULL);

	ck_assert_write_fails(f, GR32_SIZE0, false, ENODATA);
	/* Nothing is pending afterwards, and the file is not busy. */
	assert_read_nothing(f);
	assert_poll(f, MASK_OUT);
	ck_assert_write(f, GR32, false);
	read_gr32(f);
	cdev_file_release(f);
}
END_TEST

/* B6, B9, C4, section 3: in O_NONBLOCK mode the same ENODATA comes from read, once. */
START_TEST(test_b9_header_size_0_in_nonblocking_mode_is_enodata_from_read_once)
{
	CdevFile *f = cdev_file_open(dev, NULL);

	ck_assert_write(f, GR32_SIZE0, true);
	wait_pollin(f);
	ck_assert_int_eq(cdev_file_read(f, (uint8_t[16]){ 0 }, 16), -ENODATA);
	assert_read_nothing(f);
	assert_poll(f, MASK_OUT);
	ck_assert_write(f, GR32, true);
	wait_pollin(f);
	read_gr32(f);
	cdev_file_release(f);
}
END_TEST

/* B10, section 3: an RM error in blocking mode is the write's errno. */
START_TEST(test_b10_bad_vhandle_in_blocking_mode_is_einval_from_write)
{
	CdevFile *f = cdev_file_open(dev, NULL);

	ck_assert_write_fails(f, FLUSH_BAD_VHANDLE, false, EINVAL);
	assert_read_nothing(f);
	assert_poll(f, MASK_OUT);
	ck_assert_write(f, GR32, false);
	read_gr32(f);
	cdev_file_release(f);
}
END_TEST

/* ======================= C: read() ======================= */

/* C1, case 16: nothing pending gives 0 at once: fresh, consumed, after an error. */
START_TEST(test_c1_read_with_nothing_pending_returns_0)
{
	CdevFile *f = cdev_file_open(dev, NULL);

	assert_read_nothing(f);
	ck_assert_write(f, GR32, false);
	read_gr32(f);
	assert_read_nothing(f);
	ck_assert_write_fails(f, GR32_SIZE0, false, ENODATA);
	assert_read_nothing(f);
	ck_assert_uint_eq(cdev_stats().reads, 1);
	cdev_file_release(f);
}
END_TEST

/* C2, case 18, selftest test_read_partial_resp: read(10) gives the header, then 34. */
START_TEST(test_c2_partial_reads_of_10_then_34_bytes_reassemble_the_response)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	uint8_t rsp[RM_BUF_MAX];

	ck_assert_write(f, GR32, false);
	ck_assert_int_eq(cdev_file_read(f, rsp, 10), 10);
	ck_assert_mem_eq(rsp, GR32_RSP_HEAD, 10);
	ck_assert_int_eq(cdev_file_read(f, rsp + 10, sizeof(rsp) - 10), 34);
	assert_gr32_response(rsp, 44);
	assert_read_nothing(f); /* C3 */
	cdev_file_release(f);
}
END_TEST

/* C2, C3, case 19: 44 one-byte reads give the response; the 45th gives 0. */
START_TEST(test_c2_one_byte_reads_reassemble_the_response_then_0)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	uint8_t rsp[GR32_RSP_LEN];

	ck_assert_write(f, GR32, false);
	for (size_t i = 0; i < GR32_RSP_LEN; i++)
		ck_assert_int_eq(cdev_file_read(f, rsp + i, 1), 1);
	assert_gr32_response(rsp, GR32_RSP_LEN);
	ck_assert_int_eq(cdev_file_read(f, rsp, 1), 0);
	ck_assert_uint_eq(cdev_stats().reads, GR32_RSP_LEN);
	cdev_file_release(f);
}
END_TEST

/* C2: pieces of any size give exactly the bytes one whole read gives. */
START_TEST(test_c2_reads_in_pieces_give_the_same_bytes_as_one_read)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	uint8_t whole[RM_BUF_MAX], pieces[RM_BUF_MAX];
	size_t n = transact(f, GETCAP_FIXED, sizeof(GETCAP_FIXED), whole);
	size_t off = 0;
	ssize_t r;

	ck_assert_uint_eq(tpm2_wire_load_u32(whole + 6), 0);
	ck_assert_uint_gt(n, 19);
	ck_assert_write(f, GETCAP_FIXED, false);
	while ((r = cdev_file_read(f, pieces + off, 7)) > 0)
		off += (size_t)r;
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(off, n);
	ck_assert_mem_eq(pieces, whole, n);
	cdev_file_release(f);
}
END_TEST

/* C3, case 17: after the last byte, read gives 0 (and keeps giving 0). */
START_TEST(test_c3_read_after_the_last_byte_returns_0)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	uint8_t rsp[RM_BUF_MAX];

	ck_assert_write(f, GR32, false);
	assert_gr32_response(rsp, cdev_file_read(f, rsp, sizeof(rsp)));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(cdev_file_read(f, rsp, sizeof(rsp)), 0);
	cdev_file_release(f);
}
END_TEST

/*
 * C4, F6, D1, B2, case 34 (selftest test_flush_invalid_context): the async errno makes the
 * file readable and busy, comes back from read once, then read gives 0 and write works.
 */
START_TEST(test_c4_async_errno_is_returned_once_then_0_and_the_next_write_is_accepted)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	uint8_t rsp[RM_BUF_MAX];

	ck_assert_write(f, FLUSH_BAD_VHANDLE, true);
	wait_pollin(f);
	ck_assert_write_fails(f, GR32, false, EBUSY);
	ck_assert_int_eq(cdev_file_read(f, rsp, sizeof(rsp)), -EINVAL);
	ck_assert_int_eq(cdev_file_read(f, rsp, sizeof(rsp)), 0);
	assert_poll(f, MASK_OUT);
	ck_assert_write(f, GR32, true);
	wait_pollin(f);
	read_gr32(f);
	cdev_file_release(f);
}
END_TEST

/* C6 (fixed behaviour), case 20: a zero-length read touches nothing. */
START_TEST(test_c6_zero_length_read_returns_0_and_leaves_the_response_intact)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	uint8_t rsp[RM_BUF_MAX];

	ck_assert_int_eq(cdev_file_read(f, rsp, 0), 0);
	ck_assert_write(f, GR32, false);
	ck_assert_int_eq(cdev_file_read(f, rsp, 0), 0);
	assert_poll(f, MASK_IN);
	/* Not a read either: the response is still unread, so write is still EBUSY (B2). */
	ck_assert_write_fails(f, GR32, false, EBUSY);
	ck_assert_int_eq(cdev_file_read(f, rsp, 10), 10);
	ck_assert_int_eq(cdev_file_read(f, rsp + 10, 0), 0);
	ck_assert_int_eq(cdev_file_read(f, rsp + 10, sizeof(rsp) - 10), 34);
	assert_gr32_response(rsp, 44);
	assert_read_nothing(f);
	cdev_file_release(f);
}
END_TEST

/* C7 (cdev's choice, see cdev.c): a read right after an O_NONBLOCK write waits for it. */
START_TEST(test_c7_read_right_after_a_nonblocking_write_gets_the_response)
{
	CdevFile *f = cdev_file_open(dev, NULL);

	for (int i = 0; i < 20; i++) {
		ck_assert_write(f, GR32, true);
		read_gr32(f);
	}
	cdev_file_release(f);
}
END_TEST

/* ======================= D: poll() ======================= */

/* D1, D2, cases 27-30: the exact masks, the partial remainder included. */
START_TEST(test_d1_d2_poll_masks_follow_the_pending_response)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	uint8_t rsp[RM_BUF_MAX];

	assert_poll(f, MASK_OUT);
	ck_assert_write(f, GR32, false);
	assert_poll(f, MASK_IN);
	ck_assert_int_eq(cdev_file_read(f, rsp, 10), 10);
	assert_poll(f, MASK_IN); /* D1: no POLLOUT though write would be accepted */
	ck_assert_int_eq(cdev_file_read(f, rsp, 1), 1);
	assert_poll(f, MASK_IN);
	ck_assert_int_eq(cdev_file_read(f, rsp, sizeof(rsp)), 33);
	assert_poll(f, MASK_OUT);
	cdev_file_release(f);
}
END_TEST

static void assert_no_error_bits(CdevFile *f)
{
	unsigned int mask = cdev_file_poll(f, NULL);

	ck_assert_msg(mask == MASK_IN || mask == MASK_OUT, "poll gave 0x%03x", mask);
	ck_assert_uint_eq(mask & (POLLERR | POLLHUP | POLLPRI | POLLNVAL), 0);
}

/* D3, case 31: no state yields POLLERR, POLLHUP or POLLPRI, errors included. */
START_TEST(test_d3_no_state_yields_pollerr_or_pollhup)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	uint8_t rsp[RM_BUF_MAX];

	assert_no_error_bits(f);
	ck_assert_write(f, SIX_BYTES, false);
	assert_no_error_bits(f);
	ck_assert_int_gt(cdev_file_read(f, rsp, sizeof(rsp)), 0);
	ck_assert_write_fails(f, SHORT_CMD, false, EINVAL);
	assert_no_error_bits(f);
	ck_assert_write_fails(f, GR32_SIZE0, false, ENODATA);
	assert_no_error_bits(f);
	ck_assert_write_fails(f, FLUSH_BAD_VHANDLE, false, EINVAL);
	assert_no_error_bits(f);
	ck_assert_write(f, FLUSH_BAD_VHANDLE, true);
	wait_pollin(f);
	assert_no_error_bits(f);
	ck_assert_write_fails(f, GR32, false, EBUSY);
	assert_no_error_bits(f);
	ck_assert_int_eq(cdev_file_read(f, rsp, sizeof(rsp)), -EINVAL);
	assert_no_error_bits(f);
	ck_assert_write(f, READ_PUBLIC_ABSENT, false);
	assert_no_error_bits(f);
	ck_assert_int_eq(cdev_file_read(f, rsp, 3), 3);
	assert_no_error_bits(f);
	cdev_file_release(f);
}
END_TEST

/* D4: the poller parked on an idle file is woken when an O_NONBLOCK command completes. */
START_TEST(test_d4_parked_poller_is_notified_when_a_nonblocking_command_completes)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	PollHandle *h = handle_new();
	PollHandle *e = handle_new();

	ck_assert_uint_eq(cdev_file_poll(f, h), MASK_OUT);
	ck_assert_write(f, GR32, true);
	ck_assert_msg(wait_notified(h, 1, WAIT_MS), "no wake-up within %u ms", WAIT_MS);
	assert_poll(f, MASK_IN);
	read_gr32(f);

	/* An async error wakes it as well (F1). */
	ck_assert_uint_eq(cdev_file_poll(f, e), MASK_OUT);
	ck_assert_write(f, FLUSH_BAD_VHANDLE, true);
	ck_assert_msg(wait_notified(e, 1, WAIT_MS), "no wake-up within %u ms", WAIT_MS);
	assert_poll(f, MASK_IN);
	ck_assert_int_eq(cdev_file_read(f, (uint8_t[16]){ 0 }, 16), -EINVAL);

	cdev_file_release(f);
	/* Each handle was handed back exactly once: notify releases it. */
	ck_assert_uint_eq(handle_notified(h), 1);
	ck_assert_uint_eq(handle_destroyed(h), 0);
	ck_assert_uint_eq(handle_notified(e), 1);
	ck_assert_uint_eq(handle_destroyed(e), 0);
}
END_TEST

/* D4: a blocking write does not wake a poller parked on the same file. */
START_TEST(test_d4_blocking_write_does_not_notify_a_parked_poller)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	CdevFile *g = cdev_file_open(dev, NULL);
	PollHandle *h = handle_new();

	ck_assert_uint_eq(cdev_file_poll(f, h), MASK_OUT);
	ck_assert_write(f, GR32, false);
	/* The dispatcher runs g's command after every step of f's, a late notify included. */
	ck_assert_write(g, GR32, false);
	read_gr32(g);
	ck_assert_uint_eq(handle_notified(h), 0);
	ck_assert_uint_eq(handle_destroyed(h), 0);
	assert_poll(f, MASK_IN);
	read_gr32(f);
	cdev_file_release(g);
	cdev_file_release(f);
	/* A5: release hands the parked handle back without waking it. */
	ck_assert_uint_eq(handle_notified(h), 0);
	ck_assert_uint_eq(handle_destroyed(h), 1);
}
END_TEST

/* ======================= E: the response time-out ======================= */

/* E1, D4: a poller parked before a blocking write is woken when its response times out. */
START_TEST(test_d4_parked_poller_is_notified_when_the_response_times_out)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	PollHandle *h = handle_new();

	ck_assert_uint_eq(cdev_file_poll(f, h), MASK_OUT);
	ck_assert_write(f, GR32, false);
	ck_assert_msg(wait_notified(h, 1, WAIT_MS), "no wake-up within %u ms", WAIT_MS);
	ck_assert_uint_eq(cdev_stats().timeouts, 1);
	assert_poll(f, MASK_OUT);
	assert_read_nothing(f);
	cdev_file_release(f);
	ck_assert_uint_eq(handle_notified(h), 1);
	ck_assert_uint_eq(handle_destroyed(h), 0);
}
END_TEST

/*
 * D4, E1: the kernel's poll always waits on async_wait, and the time-out wakes every
 * waiter.  A poll(POLLOUT) that saw POLLIN sleeps until then; over FUSE it sleeps until its
 * handle is notified, so cdev must keep that handle and notify it at the time-out.
 */
START_TEST(test_d4_poller_that_saw_pollin_is_notified_when_the_response_times_out)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	PollHandle *h = handle_new();

	ck_assert_write(f, GR32, false);
	ck_assert_uint_eq(cdev_file_poll(f, h), MASK_IN);
	ck_assert(wait_timeouts(1, WAIT_MS));
	ck_assert_msg(wait_notified(h, 1, 1000),
		      "the time-out woke no poller (handle notified %u, destroyed %u times)",
		      handle_notified(h), handle_destroyed(h));
	cdev_file_release(f);
}
END_TEST

/* E1, D2, case 21: an unread response is discarded: read 0, POLLOUT, write accepted. */
START_TEST(test_e1_unread_response_is_discarded_after_the_timeout)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	gint64 t0 = g_get_monotonic_time();
	unsigned int mask;

	ck_assert_write(f, GR32, false);
	mask = cdev_file_poll(f, NULL);
	/* The clock starts when the response exists, so before t0 + timeout it must be there. */
	if (ms_since(t0) < short_timeout_ms())
		ck_assert_uint_eq(mask, MASK_IN);
	ck_assert(wait_timeouts(1, WAIT_MS));
	ck_assert_int_ge(ms_since(t0), short_timeout_ms());
	assert_read_nothing(f);
	assert_poll(f, MASK_OUT);
	ck_assert_write(f, GR32, false);
	read_gr32(f);
	ck_assert_uint_eq(cdev_stats().timeouts, 1);
	cdev_file_release(f);
}
END_TEST

/* E1: a pending async errno is discarded the same way. */
START_TEST(test_e1_unread_async_errno_is_discarded_after_the_timeout)
{
	CdevFile *f = cdev_file_open(dev, NULL);

	ck_assert_write(f, FLUSH_BAD_VHANDLE, true);
	wait_pollin(f);
	ck_assert(wait_timeouts(1, WAIT_MS));
	assert_read_nothing(f);
	assert_poll(f, MASK_OUT);
	ck_assert_write(f, GR32, true);
	wait_pollin(f);
	read_gr32(f);
	cdev_file_release(f);
}
END_TEST

/* E1: each new response gets its full time, even where an old timer is still armed. */
START_TEST(test_e1_each_response_gets_the_full_timeout)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	gint64 t0 = g_get_monotonic_time(), t1;

	ck_assert_write(f, GR32, false);
	read_gr32(f);
	/* Three quarters of the time-out later (waiting on the clock, not on cdev): */
	while (ms_since(t0) < short_timeout_ms() * 3 / 4)
		g_usleep(1000);
	t1 = g_get_monotonic_time();
	ck_assert_write(f, GR32, false);
	ck_assert(wait_timeouts(1, WAIT_MS));
	ck_assert_msg(ms_since(t1) >= short_timeout_ms(),
		      "second response discarded %" G_GINT64_FORMAT " ms after its write",
		      ms_since(t1));
	assert_read_nothing(f);
	cdev_file_release(f);
}
END_TEST

/* E2, case 22: a partial read does not stop the timer. */
START_TEST(test_e2_partial_read_does_not_stop_the_timer)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	PollHandle *h = handle_new();
	uint8_t rsp[RM_BUF_MAX];

	ck_assert_uint_eq(cdev_file_poll(f, h), MASK_OUT);
	ck_assert_write(f, GR32, false);
	ck_assert_int_eq(cdev_file_read(f, rsp, 10), 10);
	ck_assert(wait_timeouts(1, WAIT_MS));
	ck_assert_msg(wait_notified(h, 1, WAIT_MS), "no wake-up for the discard");
	assert_read_nothing(f);
	assert_poll(f, MASK_OUT);
	ck_assert_write(f, GR32, false);
	read_gr32(f);
	cdev_file_release(f);
}
END_TEST

/*
 * E2: full consumption stops the timer: no discard and no wake-up afterwards.  A second
 * file, written later and never read, is the control: its discard proves that the first
 * file's (earlier) deadline has passed.
 */
START_TEST(test_e2_full_consumption_stops_the_timer)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	CdevFile *control = cdev_file_open(dev, NULL);
	PollHandle *h = handle_new();

	ck_assert_write(f, GR32, false);
	read_gr32(f);
	ck_assert_uint_eq(cdev_file_poll(f, h), MASK_OUT);
	ck_assert_write(control, GR32, false);
	ck_assert(wait_timeouts(1, WAIT_MS));
	assert_read_nothing(control);
	/* Timers fire in deadline order on one thread: f's would have fired by now. */
	ck_assert_uint_eq(cdev_stats().timeouts, 1);
	ck_assert_uint_eq(handle_notified(h), 0);
	assert_poll(f, MASK_OUT);
	ck_assert_write(f, GR32, false);
	read_gr32(f);
	cdev_file_release(control);
	cdev_file_release(f);
	ck_assert_uint_eq(cdev_stats().timeouts, 1);
}
END_TEST

/* ======================= A: release and device stop ======================= */

/* A5 (1): release waits for an O_NONBLOCK command in flight; nothing stays in the TPM. */
START_TEST(test_a5_release_waits_for_a_nonblocking_command_in_flight)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	CdevFile *g = cdev_file_open(dev, NULL);
	RmStats s;

	ck_assert_write(f, CREATE_PRIMARY, true);
	ck_assert_write(g, START_POLICY_SESSION, true);
	cdev_file_release(f);
	cdev_file_release(g);
	s = rm_stats();
	ck_assert_uint_eq(s.client_commands, 2); /* both ran, before their files went */
	ck_assert_uint_eq(s.spaces_open, 0);
	ck_assert_uint_eq(s.spaces_freed, 2);
	for (unsigned int i = 0; i < RM_ERR_COUNT; i++)
		ck_assert_uint_eq(s.errors[i], 0);
	/* The object was saved and flushed, the session flushed at release. */
	ck_assert_uint_eq(tpm_handles(HR_TRANSIENT), 0);
	ck_assert_uint_eq(tpm_sessions(), 0);
	ck_assert_uint_eq(cdev_stats().files_released, 2);
}
END_TEST

/* A5, case 3: an object of a released file is nowhere in the TPM. */
START_TEST(test_a5_release_of_a_file_with_an_object_leaves_no_object_in_the_tpm)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	uint8_t rsp[RM_BUF_MAX];

	transact(f, CREATE_PRIMARY, sizeof(CREATE_PRIMARY), rsp);
	ck_assert_uint_eq(tpm2_wire_load_u32(rsp + 6), 0);
	ck_assert_uint_eq(tpm2_wire_load_u32(rsp + 10), VH0);
	cdev_file_release(f);
	ck_assert_uint_eq(tpm_handles(HR_TRANSIENT), 0);
	ck_assert_uint_eq(rm_stats().spaces_open, 0);
}
END_TEST

/* A5 (4), case 4: release flushes the file's policy session. */
START_TEST(test_a5_release_flushes_a_policy_session)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	CdevFile *other = cdev_file_open(dev, NULL);

	start_policy_session(f);
	start_policy_session(other);
	ck_assert_uint_eq(tpm_sessions(), 2); /* saved between commands */
	cdev_file_release(f);
	ck_assert_uint_eq(tpm_sessions(), 1); /* only the other file's */
	cdev_file_release(other);
	ck_assert_uint_eq(tpm_sessions(), 0);
}
END_TEST

/* A5 (3): release drops a pending response and hands a parked poller back unwoken. */
START_TEST(test_a5_release_drops_the_response_and_destroys_a_parked_poller)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	PollHandle *h = handle_new();

	ck_assert_uint_eq(cdev_file_poll(f, h), MASK_OUT);
	ck_assert_write(f, CREATE_PRIMARY, false);
	cdev_file_release(f);
	ck_assert_uint_eq(handle_notified(h), 0);
	ck_assert_uint_eq(handle_destroyed(h), 1);
	ck_assert_uint_eq(tpm_handles(HR_TRANSIENT), 0);
}
END_TEST

/*
 * A5, D4: release right after an O_NONBLOCK write, a poller parked: the command completes
 * first, and the handle goes back exactly once (notified by the completion, or destroyed).
 * Run many times so that a sanitizer sees the completion race the release.
 */
START_TEST(test_a5_release_right_after_a_nonblocking_write_with_a_parked_poller)
{
	for (unsigned int i = 0; i < 2000; i++) {
		CdevFile *f = cdev_file_open(dev, NULL);
		PollHandle *h = handle_new();

		ck_assert_uint_eq(cdev_file_poll(f, h), MASK_OUT);
		ck_assert_write(f, GR32, true);
		cdev_file_release(f);
		ck_assert_uint_eq(rm_stats().client_commands, i + 1);
		ck_assert(wait_released(h, 1, WAIT_MS));
		ck_assert_uint_eq(handle_notified(h) + handle_destroyed(h), 1);
		g_mutex_lock(&poll_lock);
		handles_used = 0; /* the handle is back: reuse the slot */
		g_mutex_unlock(&poll_lock);
	}
	ck_assert_uint_eq(rm_stats().spaces_open, 0);
}
END_TEST

/*
 * A5 via cdev_device_free: files still open are released, their sessions flushed, their
 * parked pollers handed back; a command still in flight is waited for.
 */
START_TEST(test_device_free_releases_open_files_and_flushes_their_sessions)
{
	CdevFile *a = cdev_file_open(dev, NULL);
	CdevFile *b = cdev_file_open(dev, NULL);
	CdevFile *c = cdev_file_open(dev, NULL);
	CdevFile *d = cdev_file_open(dev, NULL);
	PollHandle *h = handle_new();
	RmStats s;

	start_policy_session(a);
	start_policy_session(b);
	ck_assert_write(b, GR32, false); /* an unread response */
	ck_assert_uint_eq(cdev_file_poll(d, h), MASK_OUT);
	ck_assert_uint_eq(tpm_sessions(), 2);
	ck_assert_write(c, CREATE_PRIMARY, true); /* maybe still queued */

	g_clear_pointer(&dev, cdev_device_free);

	s = rm_stats();
	ck_assert_uint_eq(s.spaces_open, 0);
	ck_assert_uint_eq(s.spaces_freed, 4);
	/* c's CreatePrimary ran if it started before the stop (B8, F2: else never). */
	ck_assert_uint_ge(s.client_commands, 3);
	ck_assert_uint_le(s.client_commands, 4);
	ck_assert_uint_eq(tpm_sessions(), 0);
	ck_assert_uint_eq(tpm_handles(HR_TRANSIENT), 0);
	ck_assert_uint_eq(handle_notified(h), 0);
	ck_assert_uint_eq(handle_destroyed(h), 1);
}
END_TEST

typedef struct DeviceFreeCall {
	CdevDevice *dev;
} DeviceFreeCall;

static gpointer device_free_main(gpointer data)
{
	DeviceFreeCall *call = data;

	cdev_device_free(call->dev);
	latch_arrive(&latch);
	return NULL;
}

/*
 * B8, F2: once the device stops, a command still queued never reaches the TPM (its file
 * is released with it).  The dispatcher is held inside a poll notification so that the
 * second file's command is still queued when cdev_device_free() starts.
 */
START_TEST(test_b8_command_queued_when_the_device_stops_never_reaches_the_tpm)
{
	CdevFile *a = cdev_file_open(dev, NULL);
	CdevFile *b = cdev_file_open(dev, NULL);
	PollHandle *h = handle_new();
	DeviceFreeCall call = { dev };
	GThread *t;

	h->hold = true;
	ck_assert_uint_eq(cdev_file_poll(a, h), MASK_OUT);
	ck_assert_write(a, GR32, true);
	ck_assert(wait_notified(h, 1, WAIT_MS)); /* the dispatcher now waits in notify */
	ck_assert_write(b, GR32, true);		 /* queued behind it */
	ck_assert_uint_eq(rm_stats().client_commands, 1);

	dev = NULL; /* the thread frees it */
	t = g_thread_new("device-free", device_free_main, &call);
	/* a is released at once; b's release waits for its queued command. */
	ck_assert_uint_eq(cdev_device_wait_open(call.dev, 1, WAIT_MS), 1);
	handle_open_gate(h);
	ck_assert_msg(latch_wait(&latch, 1, WAIT_MS), "cdev_device_free did not return");
	g_thread_join(t);

	ck_assert_uint_eq(rm_stats().client_commands, 1);
	ck_assert_uint_eq(rm_stats().spaces_open, 0);
}
END_TEST

/* ======================= many files, many threads ======================= */

typedef uint8_t Random32[32];

#define N_WORKERS  8
#define N_ROUNDS   50
#define N_COMMANDS ((size_t)N_WORKERS * N_ROUNDS)

typedef struct Worker {
	unsigned int index;
	bool nonblock;
	CdevFile *f;
	PollHandle *h;
	Random32 randoms[N_ROUNDS]; /* what each GetRandom(32) gave */
	unsigned int n_randoms;
	uint64_t reads; /* reads that returned bytes */
	char *error;
} Worker;

/* Wait for the response of an O_NONBLOCK command: poll, and if idle, the wake-up. */
static char *worker_wait(Worker *w, unsigned int notified_before)
{
	unsigned int mask = cdev_file_poll(w->f, w->h);

	if (mask == MASK_IN)
		return NULL;
	if (mask != MASK_OUT)
		return g_strdup_printf("poll gave 0x%03x", mask);
	if (!wait_notified(w->h, notified_before + 1, WAIT_MS))
		return g_strdup_printf("no wake-up within %u ms", WAIT_MS);
	mask = cdev_file_poll(w->f, NULL);
	return mask == MASK_IN ? NULL : g_strdup_printf("poll after wake-up gave 0x%03x", mask);
}

/* Read the whole response, in two pieces every third round (C2). */
static char *worker_read(Worker *w, unsigned int round, uint8_t *rsp, size_t *ret_len)
{
	size_t off = 0;
	ssize_t r;

	if (round % 3 == 0) {
		r = cdev_file_read(w->f, rsp, 10);
		if (r != 10)
			return g_strdup_printf("read(10) gave %zd", r);
		off = 10;
		w->reads++;
	}
	r = cdev_file_read(w->f, rsp + off, RM_BUF_MAX - off);
	if (r <= 0)
		return g_strdup_printf("read gave %zd", r);
	w->reads++;
	*ret_len = off + (size_t)r;
	r = cdev_file_read(w->f, rsp, RM_BUF_MAX);
	return r == 0 ? NULL : g_strdup_printf("read after the response gave %zd", r);
}

/* One GetRandom of a size that names the worker (odd rounds) or of 32 bytes (even). */
static char *worker_round(Worker *w, unsigned int round)
{
	uint8_t n = round % 2 ? (uint8_t)(1 + 3 * w->index) : 32;
	uint8_t cmd[sizeof(GR32)], rsp[RM_BUF_MAX];
	unsigned int before = w->nonblock ? handle_notified(w->h) : 0;
	size_t len = 0;
	ssize_t r;
	char *error;

	memcpy(cmd, GR32, sizeof(GR32));
	cmd[11] = n;
	r = cdev_file_write(w->f, cmd, sizeof(cmd), w->nonblock);
	if (r != (ssize_t)sizeof(cmd))
		return g_strdup_printf("write gave %zd", r);
	if (w->nonblock && (error = worker_wait(w, before)))
		return error;
	if ((error = worker_read(w, round, rsp, &len)))
		return error;
	if (len != 12u + n || tpm2_wire_load_u16(rsp) != 0x8001 ||
	    tpm2_wire_load_u32(rsp + 2) != len || tpm2_wire_load_u32(rsp + 6) != 0 ||
	    tpm2_wire_load_u16(rsp + 10) != n)
		return g_strdup_printf("GetRandom(%u) got a %zu-byte response, size %u, rc 0x%08x",
				       n, len, tpm2_wire_load_u32(rsp + 2),
				       tpm2_wire_load_u32(rsp + 6));
	if (n == 32)
		memcpy(w->randoms[w->n_randoms++], rsp + 12, 32);
	return NULL;
}

static gpointer worker_main(gpointer data)
{
	Worker *w = data;

	for (unsigned int round = 0; round < N_ROUNDS && !w->error; round++) {
		char *error = worker_round(w, round);

		if (error) {
			w->error = g_strdup_printf("round %u: %s", round, error);
			g_free(error);
		}
	}
	latch_arrive(&latch);
	return NULL;
}

static int cmp_random(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* A1, B-D: 8 files used from 8 threads at once, half blocking, half O_NONBLOCK + poll. */
START_TEST(test_files_used_from_8_threads_each_get_their_own_responses)
{
	Worker *w = g_new0(Worker, N_WORKERS);
	GThread *threads[N_WORKERS];
	Random32 *all = g_new0(Random32, N_COMMANDS);
	size_t n_all = 0;
	uint64_t reads = 0;
	CdevStats s;

	for (unsigned int i = 0; i < N_WORKERS; i++) {
		w[i].index = i;
		w[i].nonblock = i % 2;
		w[i].f = cdev_file_open(dev, NULL);
		w[i].h = handle_new();
	}
	for (unsigned int i = 0; i < N_WORKERS; i++)
		threads[i] = g_thread_new("worker", worker_main, &w[i]);
	ck_assert_msg(latch_wait(&latch, N_WORKERS, 10 * WAIT_MS), "workers did not finish");
	for (unsigned int i = 0; i < N_WORKERS; i++) {
		g_thread_join(threads[i]);
		ck_assert_msg(!w[i].error, "worker %u (%s): %s", i,
			      w[i].nonblock ? "O_NONBLOCK" : "blocking", w[i].error);
		ck_assert_uint_eq(w[i].n_randoms, N_ROUNDS / 2);
		memcpy(all[n_all], w[i].randoms, sizeof(w[i].randoms[0]) * w[i].n_randoms);
		n_all += w[i].n_randoms;
		reads += w[i].reads;
	}
	/* No response went to two files. */
	qsort(all, n_all, 32, cmp_random);
	for (size_t i = 1; i < n_all; i++)
		ck_assert_msg(memcmp(all[i - 1], all[i], 32) != 0, "two files got one response");

	s = cdev_stats();
	ck_assert_uint_eq(s.writes, N_COMMANDS);
	ck_assert_uint_eq(s.reads, reads);
	ck_assert_uint_eq(s.files_open, N_WORKERS);
	for (unsigned int i = 0; i < N_WORKERS; i++) {
		cdev_file_release(w[i].f);
		g_free(w[i].error);
	}
	ck_assert_uint_eq(rm_stats().client_commands, N_COMMANDS);
	g_free(all);
	g_free(w);
}
END_TEST

static gpointer release_all_main(gpointer data)
{
	CdevFile **files = data;

	for (unsigned int i = 0; files[i]; i++)
		cdev_file_release(files[i]);
	latch_arrive(&latch);
	return NULL;
}

/* cdev_device_wait_open: times out while files stay open, returns once they go. */
START_TEST(test_device_wait_open_returns_when_files_are_released)
{
	CdevFile *files[4] = { NULL };
	gint64 t0;
	GThread *t;

	ck_assert_uint_eq(cdev_device_wait_open(dev, 0, 0), 0);
	for (unsigned int i = 0; i < 3; i++)
		files[i] = cdev_file_open(dev, NULL);
	ck_assert_write(files[1], GR32, false);
	ck_assert_write(files[2], START_POLICY_SESSION, true);

	t0 = g_get_monotonic_time();
	ck_assert_uint_eq(cdev_device_wait_open(dev, 2, 50), 3);
	ck_assert_int_ge(ms_since(t0), 45);
	ck_assert_uint_eq(cdev_device_wait_open(dev, 3, WAIT_MS), 3); /* already at most 3 */

	t = g_thread_new("release", release_all_main, files);
	t0 = g_get_monotonic_time();
	ck_assert_uint_eq(cdev_device_wait_open(dev, 0, WAIT_MS), 0);
	ck_assert_int_lt(ms_since(t0), WAIT_MS);
	ck_assert(latch_wait(&latch, 1, WAIT_MS));
	g_thread_join(t);
	ck_assert_uint_eq(cdev_stats().files_released, 3);
	ck_assert_uint_eq(tpm_sessions(), 0);
}
END_TEST

/* CdevStats: writes accepted, reads that gave bytes or an error, time-outs, files. */
START_TEST(test_stats_count_writes_reads_timeouts_and_files)
{
	CdevFile *f = cdev_file_open(dev, NULL);
	CdevFile *g = cdev_file_open(dev, NULL);
	uint8_t rsp[RM_BUF_MAX];
	CdevStats s = cdev_stats();

	ck_assert_uint_eq(s.files_open, 2);
	ck_assert_uint_eq(s.files_released, 0);
	ck_assert_uint_eq(s.writes + s.reads + s.timeouts, 0);

	ck_assert_write(f, GR32, false);
	ck_assert_write_fails(f, GR32, false, EBUSY);
	ck_assert_write_fails(f, SHORT_CMD, false, EBUSY);
	ck_assert_int_eq(cdev_file_read(f, rsp, 10), 10);
	ck_assert_write_fails(f, SHORT_CMD, false, EINVAL);
	ck_assert_int_eq(cdev_file_read(f, rsp, sizeof(rsp)), 34);
	ck_assert_int_eq(cdev_file_read(f, rsp, sizeof(rsp)), 0);
	ck_assert_int_eq(cdev_file_read(f, rsp, 0), 0);
	s = cdev_stats();
	ck_assert_uint_eq(s.writes, 1);
	ck_assert_uint_eq(s.reads, 2);
	ck_assert_uint_eq(s.timeouts, 0);

	ck_assert_write(g, GR32, false);
	ck_assert(wait_timeouts(1, WAIT_MS));
	ck_assert_write(f, FLUSH_BAD_VHANDLE, true);
	wait_pollin(f);
	ck_assert_int_eq(cdev_file_read(f, rsp, sizeof(rsp)), -EINVAL);
	ck_assert_write_fails(f, GR32_SIZE0, false, ENODATA); /* accepted, then failed */
	s = cdev_stats();
	ck_assert_uint_eq(s.writes, 4);
	ck_assert_uint_eq(s.reads, 3);
	ck_assert_uint_eq(s.timeouts, 1);

	cdev_file_release(f);
	s = cdev_stats();
	ck_assert_uint_eq(s.files_open, 1);
	ck_assert_uint_eq(s.files_released, 1);
	cdev_file_release(g);
	s = cdev_stats();
	ck_assert_uint_eq(s.files_open, 0);
	ck_assert_uint_eq(s.files_released, 2);
}
END_TEST

/* ======================= the suite ======================= */

static TCase *tcase_new(Suite *s, const char *name, void (*fixture)(void), double timeout)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, fixture, teardown);
	tcase_set_timeout(tc, timeout);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *cdev_suite(void)
{
	Suite *s = suite_create("cdev");
	TCase *tc;

	tc = tcase_new(s, "write", setup, 30);
	tcase_add_test(tc, test_b1_write_over_4096_bytes_is_e2big_even_with_a_response_pending);
	tcase_add_test(tc, test_b2_second_write_with_an_unread_response_is_ebusy);
	tcase_add_test(tc, test_b2_write_after_a_partial_read_is_accepted_and_drops_the_rest);
	tcase_add_test(tc, test_b2_second_nonblocking_write_before_the_first_is_read_is_ebusy);
	tcase_add_test(tc, test_b4_write_under_6_bytes_is_einval);
	tcase_add_test(tc, test_b4_write_shorter_than_its_header_size_is_einval);
	tcase_add_test(tc, test_b4_header_size_below_the_count_is_accepted_with_the_full_count);
	tcase_add_test(tc, test_b4_six_byte_write_is_accepted_and_answered_by_the_rm);
	tcase_add_test(tc, test_b7_blocking_write_of_a_command_the_tpm_rejects_returns_the_count);
	tcase_add_test(tc, test_b9_header_size_0_is_enodata_from_a_blocking_write);
	tcase_add_test(tc, test_b9_header_size_0_in_nonblocking_mode_is_enodata_from_read_once);
	tcase_add_test(tc, test_b10_bad_vhandle_in_blocking_mode_is_einval_from_write);

	tc = tcase_new(s, "read", setup, 30);
	tcase_add_test(tc, test_c1_read_with_nothing_pending_returns_0);
	tcase_add_test(tc, test_c2_partial_reads_of_10_then_34_bytes_reassemble_the_response);
	tcase_add_test(tc, test_c2_one_byte_reads_reassemble_the_response_then_0);
	tcase_add_test(tc, test_c2_reads_in_pieces_give_the_same_bytes_as_one_read);
	tcase_add_test(tc, test_c3_read_after_the_last_byte_returns_0);
	tcase_add_test(tc,
		       test_c4_async_errno_is_returned_once_then_0_and_the_next_write_is_accepted);
	tcase_add_test(tc, test_c6_zero_length_read_returns_0_and_leaves_the_response_intact);
	tcase_add_test(tc, test_c7_read_right_after_a_nonblocking_write_gets_the_response);

	tc = tcase_new(s, "poll", setup, 30);
	tcase_add_test(tc, test_d1_d2_poll_masks_follow_the_pending_response);
	tcase_add_test(tc, test_d3_no_state_yields_pollerr_or_pollhup);
	tcase_add_test(tc, test_d4_parked_poller_is_notified_when_a_nonblocking_command_completes);
	tcase_add_test(tc, test_d4_blocking_write_does_not_notify_a_parked_poller);

	tc = tcase_new(s, "timeout", setup_short_timeout, 60);
	tcase_add_test(tc, test_d4_parked_poller_is_notified_when_the_response_times_out);
	tcase_add_test(tc, test_d4_poller_that_saw_pollin_is_notified_when_the_response_times_out);
	tcase_add_test(tc, test_e1_unread_response_is_discarded_after_the_timeout);
	tcase_add_test(tc, test_e1_unread_async_errno_is_discarded_after_the_timeout);
	tcase_add_test(tc, test_e1_each_response_gets_the_full_timeout);
	tcase_add_test(tc, test_e2_partial_read_does_not_stop_the_timer);
	tcase_add_test(tc, test_e2_full_consumption_stops_the_timer);
	tcase_add_test(tc, test_stats_count_writes_reads_timeouts_and_files);

	tc = tcase_new(s, "release", setup, 60);
	tcase_add_test(tc, test_a5_release_waits_for_a_nonblocking_command_in_flight);
	tcase_add_test(tc, test_a5_release_of_a_file_with_an_object_leaves_no_object_in_the_tpm);
	tcase_add_test(tc, test_a5_release_flushes_a_policy_session);
	tcase_add_test(tc, test_a5_release_drops_the_response_and_destroys_a_parked_poller);
	tcase_add_test(tc, test_a5_release_right_after_a_nonblocking_write_with_a_parked_poller);
	tcase_add_test(tc, test_device_free_releases_open_files_and_flushes_their_sessions);
	tcase_add_test(tc, test_b8_command_queued_when_the_device_stops_never_reaches_the_tpm);
	tcase_add_test(tc, test_device_wait_open_returns_when_files_are_released);

	tc = tcase_new(s, "concurrency", setup, 300);
	tcase_add_test(tc, test_files_used_from_8_threads_each_get_their_own_responses);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cdev_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
