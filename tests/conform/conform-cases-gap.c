/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Case 51: context-gap stress (I19).  fd A keeps one idle policy session while fd B loops
 * StartAuthSession, GetRandom, FlushContext.  Each of B's commands makes the RM save B's
 * session, which advances the TPM's context counter; A's saved session falls behind until
 * the TPM refuses a save with TPM_RC_CONTEXT_GAP.  The kernel does no ungapping and turns
 * that into EFAULT (I10); an RM that ungaps passes the loop.  Either is documented.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "conform-cases.h"
#include "conform-check.h"

#define GAP_MAX_ITERATIONS 70000u
#define GAP_MAX_MS	   120000

typedef struct GapRun {
	unsigned int iterations; /* completed iterations */
	const char *where;	 /* the command that failed, or NULL */
	int r;			 /* its -errno, or 0 */
	uint32_t rc;		 /* its TPM rc, when r == 0 */
} GapRun;

/* TPM_PT_CONTEXT_GAP_MAX, or 0xffff when the TPM does not say. */
static uint32_t gap_max(Conform *c, int fd)
{
	uint32_t value = 0xffff;
	TpmCmd cmd;
	TpmRsp rsp;

	tpm_cmd_get_capability(&cmd, TPM_CAP_TPM_PROPERTIES, TPM_PT_CONTEXT_GAP_MAX, 1);
	if (tpm_call(c, fd, &cmd, &rsp) == 0 && rsp.rc == 0)
		tpm_rsp_cap_property(&rsp, TPM_PT_CONTEXT_GAP_MAX, &value);
	return value;
}

/* Record a failed step; true when the step succeeded. */
static bool gap_step(GapRun *run, const char *where, int r, uint32_t rc)
{
	if (r == 0 && rc == 0)
		return true;
	run->where = where;
	run->r = r;
	run->rc = r == 0 ? rc : 0;
	return false;
}

/* One iteration on fd B: start a session, run GR32, flush the session. */
static bool gap_iteration(Conform *q, int fd, GapRun *run)
{
	uint32_t rc = 0, s = 0, frc = 0;
	TpmCmd gr;
	int r;

	r = tpm_start_session(q, fd, TPM_SE_POLICY, &rc, &s);
	if (!gap_step(run, "StartAuthSession", r, rc))
		return false;
	tpm_cmd_raw(&gr, "GetRandom(32)", TPM_GR32, sizeof(TPM_GR32));
	r = tpm_call_rc(q, fd, &gr, &rc);
	if (!gap_step(run, "GetRandom", r, rc)) {
		tpm_flush(q, fd, s, &frc);
		return false;
	}
	r = tpm_flush(q, fd, s, &rc);
	return gap_step(run, "FlushContext", r, rc);
}

static void gap_loop(Conform *c, int fd, unsigned int limit, GapRun *run)
{
	Conform quiet = *c; /* no per-command log lines for 200000 commands */
	int64_t deadline = now_ms() + GAP_MAX_MS;

	quiet.verbose = false;
	memset(run, 0, sizeof(*run));
	while (run->iterations < limit && now_ms() < deadline) {
		if ((run->iterations & 0x3ff) == 0)
			conform_step(c, "context-gap loop, iteration %u", run->iterations);
		if (!gap_iteration(&quiet, fd, run))
			return;
		run->iterations++;
	}
}

static Str gap_outcome(int r, uint32_t rc)
{
	Str out;

	if (r < 0)
		snprintf(out.s, sizeof(out.s), "%s", ret_str(r).s);
	else
		snprintf(out.s, sizeof(out.s), "rc 0x%08x", rc);
	return out;
}

static bool is_gap_failure(int r, uint32_t rc)
{
	return r == -EFAULT || (r == 0 && rc == TPM_RC_CONTEXT_GAP);
}

static Result gap_verdict(CaseResult *res, const GapRun *run, uint32_t gap, int ra, uint32_t rca)
{
	if (run->where && is_gap_failure(run->r, run->rc))
		return case_pass_as(res, run->r == -EFAULT ? "gap-efault" : "gap-0x901",
				    "kernel behaviour (no ungapping, I19): fd B's %s got %s at "
				    "iteration %u (TPM_PT_CONTEXT_GAP_MAX 0x%x); fd A's idle "
				    "session then: %s",
				    run->where, gap_outcome(run->r, run->rc).s, run->iterations,
				    gap, gap_outcome(ra, rca).s);
	if (run->where)
		return case_fail(res,
				 "fd B's %s at iteration %u: saw %s, spec expects EFAULT "
				 "(or the TPM's 0x901) or no error",
				 run->where, run->iterations, gap_outcome(run->r, run->rc).s);
	if (is_gap_failure(ra, rca))
		return case_pass_as(res, ra == -EFAULT ? "gap-efault" : "gap-0x901",
				    "kernel behaviour (no ungapping, I19): the loop passed %u "
				    "iterations, then fd A's command got %s",
				    run->iterations, gap_outcome(ra, rca).s);
	if (ra < 0 || rca != 0)
		return case_fail(res,
				 "fd A's idle session after %u iterations: saw %s, spec "
				 "expects rc 0 (ungapping) or EFAULT (kernel)",
				 run->iterations, gap_outcome(ra, rca).s);
	if (run->iterations > gap)
		return case_pass_as(res, "ungapped",
				    "no gap failure in %u iterations (more than "
				    "TPM_PT_CONTEXT_GAP_MAX 0x%x) and fd A's idle session "
				    "intact: this node ungaps (or keeps the session loaded)",
				    run->iterations, gap);
	return case_skip(res, "inconclusive",
			 "inconclusive: %u iterations in %d s without a gap failure, fewer "
			 "than TPM_PT_CONTEXT_GAP_MAX 0x%x",
			 run->iterations, GAP_MAX_MS / 1000, gap);
}

Result case_context_gap(Conform *c, CaseResult *res)
{
	uint32_t gap, sa = 0, rca = 0;
	GapRun run;
	int fda, fdb = -1, ra;

	fda = open_or_fail(c, res, O_RDWR);
	if (fda < 0)
		return res->result;
	fdb = open_or_fail(c, res, O_RDWR);
	if (fdb < 0 || !start_session(c, res, fda, TPM_SE_POLICY, &sa))
		goto out;
	gap = gap_max(c, fdb);
	gap_loop(c, fdb, gap + 16 < GAP_MAX_ITERATIONS ? gap + 16 : GAP_MAX_ITERATIONS, &run);
	ra = tpm_policy_get_digest(c, fda, sa, &rca);
	gap_verdict(res, &run, gap, ra, rca);
out:
	node_close(c, fdb);
	node_close(c, fda);
	return res->result;
}
