/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tpmrm-conform: run the conformance cases of tpmrm-uapi.md section 5 against any
 * tpmrm-like node (tpmrm-cuse's FUSE file or CUSE device, the kernel's /dev/tpmrm0, ...).
 *
 * Each case runs in a forked child with a time limit, so a node that hangs a syscall
 * (even uninterruptibly) costs one FAIL "hung", not the run.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conform-back.h"
#include "conform.h"

#define CASE_LIMIT_MS	 30000 /* per case, plus waits the case makes on purpose */
#define FUSE_SUPER_MAGIC 0x65735546

typedef struct Options {
	Conform c;
	bool selected[CONFORM_NCASES + 1];
	const char *json;
	bool unresponsive; /* stat() of the node hung: run nothing */
} Options;

typedef struct Outcome {
	const CaseDef *def;
	CaseResult res;
} Outcome;

static const char usage_text[] =
	"Usage: tpmrm-conform PATH [--tpm0] [--cases LIST] [--slow] [--json FILE]\n"
	"                      [--control SOCK] [--backchannel RAWPATH] [--timeout-s N] [-v]\n"
	"                      [--help]\n"
	"\n"
	"Run the conformance cases of tpmrm-uapi.md section 5 against the tpmrm-like node PATH.\n"
	"\n"
	"  --tpm0                check PATH against the /dev/tpm0 personality instead (spec\n"
	"                        2.J): exclusive open, no resource manager; cases that test\n"
	"                        the resource manager are skipped as \"tpmrm only\"\n"
	"  --cases LIST          cases to run, e.g. 1-10,17,37 (default: all, 1-51)\n"
	"  --slow                also run the slow cases: 21 and 22 (wait the response\n"
	"                        timeout + 1 s, + 1/8 more for a late kernel timer) and 51\n"
	"                        (context-gap stress, up to 120 s)\n"
	"  --json FILE           write the results as a JSON array to FILE, with a\n"
	"                        \"behaviour\" token per case for comparing nodes\n"
	"  --control SOCK        tpmrm-cuse's control socket: view the TPM behind the node,\n"
	"                        and wait for closed files to be released\n"
	"  --backchannel RAWPATH a raw TPM node (e.g. /dev/tpm0) to view the TPM behind PATH\n"
	"  --timeout-s N         the node's unread-response timeout (default 120)\n"
	"  -v, --verbose         log every syscall and TPM command to stderr\n"
	"  -h, --help            show this help\n"
	"\n"
	"Prints one PASS/FAIL/SKIP line per case and then \"N passed, N failed, N skipped\".\n"
	"Exit status: 0 if no case failed, 1 if one did, 2 on usage errors.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tpmrm-conform: ");
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang-tidy 14 bug */
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'tpmrm-conform --help'.\n");
	return -EINVAL;
}

/* "N" or "A-B" within 1..CONFORM_NCASES. */
static int parse_range(const char *tok, int *ret_a, int *ret_b)
{
	char *end;
	long a, b;

	a = strtol(tok, &end, 10);
	b = a;
	if (end != tok && *end == '-')
		b = strtol(end + 1, &end, 10);
	if (end == tok || *end != '\0' || a < 1 || b > CONFORM_NCASES || a > b)
		return -EINVAL;
	*ret_a = (int)a;
	*ret_b = (int)b;
	return 0;
}

static int parse_cases(const char *list, bool *selected)
{
	char buf[512], *tok, *save = NULL;
	int a, b;

	if (strlen(list) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, list, strlen(list) + 1);
	memset(selected, 0, sizeof(bool) * (CONFORM_NCASES + 1));
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (parse_range(tok, &a, &b) < 0)
			return -EINVAL;
		for (; a <= b; a++)
			selected[a] = true;
	}
	return 0;
}

static int parse_timeout(const char *arg, unsigned int *ret)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (end == arg || *end || v < 1 || v > 3600)
		return -EINVAL;
	*ret = (unsigned int)v;
	return 0;
}

