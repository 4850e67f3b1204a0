/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rob-client nv NODE define INDEX | write INDEX VALUE | loop INDEX START | read INDEX
 *              | lockout | persistent HANDLE
 *	An 8-byte NV index with owner authorisation and TPMA_NV_NO_DA (so no restart, orderly
 *	or not, ever counts against the dictionary-attack lockout).  `loop` writes START,
 *	START+1, ... and prints "ack V" once the write of V returned (each line written at
 *	once), until a write fails: then "failed: ..." and exit status 3.  `read` prints the
 *	value; `lockout` the lockout counter (TPM2_PT_LOCKOUT_COUNTER); `persistent` exits 0
 *	when HANDLE can be read (ReadPublic).
 *
 * rob-client expect NODE [--one-file] OUTCOME...
 *	One command per OUTCOME, [COMMAND:]RESULT, alternately on a blocking and an
 *	O_NONBLOCK file (--one-file: all on the blocking one).  COMMAND is getrandom (the
 *	default: GetRandom(16)), primary (CreatePrimary ECC) or readpublic (ReadPublic of
 *	0x80FFFFFF, which must be the primary); RESULT is ok, noise (GetRandom: framing
 *	intact, contents anything), EFAULT, ETIME, EIO (the errno from write() on a blocking
 *	file, from read() on an O_NONBLOCK one: B9, F6), or slow:MS (ok, and it took at least
 *	MS ms).  Prints "expect: N outcomes as expected".
 */
#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rob-tpm.h"
#include "test-util.h"

#define NV_SIZE 8

static uint32_t number(const char *text, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 0);
	if (errno || *end || end == text || v > UINT32_MAX)
		rob_fail("bad %s '%s'", what, text);
	return (uint32_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line, unbuffered: a SIGKILL never loses an acknowledged value. */
	if (n <= 0 || write(STDOUT_FILENO, line, (size_t)n) != n)
		exit(4);
}

static void describe(const RobConn *c, TSS2_RC rc, char *buf, size_t len)
{
	if (rob_classify(c, rc) == ROB_ERRNO)
		snprintf(buf, len, "%s (from %s)", strerror(c->last_errno),
			 c->errno_from_read ? "read" : "write");
	else
		snprintf(buf, len, "rc 0x%08x", rc);
}

static int nv_loop(RobConn *c, uint32_t index, uint64_t v)
{
	uint8_t buf[NV_SIZE];
	char why[96];
	TSS2_RC rc;

	for (;; v++) {
		put_be64(buf, v);
		rc = test_nv_write(c->sys, index, buf, NV_SIZE);
		if (rc != TSS2_RC_SUCCESS) {
			describe(c, rc, why, sizeof(why));
			say("failed: writing %" PRIu64 ": %s\n", v, why);
			return 3;
		}
		say("ack %" PRIu64 "\n", v);
	}
}

static int nv_read(RobConn *c, uint32_t index)
{
	uint8_t buf[NV_SIZE];
	char why[96];
	TSS2_RC rc = test_nv_read(c->sys, index, NV_SIZE, buf);

	if (rc != TSS2_RC_SUCCESS) {
		describe(c, rc, why, sizeof(why));
		rob_fail("NV_Read of 0x%08x: %s", index, why);
	}
	say("%" PRIu64 "\n", get_be64(buf));
	return 0;
}

static int lockout_counter(RobConn *c)
{
	TPMS_CAPABILITY_DATA cap = { .capability = 0 };
	TPMI_YES_NO more = 0;
	TSS2_RC rc;

	rc = Tss2_Sys_GetCapability(c->sys, NULL, TPM2_CAP_TPM_PROPERTIES, TPM2_PT_LOCKOUT_COUNTER,
				    1, &more, &cap, NULL);
	if (rc != TSS2_RC_SUCCESS || cap.data.tpmProperties.count != 1 ||
	    cap.data.tpmProperties.tpmProperty[0].property != TPM2_PT_LOCKOUT_COUNTER)
		rob_fail("GetCapability(TPM2_PT_LOCKOUT_COUNTER): rc 0x%x", rc);
	say("%u\n", cap.data.tpmProperties.tpmProperty[0].value);
	return 0;
}

