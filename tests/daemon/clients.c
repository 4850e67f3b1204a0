/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon-clients: raw TPM 2.0 clients of a tpmrm node for the daemon tests.  Plain
 * syscalls, no tss2: every command is built here byte by byte, so every response can be
 * checked against the command that asked for it.
 *
 *   daemon-clients mix NODE N M
 *	N clients (processes), each with its own open file, each running M operations:
 *	even clients block in write, odd ones use O_NONBLOCK and poll(POLLIN) before
 *	read (10 bytes, then the rest, as tpm2-tss does).  Operations alternate
 *	GetRandom(32) with CreatePrimary ECC P-256 + ReadPublic + FlushContext.
 *   daemon-clients slow NODE NFAST K
 *	one client runs K RSA-2048 CreatePrimary + ReadPublic + FlushContext (blocking
 *	writes: each CreatePrimary holds the FUSE file's inode lock for a whole key
 *	generation) while NFAST clients run the operations of `mix` until it is done.
 *   daemon-clients hold NODE WHAT
 *	open the node, print "open", wait for "go" on stdin, then leave something in the
 *	daemon, print one line, and wait to be killed:
 *	session-object  an HMAC session and an ECC primary in the space ("held 0xHANDLE")
 *	nonblock-rsa    an RSA-3072 CreatePrimary written O_NONBLOCK, unread ("written")
 *	block-rsa       "writing NR" (NR = SYS_write), then a blocking RSA-3072 CreatePrimary
 *			("returned" if the write ever returns)
 *   daemon-clients opens NODE K GAP_MS
 *	open and close the node K times, GAP_MS apart, timing each open():
 *	"opens K total SECONDS longest SECONDS"
 *   daemon-clients busy NODE K
 *	"busy", then K blocking RSA-3072 CreatePrimary + ReadPublic + FlushContext, "done"
 *
 * Checks on every response: the size field equals the bytes read, the tag matches the
 * command's, rc is 0, the body has the command's shape; a new object's handle is
 * 0x80FFFFFF (spaces are private, so the first object of every space gets it); ReadPublic
 * returns this client's own key (the unique field of each template differs per client
 * and operation, so every key does).  Any mismatch: a message and exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUF_MAX	       4096
#define POLL_MS	       60000
#define CLIENT_ALARM_S 60 /* a hung client dies (and the test fails) before ctest's limit */

#define TAG_NO_SESSIONS	  0x8001
#define TAG_SESSIONS	  0x8002
#define CC_CREATE_PRIMARY 0x0131
#define CC_FLUSH_CONTEXT  0x0165
#define CC_READ_PUBLIC	  0x0173
#define CC_START_AUTH	  0x0176
#define CC_GET_RANDOM	  0x017B
#define RH_OWNER	  0x40000001u
#define RH_NULL		  0x40000007u
#define RS_PW		  0x40000009u
#define ALG_RSA		  0x0001
#define ALG_SHA256	  0x000B
#define ALG_NULL	  0x0010
#define ALG_ECC		  0x0023
#define ECC_NIST_P256	  0x0003
/* fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA | sign */
#define KEY_ATTRS 0x00040472u
/* RSA sizes: the slow command, and the largest libtpms 0.9 makes (~0.2 s each) */
#define RSA_BITS_SLOW 2048
#define RSA_BITS_HOLD 3072
#define FIRST_VHANDLE 0x80FFFFFFu

typedef struct Client {
	int id;
	int fd;
	bool nonblock;
	unsigned long commands;
	double max_write_s;
} Client;

/* Counters a `slow` run shares between its processes. */
typedef struct Shared {
	volatile int slow_done;
	unsigned long fast_commands_during_slow[64];
	double fast_max_write_s[64];
} Shared;

static int client_id = -1;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "daemon-clients: client %d: ", client_id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Big-endian builders and readers. */
typedef struct Buf {
	uint8_t b[BUF_MAX];
	size_t len;
} Buf;