/* 0 to run, 1 after --help, -EINVAL on a usage error (already reported). */
static int parse_args(int argc, char **argv, Options *o)
{
	static const struct option longopts[] = {
		{ "cases", required_argument, NULL, 'c' },
		{ "tpm0", no_argument, NULL, '0' },
		{ "slow", no_argument, NULL, 's' },
		{ "json", required_argument, NULL, 'j' },
		{ "control", required_argument, NULL, 'C' },
		{ "backchannel", required_argument, NULL, 'b' },
		{ "timeout-s", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (parse_cases(optarg, o->selected) < 0)
				return usage_error("bad case list '%s' (e.g. 1-10,17,37)", optarg);
			break;
		case '0':
			o->c.tpm0 = true;
			break;
		case 's':
			o->c.slow = true;
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'C':
			o->c.control = optarg;
			break;
		case 'b':
			o->c.backchannel = optarg;
			break;
		case 't':
			if (parse_timeout(optarg, &o->c.timeout_s) < 0)
				return usage_error("bad --timeout-s '%s' (1-3600)", optarg);
			break;
		case 'v':
			o->c.verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		default:
			return usage_error("%s", "bad option");
		}
	}
	if (optind != argc - 1)
		return usage_error("%s", "expected exactly one PATH");
	if (o->c.tpm0 && o->c.backchannel)
		return usage_error("%s", "--backchannel does not go with --tpm0: PATH is the raw "
					 "node itself");
	o->c.path = argv[optind];
	return 0;
}

/* The name /proc/devices gives character major @major, into @name. */
static void chrdev_name(unsigned int major, char *name, size_t cap)
{
	char line[256], *end;
	bool chr = false;
	FILE *f = fopen("/proc/devices", "re");

	snprintf(name, cap, "?");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Character", 9) == 0)
			chr = true;
		else if (strncmp(line, "Block", 5) == 0)
			chr = false;
		else if (chr && strtoul(line, &end, 10) == major && end != line && *end == ' ')
			snprintf(name, cap, "%.*s", (int)strcspn(end + 1, "\n"), end + 1);
	}
	fclose(f);
}

static int detect_kind(Conform *c, char *desc, size_t cap)
{
	struct statfs sfs;
	struct stat st;
	char name[64];

	if (!c->path)
		return -EINVAL;
	if (stat(c->path, &st) < 0)
		return -errno;
	if (S_ISCHR(st.st_mode)) {
		chrdev_name(major(st.st_rdev), name, sizeof(name));
		c->kind = strcmp(name, "tpm") == 0 || strcmp(name, "misc") == 0 ? NODE_KERNEL
										: NODE_CDEV;
		snprintf(desc, cap, "character device %u:%u (\"%s\"): %s", major(st.st_rdev),
			 minor(st.st_rdev), name,
			 c->kind == NODE_KERNEL ? "the kernel's tpm driver" : "CUSE assumed");
	} else if (S_ISREG(st.st_mode)) {
		c->kind = NODE_FILE;
		snprintf(desc, cap, "regular file%s: FUSE-file transport",
			 statfs(c->path, &sfs) == 0 && sfs.f_type == FUSE_SUPER_MAGIC
				 ? " on FUSE"
				 : " (not on FUSE?)");
	} else {
		c->kind = NODE_OTHER;
		snprintf(desc, cap, "neither a character device nor a regular file");
	}
	return 0;
}

#define PROBE_LIMIT_MS 10000

/* Reap @pid by @deadline: 0 with *status, -ETIMEDOUT, or -errno. */
static int wait_child(pid_t pid, int64_t deadline, int *status)
{
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		sleep_ms(5);
	}
}

/*
 * stat() of a FUSE file blocks while its server does not answer, so the probe runs in a
 * child too: the runner itself never touches the node.  0, -errno of stat(), or -ETIMEDOUT.
 */