static int persistent(RobConn *c, uint32_t handle)
{
	TPM2B_PUBLIC pub = { .size = 0 };
	TPM2B_NAME name = { .size = 0 }, qname = { .size = 0 };

	return Tss2_Sys_ReadPublic(c->sys, handle, NULL, &pub, &name, &qname, NULL) ? 1 : 0;
}

static int nv_define(RobConn *c, uint32_t index)
{
	uint8_t zero[NV_SIZE] = { 0 };
	TSS2_RC rc = test_nv_define(c->sys, index, NV_SIZE);

	if (rc == TSS2_RC_SUCCESS)
		rc = test_nv_write(c->sys, index, zero, NV_SIZE);
	if (rc != TSS2_RC_SUCCESS)
		rob_fail("NV_DefineSpace/NV_Write of 0x%08x: rc 0x%x", index, rc);
	return 0;
}

static int nv_write(RobConn *c, uint32_t index, uint64_t v)
{
	uint8_t buf[NV_SIZE];
	TSS2_RC rc;

	put_be64(buf, v);
	rc = test_nv_write(c->sys, index, buf, NV_SIZE);
	if (rc != TSS2_RC_SUCCESS)
		rob_fail("NV_Write of 0x%08x: rc 0x%x", index, rc);
	return 0;
}

int rob_nv_main(int argc, char **argv)
{
	RobConn c;
	int r;

	if (argc < 3)
		rob_fail("usage: nv NODE define|write|loop|read|lockout|persistent ...");
	rob_set_who("nv %s", argv[2]);
	r = rob_conn_open(&c, argv[1], false);
	if (r < 0)
		rob_fail("open %s: %s", argv[1], strerror(-r));
	if (strcmp(argv[2], "define") == 0 && argc == 4)
		r = nv_define(&c, number(argv[3], "index"));
	else if (strcmp(argv[2], "write") == 0 && argc == 5)
		r = nv_write(&c, number(argv[3], "index"), strtoull(argv[4], NULL, 10));
	else if (strcmp(argv[2], "loop") == 0 && argc == 5)
		r = nv_loop(&c, number(argv[3], "index"), strtoull(argv[4], NULL, 10));
	else if (strcmp(argv[2], "read") == 0 && argc == 4)
		r = nv_read(&c, number(argv[3], "index"));
	else if (strcmp(argv[2], "lockout") == 0 && argc == 3)
		r = lockout_counter(&c);
	else if (strcmp(argv[2], "persistent") == 0 && argc == 4)
		r = persistent(&c, number(argv[3], "handle"));
	else
		rob_fail("usage: nv NODE define|write|loop|read|lockout|persistent ...");
	rob_conn_close(&c);
	return r;
}

/* --- expect --- */

static const uint8_t get_random16[] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 16 };

typedef struct Expect {
	RobConn c[2];
	bool one_file; /* every command on the blocking file: objects stay in one space */
	RobSlots slots;
	TPM2B_PUBLIC pub; /* of the object at 0x80FFFFFF */
} Expect;

static int outcome_errno(const char *word)
{
	static const struct {
		const char *name;
		int err;
	} names[] = { { "EFAULT", EFAULT }, { "ETIME", ETIME }, { "EIO", EIO } };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(word, names[i].name) == 0)
			return names[i].err;
	return 0;
}

/* GetRandom(16) as raw bytes: 0, or the errno; *ret_noise set when only the framing held. */
static int raw_get_random(RobConn *c, bool plain, int i)
{
	uint8_t rsp[4096];
	size_t len = 0;
	int r = rob_conn_transact(c, get_random16, sizeof(get_random16), rsp, sizeof(rsp), &len);

	if (r < 0)
		return r;
	if (plain && (len != 10 + 2 + 16 || rsp[6] || rsp[7] || rsp[8] || rsp[9]))
		rob_fail("command %d: a GetRandom(16) response of %zu bytes, rc %02x%02x%02x%02x",
			 i, len, rsp[6], rsp[7], rsp[8], rsp[9]);
	if (!plain && (rsp[0] != 0x80 || rsp[1] != 0x01))
		rob_fail("command %d: noise changed the tag to %02x%02x", i, rsp[0], rsp[1]);
	return 0;
}