static void put8(Buf *b, uint8_t v)
{
	b->b[b->len++] = v;
}

static void put16(Buf *b, uint16_t v)
{
	put8(b, (uint8_t)(v >> 8));
	put8(b, (uint8_t)v);
}

static void put32(Buf *b, uint32_t v)
{
	put16(b, (uint16_t)(v >> 16));
	put16(b, (uint16_t)v);
}

static void patch16(Buf *b, size_t at, uint16_t v)
{
	b->b[at] = (uint8_t)(v >> 8);
	b->b[at + 1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static void begin(Buf *b, uint16_t tag, uint32_t cc)
{
	b->len = 0;
	put16(b, tag);
	put32(b, 0); /* size, set by finish() */
	put32(b, cc);
}

static void finish(Buf *b)
{
	b->b[2] = (uint8_t)(b->len >> 24);
	b->b[3] = (uint8_t)(b->len >> 16);
	b->b[4] = (uint8_t)(b->len >> 8);
	b->b[5] = (uint8_t)b->len;
}

/* The whole response, as a blocking client reads it: one read, then 0 (C2, C3). */
static size_t read_blocking(Client *c, uint8_t *rsp)
{
	ssize_t n = read(c->fd, rsp, BUF_MAX);
	uint8_t extra;

	if (n < 0)
		fail("read: %s", strerror(errno));
	if (n < 10)
		fail("read gave %zd bytes, less than a header", n);
	if (read(c->fd, &extra, 1) != 0)
		fail("a second read after the whole response did not return 0 (C3)");
	return (size_t)n;
}

static void wait_pollin(Client *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int r;

	do
		r = poll(&pfd, 1, POLL_MS);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		fail("poll: %s", strerror(errno));
	if (r == 0)
		fail("no POLLIN within %d ms", POLL_MS);
	/* tpm2-tss compares revents == POLLIN exactly (D3). */
	if (pfd.revents != POLLIN)
		fail("poll revents 0x%x, expected POLLIN only (D1, D3)", (unsigned)pfd.revents);
}

/* As tpm2-tss's device TCTI: poll, read the header, poll, read the rest (F4). */
static size_t read_nonblock(Client *c, uint8_t *rsp)
{
	ssize_t n;
	uint32_t size;

	wait_pollin(c);
	n = read(c->fd, rsp, 10);
	if (n != 10)
		fail("header read gave %zd (%s)", n, n < 0 ? strerror(errno) : "short");
	size = get32(rsp + 2);
	if (size < 10 || size > BUF_MAX)
		fail("response size field %u", size);
	if (size > 10) {
		wait_pollin(c); /* the remainder is still pending: POLLIN (D1) */
		n = read(c->fd, rsp + 10, BUF_MAX - 10);
		if (n != (ssize_t)(size - 10))
			fail("body read gave %zd of %u bytes", n, size - 10);
	}
	if (read(c->fd, rsp, 1) != 0)
		fail("a read after the whole response did not return 0 (C3)");
	return size;
}

/* Send @cmd, read the response into @rsp; checks size, tag and rc 0. */
static size_t transact(Client *c, const Buf *cmd, uint8_t *rsp)
{
	double t0 = now_s(), dt;
	ssize_t n = write(c->fd, cmd->b, cmd->len);
	size_t len;

	dt = now_s() - t0;
	if (dt > c->max_write_s)
		c->max_write_s = dt;
	if (n != (ssize_t)cmd->len)
		fail("write of cc 0x%x gave %zd (%s)", get32(cmd->b + 6), n,
		     n < 0 ? strerror(errno) : "short");
	len = c->nonblock ? read_nonblock(c, rsp) : read_blocking(c, rsp);
	if (get32(rsp + 2) != len)
		fail("response size field %u, %zu bytes read", get32(rsp + 2), len);
	if (get32(rsp + 6) != 0)
		fail("cc 0x%x answered rc 0x%08x", get32(cmd->b + 6), get32(rsp + 6));
	if (get16(rsp) != get16(cmd->b))
		fail("cc 0x%x answered with tag 0x%04x", get32(cmd->b + 6), get16(rsp));
	c->commands++;
	return len;
}

static void get_random(Client *c)
{
	uint8_t rsp[BUF_MAX];
	Buf cmd;
	size_t len;

	begin(&cmd, TAG_NO_SESSIONS, CC_GET_RANDOM);
	put16(&cmd, 32);
	finish(&cmd);
	len = transact(c, &cmd, rsp);
	if (len != 10 + 2 + 32 || get16(rsp + 10) != 32)
		fail("GetRandom(32) answered %zu bytes, TPM2B size %u", len, get16(rsp + 10));
}

/* Owner-hierarchy password session with the empty password. */
static void put_pw_auth(Buf *b)
{
	put32(b, 9);
	put32(b, RS_PW);
	put16(b, 0); /* nonce */
	put8(b, 0);  /* attributes */
	put16(b, 0); /* hmac */
}

/*
 * CreatePrimary of a signing key (noDA); @tag makes the key unique to its caller;
 * @rsa_bits for ALG_RSA only.
 */
static void build_create_primary(Buf *b, uint16_t alg, uint16_t rsa_bits, uint32_t tag)
{
	size_t at;

	begin(b, TAG_SESSIONS, CC_CREATE_PRIMARY);
	put32(b, RH_OWNER);
	put_pw_auth(b);
	put16(b, 4); /* inSensitive: empty userAuth and data */
	put16(b, 0);
	put16(b, 0);
	at = b->len;
	put16(b, 0); /* inPublic size, patched below */
	put16(b, alg);
	put16(b, ALG_SHA256);
	put32(b, KEY_ATTRS);
	put16(b, 0);	    /* authPolicy */
	put16(b, ALG_NULL); /* symmetric */
	put16(b, ALG_NULL); /* scheme */
	if (alg == ALG_ECC) {
		put16(b, ECC_NIST_P256);
		put16(b, ALG_NULL); /* kdf */
		put16(b, 32);	    /* unique.x: the caller's tag, then zeros */
		put32(b, tag);
		for (int i = 4; i < 32; i++)
			put8(b, 0);
		put16(b, 0); /* unique.y */
	} else {
		put16(b, rsa_bits);
		put32(b, 0); /* default exponent */
		put16(b, 8); /* unique.n: the caller's tag */
		put32(b, tag);
		put32(b, 0);
	}
	patch16(b, at, (uint16_t)(b->len - at - 2));
	put16(b, 0); /* outsideInfo */
	put32(b, 0); /* creationPCR: no banks */
	finish(b);
}

typedef struct Key {
	uint8_t pub[BUF_MAX]; /* TPM2B_PUBLIC, size included */
	size_t pub_len;
	uint8_t name[128]; /* TPM2B_NAME */
	size_t name_len;
} Key;

/* A TPM2B at @p inside @end: its total length (size field included). */
static size_t tpm2b_len(const uint8_t *p, const uint8_t *end, const char *what)
{
	if (end - p < 2 || (size_t)(end - p) < 2u + get16(p))
		fail("%s overruns the response", what);
	return 2u + get16(p);
}

static void create_primary(Client *c, uint16_t alg, uint16_t rsa_bits, uint32_t tag, Key *key)
{
	uint8_t rsp[BUF_MAX], *p, *end;
	size_t len, n;
	Buf cmd;

	build_create_primary(&cmd, alg, rsa_bits, tag);
	len = transact(c, &cmd, rsp);
	end = rsp + len;
	if (len < 18 || get32(rsp + 10) != FIRST_VHANDLE)
		fail("CreatePrimary gave handle 0x%08x, expected 0x%08x (private space)",
		     len >= 14 ? get32(rsp + 10) : 0, FIRST_VHANDLE);
	if (18 + get32(rsp + 14) + 5 != len)
		fail("CreatePrimary parameterSize %u does not fit %zu bytes", get32(rsp + 14), len);
	p = rsp + 18;
	key->pub_len = tpm2b_len(p, end, "outPublic");
	memcpy(key->pub, p, key->pub_len);
	if (key->pub_len < 4 || get16(p + 2) != alg)
		fail("CreatePrimary outPublic has type 0x%04x", get16(p + 2));
	p += key->pub_len;
	for (int i = 0; i < 2; i++) /* creationData, creationHash */
		p += tpm2b_len(p, end, "creation data");
	if (end - p < 6)
		fail("CreatePrimary creationTicket truncated");
	p += 6; /* creationTicket: tag, hierarchy */
	p += tpm2b_len(p, end, "creationTicket digest");
	n = tpm2b_len(p, end, "name");
	if (n > sizeof(key->name))
		fail("name of %zu bytes", n);
	memcpy(key->name, p, n);
	key->name_len = n;
}

/* ReadPublic of the space's first object: must be the key this client just made. */
static void read_public_is(Client *c, const Key *key)
{
	uint8_t rsp[BUF_MAX];
	size_t len;
	Buf cmd;

	begin(&cmd, TAG_NO_SESSIONS, CC_READ_PUBLIC);
	put32(&cmd, FIRST_VHANDLE);
	finish(&cmd);
	len = transact(c, &cmd, rsp);
	if (len < 10 + key->pub_len + key->name_len ||
	    memcmp(rsp + 10, key->pub, key->pub_len) != 0)
		fail("ReadPublic(0x%08x) returned another key than this client's", FIRST_VHANDLE);
	if (memcmp(rsp + 10 + key->pub_len, key->name, key->name_len) != 0)
		fail("ReadPublic(0x%08x) returned another name than CreatePrimary's",
		     FIRST_VHANDLE);
}

static void flush_first(Client *c)
{
	uint8_t rsp[BUF_MAX];
	Buf cmd;

	begin(&cmd, TAG_NO_SESSIONS, CC_FLUSH_CONTEXT);
	put32(&cmd, FIRST_VHANDLE);
	finish(&cmd);
	if (transact(c, &cmd, rsp) != 10)
		fail("FlushContext answered more than a header");
}

static void primary_cycle(Client *c, uint16_t alg, uint16_t rsa_bits, uint32_t tag)
{
	static Key key; /* one per process; too big for a small stack */

	create_primary(c, alg, rsa_bits, tag, &key);
	read_public_is(c, &key);
	flush_first(c);
}

/* Operation @i of client @c: GetRandom or an ECC primary's whole life. */
static void mixed_op(Client *c, int i)
{
	if (i % 2 == 0)
		get_random(c);
	else
		primary_cycle(c, ALG_ECC, 0, (uint32_t)c->id << 16 | (uint32_t)i);
}

static void client_open(Client *c, const char *node, int id, bool nonblock)
{
	memset(c, 0, sizeof(*c));
	c->id = client_id = id;
	c->nonblock = nonblock;
	c->fd = open(node, O_RDWR | O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
	if (c->fd < 0)
		fail("open %s: %s", node, strerror(errno));
}

/* Fork @n children running @body(i); returns the number that failed. */
static int run_children(int n, void (*body)(int i, void *user), void *user)
{
	pid_t pids[256];
	int failed = 0;

	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("daemon-clients: fork");
			exit(1);
		}
		if (pids[i] == 0) {
			alarm(CLIENT_ALARM_S);
			body(i, user);
			exit(0);
		}
	}
	for (int i = 0; i < n; i++) {
		int st = 0;

		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "daemon-clients: client %d failed (%s %d)\n", i,
				WIFSIGNALED(st) ? "signal" : "status",
				WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			failed++;
		}
	}
	return failed;
}