static int probe_node(Conform *c, char *desc, size_t cap)
{
	CaseShared *sh = c->shared;
	int status = 0, r;
	pid_t pid;

	memset(sh, 0, sizeof(*sh));
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sh->probe_err = detect_kind(c, sh->step, sizeof(sh->step));
		sh->probe_kind = c->kind;
		sh->done = 1;
		_exit(0);
	}
	r = wait_child(pid, now_ms() + PROBE_LIMIT_MS, &status);
	if (r < 0 || !sh->done) {
		kill(pid, SIGKILL);
		wait_child(pid, now_ms() + 2000, &status);
		return -ETIMEDOUT;
	}
	c->kind = sh->probe_kind;
	snprintf(desc, cap, "%s", sh->step);
	return sh->probe_err;
}

static unsigned int case_limit_ms(const Conform *c, const CaseDef *def)
{
	unsigned int ms = CASE_LIMIT_MS;

	if (def->flags & CASE_WAITS_TIMEOUT)
		ms += (c->timeout_s + 1) * 1000 + timeout_slack_ms(c->timeout_s);
	if (def->flags & CASE_LONG)
		ms += 150000;
	return ms;
}

/* The parent's wait for released spaces before a case (our daemon's FUSE file). */
static void settle_before_case(Conform *c)
{
	char out[128];

	if (c->control)
		ctl_request(c, "wait-spaces 0 5000", out, sizeof(out), 10000);
}

static void child_run(Conform *c, const CaseDef *def)
{
	c->case_no = def->no;
	c->nopen = 0;
	def->fn(c, &c->shared->res);
	c->shared->done = 1;
	_exit(0);
}

static void run_case(Conform *c, const CaseDef *def, CaseResult *out)
{
	CaseShared *sh = c->shared;
	unsigned int limit = case_limit_ms(c, def);
	int status = 0, r;
	pid_t pid;

	memset(sh, 0, sizeof(*sh));
	case_fail(&sh->res, "the case ended without a verdict");
	settle_before_case(c);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		case_fail(out, "fork failed: %s", errno_str(errno).s);
		return;
	}
	if (pid == 0)
		child_run(c, def);
	r = wait_child(pid, now_ms() + limit, &status);
	if (r == -ETIMEDOUT) {
		kill(pid, SIGKILL);
		r = wait_child(pid, now_ms() + 2000, &status);
		case_fail(out, "hung: no verdict after %u s, during %s%s", limit / 1000, sh->step,
			  r < 0 ? " (the process is stuck in an uninterruptible wait)" : "");
		return;
	}
	if (r == 0 && WIFSIGNALED(status))
		case_fail(out, "the case crashed with signal %d during %s", WTERMSIG(status),
			  sh->step);
	else if (r < 0 || !sh->done)
		case_fail(out, "the case process ended without a verdict");
	else
		*out = sh->res;
}

static const char *result_word(Result r)
{
	return r == RESULT_PASS ? "PASS" : r == RESULT_FAIL ? "FAIL" : "SKIP";
}

static void slow_skip(const Conform *c, const CaseDef *def, CaseResult *out)
{
	if (def->flags & CASE_WAITS_TIMEOUT)
		case_skip(out, "needs-slow", "needs --slow (waits %u s)", c->timeout_s + 1);
	else
		case_skip(out, "needs-slow", "needs --slow (optional stress, runs up to 120 s)");
}