/* The same ECC key: type, attributes and public point. */
static bool same_key(const TPM2B_PUBLIC *a, const TPM2B_PUBLIC *b)
{
	const TPMS_ECC_POINT *p = &a->publicArea.unique.ecc, *q = &b->publicArea.unique.ecc;

	return a->publicArea.type == b->publicArea.type &&
	       a->publicArea.objectAttributes == b->publicArea.objectAttributes &&
	       p->x.size == q->x.size && p->y.size == q->y.size &&
	       memcmp(p->x.buffer, q->x.buffer, p->x.size) == 0 &&
	       memcmp(p->y.buffer, q->y.buffer, p->y.size) == 0;
}

/* An object command through tss2-sys: 0, -errno, or a failure for any TPM error. */
static int object_command(Expect *e, RobConn *c, const char *cmd, int i)
{
	TPM2B_PUBLIC pub = { .size = 0 };
	TPM2B_NAME name = { .size = 0 }, qname = { .size = 0 };
	uint32_t h = 0;
	TSS2_RC rc;

	if (strcmp(cmd, "primary") == 0)
		rc = rob_create_primary(c, &e->slots, (uint32_t)i, &h, &e->pub);
	else if (strcmp(cmd, "readpublic") == 0)
		rc = Tss2_Sys_ReadPublic(c->sys, ROB_FIRST_VHANDLE, NULL, &pub, &name, &qname,
					 NULL);
	else
		rob_fail("unknown command '%s'", cmd);
	if (rob_classify(c, rc) == ROB_ERRNO)
		return -c->last_errno;
	if (rc != TSS2_RC_SUCCESS)
		rob_fail("command %d (%s): rc 0x%x", i, cmd, rc);
	if (!h && !same_key(&pub, &e->pub))
		rob_fail("command %d: ReadPublic(0x%08x) gave another object", i,
			 ROB_FIRST_VHANDLE);
	return 0;
}

/* One OUTCOME, [COMMAND:]RESULT; fails unless the command ends as RESULT says. */
static void expect_one(Expect *e, const char *word, int i)
{
	RobConn *c = &e->c[e->one_file ? 0 : i % 2];
	const char *colon = strchr(word, ':');
	g_autofree char *cmd = colon && !g_str_has_prefix(word, "slow:")
				       ? g_strndup(word, (gsize)(colon - word))
				       : g_strdup("getrandom");
	const char *want = colon && !g_str_has_prefix(word, "slow:") ? colon + 1 : word;
	int err = outcome_errno(want);
	unsigned int slow_ms = g_str_has_prefix(want, "slow:") ? number(want + 5, "ms") : 0;
	bool plain = strcmp(want, "ok") == 0 || slow_ms;
	double t0 = rob_now();
	int r;

	if (!err && !plain && strcmp(want, "noise") != 0)
		rob_fail("unknown outcome '%s'", want);
	if (strcmp(cmd, "getrandom") == 0)
		r = raw_get_random(c, plain, i);
	else
		r = object_command(e, c, cmd, i);
	if (err && (r != -err || c->errno_from_read != c->nonblock))
		rob_fail("command %d (%s, %s): %s from %s, expected %s from %s", i, cmd,
			 c->nonblock ? "O_NONBLOCK" : "blocking", r ? strerror(-r) : "a response",
			 c->errno_from_read ? "read" : "write", want,
			 c->nonblock ? "read" : "write");
	if (!err && r < 0)
		rob_fail("command %d (%s): %s, expected %s", i, cmd, strerror(-r), want);
	if (slow_ms && (rob_now() - t0) * 1000 < slow_ms)
		rob_fail("command %d took %.0f ms, expected at least %u", i,
			 (rob_now() - t0) * 1000, slow_ms);
}

int rob_expect_main(int argc, char **argv)
{
	static Expect e;
	int first = 2, r;

	if (argc < 3)
		rob_fail("usage: expect NODE [--one-file] OUTCOME...");
	rob_set_who("expect");
	e.one_file = strcmp(argv[2], "--one-file") == 0;
	first += e.one_file;
	for (int i = 0; i < 2; i++) {
		r = rob_conn_open(&e.c[i], argv[1], i == 1);
		if (r < 0)
			rob_fail("open %s: %s", argv[1], strerror(-r));
	}
	for (int i = first; i < argc; i++)
		expect_one(&e, argv[i], i - first + 1);
	for (int i = 0; i < 2; i++)
		rob_conn_close(&e.c[i]);
	printf("expect: %d outcomes as expected\n", argc - first);
	return 0;
}