typedef struct MixArgs {
	const char *node;
	int ops;
} MixArgs;

static void mix_body(int i, void *user)
{
	const MixArgs *a = user;
	Client c;

	client_open(&c, a->node, i, i % 2 == 1);
	for (int op = 0; op < a->ops; op++)
		mixed_op(&c, op);
	close(c.fd);
}

static int cmd_mix(const char *node, int n, int ops)
{
	MixArgs a = { node, ops };
	double t0 = now_s();
	int failed = run_children(n, mix_body, &a);

	printf("mix: %d clients x %d operations (%d commands each): %d failed, %.2f s\n", n, ops,
	       ops / 2 + 3 * (ops - ops / 2), failed, now_s() - t0);
	return failed ? 1 : 0;
}

typedef struct SlowArgs {
	const char *node;
	int keys;
	Shared *sh;
} SlowArgs;

static void slow_body(int i, void *user)
{
	SlowArgs *a = user;
	Client c;

	if (i == 0) { /* the slow client: blocking writes that each take a key generation */
		double t0 = now_s();

		client_open(&c, a->node, 0, false);
		for (int k = 0; k < a->keys; k++)
			primary_cycle(&c, ALG_RSA, RSA_BITS_SLOW, 0x5100u + (uint32_t)k);
		printf("slow: %d RSA-%u primaries in %.2f s\n", a->keys, RSA_BITS_SLOW,
		       now_s() - t0);
		fflush(stdout);
		__atomic_store_n(&a->sh->slow_done, 1, __ATOMIC_SEQ_CST);
		return;
	}
	client_open(&c, a->node, i, i % 2 == 1);
	for (int op = 0; !__atomic_load_n(&a->sh->slow_done, __ATOMIC_SEQ_CST); op++) {
		mixed_op(&c, op);
		if (!__atomic_load_n(&a->sh->slow_done, __ATOMIC_SEQ_CST))
			a->sh->fast_commands_during_slow[i] = c.commands;
	}
	a->sh->fast_max_write_s[i] = c.max_write_s;
}

