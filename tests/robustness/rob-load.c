/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rob-client load NODE CLIENTS COMMANDS [--tolerant] [--seed N] [--alarm S] [--seconds S]
 *
 * CLIENTS processes at once, each with its own open file (odd ones O_NONBLOCK), each
 * sending exactly COMMANDS commands: a seeded random mix of GetRandom, CreatePrimary (ECC
 * storage key), Create + Load (ECDSA key), Sign (verified here with the key's public
 * part), hash sequences (digest compared), policy sessions with PolicyPCR (digest
 * compared), GetCapability (exactly the client's own objects) and FlushContext, never more
 * than 3 objects in a space.  Every response is checked.
 *
 * Without --tolerant any error fails the client.  With it (faults injected on purpose),
 * an errno or a TPM error is counted and the client starts over on a fresh open file;
 * a wrong answer still fails it, and so does a hang (--alarm, default 120 s).  With
 * --seconds each client stops after that long even if it has commands left.
 *
 * Prints one summary line: "load: ... commands C ... errors E ..." and per-kind counts;
 * TPMRM_ROB_VERBOSE=1 also prints each error a tolerant client sees, with the operation.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rob-tpm.h"

#define MAX_CLIENTS 256
#define MAX_ERRNO   134

enum { OP_RANDOM, OP_PRIMARY, OP_SIGNER, OP_SIGN, OP_HASH, OP_POLICY, OP_LIST, OP_FLUSH, OP_COUNT };
static const char *const op_names[OP_COUNT] = {
	"GetRandom",	 "CreatePrimary", "Create+Load",   "Sign",
	"hash-sequence", "PolicyPCR",	  "GetCapability", "FlushContext",
};
/* The most commands one operation sends (a hash sequence of 3 updates: 5). */
static const unsigned int op_cost[OP_COUNT] = { 1, 1, 2, 1, 5, 5, 1, 1 };
static const unsigned int op_weight[OP_COUNT] = { 3, 2, 2, 3, 2, 2, 2, 2 };

typedef struct ClientStats {
	unsigned long commands;
	unsigned long ops[OP_COUNT];
	unsigned long errnos[MAX_ERRNO];
	unsigned long tpm_errors;
	unsigned long malformed;
	unsigned long reopens;
	uint32_t rcs[8]; /* the TPM errors seen, with how often */
	unsigned long rc_counts[8];
} ClientStats;

typedef struct LoadOpts {
	const char *node;
	unsigned int clients;
	unsigned long commands;
	bool tolerant;
	uint32_t seed;
	unsigned int alarm_s;
	double seconds; /* stop earlier, after this long (0: never) */
} LoadOpts;

/* One client's state: its file and what its space holds. */
typedef struct Client {
	RobConn c;
	RobSlots slots;
	uint32_t primary, key;
	TPM2B_PUBLIC key_pub;
	uint32_t tag;
	unsigned long done; /* commands sent on earlier files */
} Client;

static bool op_possible(const Client *cl, int op)
{
	bool free_slot = rob_slots_next(&cl->slots) != 0;

	switch (op) {
	case OP_PRIMARY:
		return !cl->primary && free_slot;
	case OP_SIGNER:
		return cl->primary && !cl->key && free_slot;
	case OP_SIGN:
		return cl->key != 0;
	case OP_HASH:
		return free_slot;
	case OP_FLUSH:
		return cl->primary || cl->key;
	default:
		return true;
	}
}

static int pick_op(const Client *cl, unsigned long left)
{
	unsigned int total = 0, r;
	int op;

	for (op = 0; op < OP_COUNT; op++)
		total += op_weight[op];
	do {
		r = rob_random_below(total);
		for (op = 0; r >= op_weight[op]; op++)
			r -= op_weight[op];
	} while (!op_possible(cl, op));
	return op_cost[op] <= left ? op : OP_RANDOM;
}

static TSS2_RC run_flush(Client *cl)
{
	uint32_t *h = cl->key && (rob_random_below(2) || !cl->primary) ? &cl->key : &cl->primary;
	TSS2_RC rc = rob_flush(&cl->c, &cl->slots, *h);

	if (rc == TSS2_RC_SUCCESS)
		*h = 0;
	return rc;
}

static TSS2_RC run_op(Client *cl, int op)
{
	switch (op) {
	case OP_RANDOM:
		return rob_get_random(&cl->c, (uint16_t)(1 + rob_random_below(48)));
	case OP_PRIMARY:
		return rob_create_primary(&cl->c, &cl->slots, ++cl->tag, &cl->primary, NULL);
	case OP_SIGNER:
		return rob_create_load_signer(&cl->c, &cl->slots, cl->primary, ++cl->tag,
					      &cl->key_pub, &cl->key);
	case OP_SIGN:
		return rob_sign_verify(&cl->c, cl->key, &cl->key_pub);
	case OP_HASH:
		return rob_hash_sequence(&cl->c, &cl->slots, 1 + rob_random_below(3));
	case OP_POLICY:
		return rob_policy_pcr(&cl->c);
	case OP_LIST:
		return rob_check_transients(&cl->c, &cl->slots);
	default:
		return run_flush(cl);
	}
}

static void client_open(Client *cl, const LoadOpts *o, int id)
{
	int r = rob_conn_open(&cl->c, o->node, id % 2 == 1);

	if (r < 0)
		rob_fail("open %s: %s", o->node, strerror(-r));
	memset(&cl->slots, 0, sizeof(cl->slots));
	cl->primary = cl->key = 0;
}

/* An error: fatal, or (--tolerant) counted, and the client starts over on a new file. */
static void client_error(Client *cl, const LoadOpts *o, int id, int op, TSS2_RC rc, ClientStats *st)
{
	RobResult res = rob_classify(&cl->c, rc);
	int err = cl->c.last_errno;

	if (!o->tolerant)
		rob_fail("%s failed: rc 0x%x%s%s", op_names[op], rc, res == ROB_ERRNO ? ", " : "",
			 res == ROB_ERRNO ? strerror(err) : "");
	if (getenv("TPMRM_ROB_VERBOSE"))
		fprintf(stderr, "rob-client: client %d: %s failed: rc 0x%x%s%s\n", id, op_names[op],
			rc, res == ROB_ERRNO ? ", " : "", res == ROB_ERRNO ? strerror(err) : "");
	if (res == ROB_ERRNO)
		st->errnos[err < MAX_ERRNO ? err : 0]++;
	else if (res == ROB_TPM_RC)
		st->tpm_errors++;
	else
		st->malformed++;
	for (int i = 0; res == ROB_TPM_RC && i < 8; i++) {
		if (!st->rcs[i] || st->rcs[i] == rc) {
			st->rcs[i] = rc;
			st->rc_counts[i]++;
			break;
		}
	}
	st->reopens++;
	cl->done += cl->c.commands;
	rob_conn_close(&cl->c);
	usleep(2000); /* a TPM that is away: do not spin */
	client_open(cl, o, id);
}

static void client_main(const LoadOpts *o, int id, ClientStats *st)
{
	static Client cl; /* one per process */
	double t0 = rob_now();
	TSS2_RC rc;
	int op;

	rob_set_who("client %d", id);
	rob_seed(o->seed * 1000003u + (uint32_t)id);
	cl.tag = (uint32_t)id << 20;
	alarm(o->alarm_s);
	client_open(&cl, o, id);
	while (cl.done + cl.c.commands < o->commands &&
	       (!o->seconds || rob_now() - t0 < o->seconds)) {
		op = pick_op(&cl, o->commands - cl.done - cl.c.commands);
		rc = run_op(&cl, op);
		if (rc == TSS2_RC_SUCCESS)
			st->ops[op]++;
		else
			client_error(&cl, o, id, op, rc, st);
	}
	st->commands = cl.done + cl.c.commands;
	rob_conn_close(&cl.c);
}

static void add_rc(ClientStats *t, uint32_t rc, unsigned long n)
{
	for (int i = 0; i < 8; i++) {
		if (!t->rcs[i] || t->rcs[i] == rc) {
			t->rcs[i] = rc;
			t->rc_counts[i] += n;
			return;
		}
	}
}

static void print_summary(const LoadOpts *o, const ClientStats *st, double secs)
{
	ClientStats t = { 0 };
	unsigned long errors;

	for (unsigned int i = 0; i < o->clients; i++) {
		t.commands += st[i].commands;
		t.tpm_errors += st[i].tpm_errors;
		t.malformed += st[i].malformed;
		t.reopens += st[i].reopens;
		for (int k = 0; k < OP_COUNT; k++)
			t.ops[k] += st[i].ops[k];
		for (int e = 0; e < MAX_ERRNO; e++)
			t.errnos[e] += st[i].errnos[e];
	}
	for (unsigned int i = 0; i < o->clients; i++)
		for (int k = 0; k < 8 && st[i].rcs[k]; k++)
			add_rc(&t, st[i].rcs[k], st[i].rc_counts[k]);
	errors = t.tpm_errors + t.malformed;
	for (int e = 0; e < MAX_ERRNO; e++)
		errors += t.errnos[e];
	printf("load: %u clients x %lu commands: commands %lu in %.1f s (%.0f/s), errors %lu\n",
	       o->clients, o->commands, t.commands, secs, (double)t.commands / secs, errors);
	printf("load: ops:");
	for (int k = 0; k < OP_COUNT; k++)
		printf(" %s %lu", op_names[k], t.ops[k]);
	printf("\nload: errors:");
	for (int e = 1; e < MAX_ERRNO; e++)
		if (t.errnos[e])
			printf(" %s %lu", strerrorname_np(e), t.errnos[e]);
	printf(" tpm-rc %lu malformed %lu other-errno %lu; reopens %lu\n", t.tpm_errors,
	       t.malformed, t.errnos[0], t.reopens);
	if (t.tpm_errors) {
		printf("load: TPM errors:");
		for (int k = 0; k < 8 && t.rcs[k]; k++)
			printf(" 0x%x %lu", t.rcs[k], t.rc_counts[k]);
		printf("\n");
	}
}

static int parse_load(int argc, char **argv, LoadOpts *o)
{
	*o = (LoadOpts){ .seed = 1, .alarm_s = 120 };
	if (argc < 4)
		return -EINVAL;
	o->node = argv[1];
	o->clients = (unsigned int)strtoul(argv[2], NULL, 10);
	o->commands = strtoul(argv[3], NULL, 10);
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--tolerant") == 0)
			o->tolerant = true;
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			o->seed = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--alarm") == 0 && i + 1 < argc)
			o->alarm_s = (unsigned int)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			o->seconds = strtod(argv[++i], NULL);
		else
			return -EINVAL;
	}
	return o->clients >= 1 && o->clients <= MAX_CLIENTS && o->commands >= 1 ? 0 : -EINVAL;
}