/* --tpm0 and a case that checks only the resource manager's personality. */
static void tpm0_skip(const CaseDef *def, CaseResult *out)
{
	if (def->no == 1)
		case_skip(out, "tpmrm-only",
			  "tpmrm only: many opens at once are A1; /dev/tpm0 is exclusive (A2, "
			  "case 2)");
	else
		case_skip(out, "tpmrm-only", "tpmrm only: /dev/tpm0 has no resource manager (J1)");
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned int)(unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* Writes and closes @f. */
static int write_json(FILE *f, const Outcome *outcomes, size_t n)
{
	static const char *const words[] = { "pass", "fail", "skip" };
	size_t i;

	fputs("[\n", f);
	for (i = 0; i < n; i++) {
		fprintf(f, "  {\"case\": %d, \"name\": ", outcomes[i].def->no);
		json_string(f, outcomes[i].def->name);
		fprintf(f, ", \"result\": \"%s\", \"behaviour\": ", words[outcomes[i].res.result]);
		json_string(f, outcomes[i].res.behaviour);
		fputs(", \"detail\": ", f);
		json_string(f, outcomes[i].res.detail);
		fprintf(f, "}%s\n", i + 1 < n ? "," : "");
	}
	fputs("]\n", f);
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

/* Runs the selected cases in order; returns how many there were. */
static size_t run_all(Options *o, Outcome *outcomes, int *count)
{
	size_t n = 0;
	int i;

	for (i = 0; i < CONFORM_NCASES; i++) {
		const CaseDef *def = conform_case_for(&o->c, &conform_cases[i]);
		Outcome *oc = &outcomes[n];

		if (!o->selected[conform_cases[i].no])
			continue;
		oc->def = def ? def : &conform_cases[i];
		if (o->unresponsive)
			case_fail(&oc->res, "not run: the node does not answer (stat() hung)");
		else if (!def)
			tpm0_skip(oc->def, &oc->res);
		else if ((def->flags & CASE_SLOW) && !o->c.slow)
			slow_skip(&o->c, def, &oc->res);
		else
			run_case(&o->c, def, &oc->res);
		printf("%s %d %s: %s\n", result_word(oc->res.result), oc->def->no, oc->def->name,
		       oc->res.detail);
		fflush(stdout);
		count[oc->res.result]++;
		n++;
	}
	return n;
}

static void print_header(const Options *o, const char *kind)
{
	printf("# tpmrm-conform %s: %s; backchannel: %s%s%s%s\n", o->c.path, kind,
	       o->c.control	  ? "control socket "
	       : o->c.backchannel ? "raw node "
				  : "none",
	       o->c.control ? o->c.control : "",
	       o->c.backchannel && !o->c.control ? o->c.backchannel : "",
	       o->c.tpm0 ? "; checked as a /dev/tpm0 node (--tpm0)" : "");
}

int main(int argc, char **argv)
{
	static Outcome outcomes[CONFORM_NCASES];
	Options o = { .c = { .timeout_s = 120 } };
	int count[3] = { 0, 0, 0 };
	FILE *json;
	char kind[sizeof(((CaseShared *)NULL)->step)];
	size_t n;
	int r;

	memset(o.selected, 1, sizeof(o.selected));
	r = parse_args(argc, argv, &o);
	if (r != 0)
		return r > 0 ? 0 : 2;
	signal(SIGPIPE, SIG_IGN);
	o.c.shared = mmap(NULL, sizeof(CaseShared), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (o.c.shared == MAP_FAILED) {
		fprintf(stderr, "tpmrm-conform: mmap: %s\n", strerror(errno));
		return 2;
	}
	r = probe_node(&o.c, kind, sizeof(kind));
	if (r == -ETIMEDOUT) {
		o.unresponsive = true;
		snprintf(kind, sizeof(kind), "stat() did not return within %d s",
			 PROBE_LIMIT_MS / 1000);
	} else if (r < 0) {
		fprintf(stderr, "tpmrm-conform: %s: %s\n", o.c.path, strerror(-r));
		return 2;
	}
	json = o.json ? fopen(o.json, "we") : NULL;
	if (o.json && !json) {
		fprintf(stderr, "tpmrm-conform: %s: %s\n", o.json, strerror(errno));
		return 2;
	}
	print_header(&o, kind);
	n = run_all(&o, outcomes, count);
	printf("%d passed, %d failed, %d skipped\n", count[RESULT_PASS], count[RESULT_FAIL],
	       count[RESULT_SKIP]);
	if (json) {
		r = write_json(json, outcomes, n);
		if (r < 0) {
			fprintf(stderr, "tpmrm-conform: %s: %s\n", o.json, strerror(-r));
			return 1;
		}
	}
	return count[RESULT_FAIL] ? 1 : 0;
}
