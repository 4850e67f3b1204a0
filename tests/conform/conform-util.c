/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conform.h"

Str errno_str(int err)
{
	Str out;
	const char *name = strerrorname_np(err);

	if (name)
		snprintf(out.s, sizeof(out.s), "%s", name);
	else
		snprintf(out.s, sizeof(out.s), "errno %d", err);
	return out;
}

Str ret_str(ssize_t r)
{
	Str out;

	switch (-r) {
	case CONFORM_E_NORSP:
		snprintf(out.s, sizeof(out.s), "no response (read returned 0)");
		break;
	case CONFORM_E_TIMEOUT:
		snprintf(out.s, sizeof(out.s), "no POLLIN within %d s", CONFORM_OP_MS / 1000);
		break;
	case CONFORM_E_BADRSP:
		snprintf(out.s, sizeof(out.s), "a malformed response");
		break;
	case CONFORM_E_SHORTWR:
		snprintf(out.s, sizeof(out.s), "a short write");
		break;
	default:
		if (r < 0)
			snprintf(out.s, sizeof(out.s), "%s", errno_str((int)-r).s);
		else
			snprintf(out.s, sizeof(out.s), "%zd", r);
	}
	return out;
}

static Result case_set(CaseResult *res, Result result, const char *behaviour, const char *fmt,
		       va_list ap) __attribute__((format(printf, 4, 0)));

static Result case_set(CaseResult *res, Result result, const char *behaviour, const char *fmt,
		       va_list ap)
{
	char *p;

	res->result = result;
	snprintf(res->behaviour, sizeof(res->behaviour), "%s", behaviour);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang-tidy 14 bug */
	vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	for (p = res->detail; *p; p++) /* one line per case */
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return result;
}

Result case_pass(CaseResult *res, const char *fmt, ...)
{
	va_list ap;
	Result r;

	va_start(ap, fmt);
	r = case_set(res, RESULT_PASS, "spec", fmt, ap);
	va_end(ap);
	return r;
}

Result case_pass_as(CaseResult *res, const char *behaviour, const char *fmt, ...)
{
	va_list ap;
	Result r;

	va_start(ap, fmt);
	r = case_set(res, RESULT_PASS, behaviour, fmt, ap);
	va_end(ap);
	return r;
}

Result case_fail(CaseResult *res, const char *fmt, ...)
{
	va_list ap;
	Result r;

	va_start(ap, fmt);
	r = case_set(res, RESULT_FAIL, "fail", fmt, ap);
	va_end(ap);
	return r;
}

Result case_skip(CaseResult *res, const char *behaviour, const char *fmt, ...)
{
	va_list ap;
	Result r;

	va_start(ap, fmt);
	r = case_set(res, RESULT_SKIP, behaviour, fmt, ap);
	va_end(ap);
	return r;
}

void conform_log(const Conform *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!c->verbose)
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang-tidy 14 bug */
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "  [%d] %s\n", c->case_no, line);
}

void conform_step(Conform *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->shared)
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): clang-tidy 14 bug */
	vsnprintf(c->shared->step, sizeof(c->shared->step), fmt, ap);
	va_end(ap);
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