static int cmd_slow(const char *node, int nfast, int keys)
{
	Shared *sh = mmap(NULL, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			  -1, 0);
	SlowArgs a = { node, keys, sh };
	int failed;

	if (sh == MAP_FAILED || nfast < 1 || nfast > 63 || keys < 1) {
		fprintf(stderr, "daemon-clients: bad NFAST or K, or no shared memory\n");
		return 2;
	}
	failed = run_children(nfast + 1, slow_body, &a);
	for (int i = 1; i <= nfast; i++) {
		printf("fast client %d: %lu commands while the slow one ran, longest write "
		       "%.3f s\n",
		       i, sh->fast_commands_during_slow[i], sh->fast_max_write_s[i]);
		if (sh->fast_commands_during_slow[i] == 0) {
			fprintf(stderr,
				"daemon-clients: fast client %d got nothing done while the "
				"slow one ran\n",
				i);
			failed++;
		}
	}
	return failed ? 1 : 0;
}

static uint32_t start_hmac_session(Client *c)
{
	uint8_t rsp[BUF_MAX];
	Buf cmd;
	size_t len;

	begin(&cmd, TAG_NO_SESSIONS, CC_START_AUTH);
	put32(&cmd, RH_NULL); /* tpmKey */
	put32(&cmd, RH_NULL); /* bind */
	put16(&cmd, 16);      /* nonceCaller */
	for (int i = 0; i < 16; i++)
		put8(&cmd, (uint8_t)(i + 1));
	put16(&cmd, 0);	       /* encryptedSalt */
	put8(&cmd, 0x00);      /* TPM_SE_HMAC */
	put16(&cmd, ALG_NULL); /* symmetric */
	put16(&cmd, ALG_SHA256);
	finish(&cmd);
	len = transact(c, &cmd, rsp);
	if (len < 14 || (get32(rsp + 10) & 0xFF000000u) != 0x02000000u)
		fail("StartAuthSession gave handle 0x%08x", len >= 14 ? get32(rsp + 10) : 0);
	return get32(rsp + 10);
}

