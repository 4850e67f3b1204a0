/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tpmrm-conform: shared types of the runner, the node I/O helpers and the cases.
 *
 * Every case runs in a child process of its own (the runner kills it if it hangs), talks to
 * the node through raw syscalls only, and reports one CaseResult through a shared page.
 */
#ifndef TPMRM_CONFORM_H
#define TPMRM_CONFORM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONFORM_NCASES	  51
#define CONFORM_BUF	  4096	/* TPM_BUFSIZE: largest write and largest response */
#define CONFORM_OP_MS	  10000 /* how long a poll for a response may wait */
#define CONFORM_SETTLE_MS 5000	/* how long a released space may take to be freed */
#define CONFORM_REOPEN_MS 2000	/* tpm0: how long a closed file may keep the node busy */

/* Our own negative codes, beyond errno's range, for outcomes that are not a node errno. */
#define CONFORM_E_NORSP	  10001 /* read returned 0 where a response was due */
#define CONFORM_E_TIMEOUT 10002 /* poll saw no response within CONFORM_OP_MS */
#define CONFORM_E_BADRSP  10003 /* the response is shorter than its header says, or malformed */
#define CONFORM_E_SHORTWR 10004 /* write returned a short count */

/* What the node path is; some results depend on the transport (spec "Transport differences"). */
typedef enum NodeKind {
	NODE_KERNEL, /* a character device of the kernel's tpm driver */
	NODE_CDEV,   /* another character device: CUSE assumed */
	NODE_FILE,   /* a regular file: the FUSE-file transport */
	NODE_OTHER,
} NodeKind;

typedef enum Result {
	RESULT_PASS,
	RESULT_FAIL,
	RESULT_SKIP,
} Result;

/* The longest behaviour token (README.md "Behaviour tokens"), with its NUL. */
#define CONFORM_TOKEN_MAX 32

typedef struct CaseResult {
	Result result;
	/*
	 * A short stable token for the behaviour seen, for comparing nodes case by case:
	 * "spec", a documented alternative ("zero-read-discards"), "fail", or a skip class.
	 */
	char behaviour[CONFORM_TOKEN_MAX];
	char detail[1024];
} CaseResult;

/* One page shared between the runner and a case child (or the node probe). */
typedef struct CaseShared {
	CaseResult res;
	char step[256]; /* what the child is doing, for the "hung" report */
	int done;
	int probe_err; /* the node probe: 0 or -errno of stat() */
	NodeKind probe_kind;
} CaseShared;

typedef struct Conform {
	const char *path;
	const char *control;	 /* --control SOCK, or NULL */
	const char *backchannel; /* --backchannel RAWPATH, or NULL */
	unsigned int timeout_s;	 /* the node's unread-response timeout */
	bool tpm0;		 /* --tpm0: check the /dev/tpm0 personality (spec 2.J) */
	bool slow;
	bool verbose;
	NodeKind kind;
	int case_no; /* the case running in this process, for log lines */
	int nopen;   /* node fds this process holds open (for wait-spaces) */
	CaseShared *shared;
} Conform;

typedef Result (*CaseFn)(Conform *c, CaseResult *res);

typedef struct CaseDef {
	int no;
	unsigned int flags;
	const char *name;
	CaseFn fn;
} CaseDef;

#define CASE_SLOW	   0x1u /* runs only with --slow */
#define CASE_WAITS_TIMEOUT 0x2u /* waits timeout_s + 1 seconds */
#define CASE_LONG	   0x4u /* may run for minutes (context-gap stress) */
#define CASE_TPM0	   0x8u /* runs with --tpm0 too (as is, or adapting to c->tpm0) */

/* The case table, in spec order (conform-cases.c). */
extern const CaseDef conform_cases[CONFORM_NCASES];

/*
 * What runs for @def: @def itself, with --tpm0 its tpm0 variant (another name and
 * function) or @def when it has CASE_TPM0, or NULL when it does not apply (tpmrm only).
 */
const CaseDef *conform_case_for(const Conform *c, const CaseDef *def);

/* A short string by value, so helpers can format into it without static buffers. */
typedef struct Str {
	char s[96];
} Str;

/* "returned 12", "failed with EINVAL", or one of the CONFORM_E_* descriptions. */
Str ret_str(ssize_t r);
/* The symbolic errno name ("EINVAL"), or its number when unknown. */
Str errno_str(int err);

/*
 * Set the case result, behaviour token and detail; return the result, so a case can
 * `return case_fail(...)`.  case_pass() records "spec", case_fail() "fail"; a documented
 * alternative passes with case_pass_as(), and every skip names its class.
 */
Result case_pass(CaseResult *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
Result case_pass_as(CaseResult *res, const char *behaviour, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
Result case_fail(CaseResult *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
Result case_skip(CaseResult *res, const char *behaviour, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record what the case is doing now (shown if it hangs) and log it with -v. */
void conform_step(Conform *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log a line to stderr with -v only. */
void conform_log(const Conform *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* How late a kernel timer of @timeout_s may fire (timer-wheel slack, at most 1/8), plus 1 s. */
static inline unsigned int timeout_slack_ms(unsigned int timeout_s)
{
	return timeout_s * 1000 / 8 + 1000;
}

/* Monotonic milliseconds. */
int64_t now_ms(void);
/* Sleep @ms milliseconds (restarts after signals). */
void sleep_ms(unsigned int ms);

#endif