int rob_load_main(int argc, char **argv)
{
	LoadOpts o;
	ClientStats *st;
	pid_t pids[MAX_CLIENTS];
	double t0;
	int status, failed = 0;

	if (parse_load(argc, argv, &o) < 0)
		rob_fail("usage: load NODE CLIENTS COMMANDS [--tolerant] [--seed N] [--alarm S] "
			 "[--seconds S]");
	st = mmap(NULL, sizeof(*st) * o.clients, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		  -1, 0);
	if (st == MAP_FAILED)
		rob_fail("mmap: %s", strerror(errno));
	memset(st, 0, sizeof(*st) * o.clients);
	fflush(stdout);
	t0 = rob_now();
	for (unsigned int i = 0; i < o.clients; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			rob_fail("fork: %s", strerror(errno));
		if (pids[i] == 0) {
			client_main(&o, (int)i, &st[i]);
			_exit(0);
		}
	}
	for (unsigned int i = 0; i < o.clients; i++) {
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fprintf(stderr, "load: client %u %s %d\n", i,
				WIFSIGNALED(status) ? "died of signal" : "exited with",
				WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			failed++;
		}
	}
	print_summary(&o, st, rob_now() - t0);
	munmap(st, sizeof(*st) * o.clients);
	return failed ? 1 : 0;
}