/* Wait for the test's "go" line on stdin. */
static void wait_go(void)
{
	char line[16];

	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		fail("expected 'go' on stdin");
}

static int cmd_hold(const char *node, const char *what)
{
	bool session_object = strcmp(what, "session-object") == 0;
	bool nonblock = strcmp(what, "nonblock-rsa") == 0;
	Client c;
	Buf cmd;

	if (!session_object && !nonblock && strcmp(what, "block-rsa") != 0) {
		fprintf(stderr, "daemon-clients: hold what? (session-object, nonblock-rsa, "
				"block-rsa)\n");
		return 2;
	}
	client_open(&c, node, 0, nonblock);
	printf("open\n");
	wait_go();
	if (session_object) {
		static Key key;
		uint32_t session = start_hmac_session(&c);

		create_primary(&c, ALG_ECC, 0, 0x4f4c44u, &key);
		printf("held 0x%08x\n", session);
	} else if (nonblock) {
		build_create_primary(&cmd, ALG_RSA, RSA_BITS_HOLD, 0x4e42u);
		if (write(c.fd, cmd.b, cmd.len) != (ssize_t)cmd.len)
			fail("O_NONBLOCK write: %s", strerror(errno));
		printf("written\n");
	} else {
		build_create_primary(&cmd, ALG_RSA, RSA_BITS_HOLD, 0x424cu);
		printf("writing %ld\n", (long)SYS_write);
		if (write(c.fd, cmd.b, cmd.len) != (ssize_t)cmd.len)
			fail("blocking write: %s", strerror(errno));
		printf("returned\n");
	}
	for (;;)
		pause(); /* until killed */
}

/* K opens (and closes) of the node, @gap_ms apart, timed: "opens K total S longest S". */
static int cmd_opens(const char *node, int k, int gap_ms)
{
	struct timespec gap = { gap_ms / 1000, (long)(gap_ms % 1000) * 1000000L };
	double total = 0, longest = 0;

	for (int i = 0; i < k; i++) {
		double t0 = now_s(), dt;
		int fd = open(node, O_RDWR | O_NONBLOCK | O_CLOEXEC);

		dt = now_s() - t0;
		if (fd < 0)
			fail("open %s: %s", node, strerror(errno));
		close(fd);
		total += dt;
		longest = dt > longest ? dt : longest;
		nanosleep(&gap, NULL);
	}
	printf("opens %d total %.6f longest %.6f\n", k, total, longest);
	return 0;
}

/* Keep the TPM busy: "busy", then K blocking RSA-3072 primaries back to back, "done". */
static int cmd_busy(const char *node, int k)
{
	Client c;

	client_open(&c, node, 0, false);
	printf("busy\n");
	for (int i = 0; i < k; i++)
		primary_cycle(&c, ALG_RSA, RSA_BITS_HOLD, 0x4255u + (uint32_t)i);
	printf("done\n");
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: daemon-clients mix NODE N M\n"
			"       daemon-clients slow NODE NFAST K\n"
			"       daemon-clients hold NODE session-object|nonblock-rsa|block-rsa\n"
			"       daemon-clients opens NODE K GAP_MS\n"
			"       daemon-clients busy NODE K\n");
	return 2;
}

/* A count argument: a decimal number from 1 to @max, or -1. */
static int count_arg(const char *text, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < 1 || v > max)
		return -1;
	return (int)v;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int a = argc > 3 ? count_arg(argv[3], 256) : -1;
	int b = argc > 4 ? count_arg(argv[4], 100000) : -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(mode, "mix") == 0 && a > 0 && b > 0)
		return cmd_mix(argv[2], a, b);
	if (argc == 5 && strcmp(mode, "slow") == 0 && a > 0 && a < 64 && b > 0)
		return cmd_slow(argv[2], a, b);
	if (argc == 4 && strcmp(mode, "hold") == 0)
		return cmd_hold(argv[2], argv[3]);
	if (argc == 5 && strcmp(mode, "opens") == 0 && a > 0 && b > 0)
		return cmd_opens(argv[2], a, b);
	if (argc == 4 && strcmp(mode, "busy") == 0 && a > 0)
		return cmd_busy(argv[2], a);
	return usage();
}
