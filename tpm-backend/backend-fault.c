/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fault-injecting backend, --backend fault:RULES:SPEC: wraps any other backend and
 * spoils chosen responses (backend-fault.h has the syntax), so that the resource manager
 * and the device can be shown to survive a TPM that misbehaves: truncated responses,
 * lying size fields, random bytes, no response, transport errors and slow commands.
 *
 * Every command that reaches the wrapper is counted, by each rule that matches its command
 * code; the first due rule that spoils responses decides, and every due slow rule adds its
 * delay.  A spoilt command still runs in the wrapped TPM (its state moves on, as with a
 * real TPM whose answer is lost), except with eio, whose command never gets there.  Each
 * fault is logged ("fault: command N (cc 0x...): KIND").
 *
 * The wrapper sends its commands to the wrapped backend's transmit directly, so the
 * kernel-like check of tpm_backend_transmit() runs once, on what the wrapper returns.
 */
#include <errno.h>
#include <string.h>

#include "backend-fault.h"
#include "tpm-backend.h"

static const char *const kind_names[] = {
	[TPM_FAULT_TRUNCATE] = "truncate", [TPM_FAULT_LIE_SIZE] = "lie-size",
	[TPM_FAULT_GARBAGE] = "garbage",   [TPM_FAULT_EMPTY] = "empty",
	[TPM_FAULT_NOISE] = "noise",	   [TPM_FAULT_NO_RESPONSE] = "no-response",
	[TPM_FAULT_EIO] = "eio",	   [TPM_FAULT_SLOW] = "slow",
	[TPM_FAULT_RANDOM] = "random",
};

const char *tpm_fault_kind_name(TpmFaultKind kind)
{
	if ((size_t)kind >= G_N_ELEMENTS(kind_names))
		return "?";
	return kind_names[kind];
}

/* --- the rules --- */

/* A whole decimal number, or hexadecimal after 0x, within [@min, @max]. */
static bool parse_number(const char *text, uint64_t min, uint64_t max, uint64_t *ret)
{
	guint base = 10;

	if (g_str_has_prefix(text, "0x") || g_str_has_prefix(text, "0X")) {
		base = 16;
		text += 2;
	}
	/* g_ascii_string_to_unsigned() takes a leading '+'; a rule never has one. */
	if (!g_ascii_isxdigit(*text))
		return false;
	return g_ascii_string_to_unsigned(text, base, min, max, ret, NULL);
}

/* WHEN: N | N-M | N+ | %K | * */
static bool parse_when(const char *when, TpmFaultRule *rule)
{
	g_autofree char *first = NULL;
	const char *dash;

	rule->first = 1;
	rule->last = TPM_FAULT_WHEN_NO_END;
	rule->every = 0;
	if (strcmp(when, "*") == 0)
		return true;
	if (when[0] == '%')
		return parse_number(when + 1, 1, G_MAXUINT32, &rule->every);
	if (g_str_has_suffix(when, "+")) {
		first = g_strndup(when, strlen(when) - 1);
		return parse_number(first, 1, TPM_FAULT_WHEN_NO_END - 1, &rule->first);
	}
	dash = strchr(when, '-');
	if (!dash) {
		if (!parse_number(when, 1, TPM_FAULT_WHEN_NO_END - 1, &rule->first))
			return false;
		rule->last = rule->first;
		return true;
	}
	first = g_strndup(when, (gsize)(dash - when));
	return parse_number(first, 1, TPM_FAULT_WHEN_NO_END - 1, &rule->first) &&
	       parse_number(dash + 1, rule->first, TPM_FAULT_WHEN_NO_END - 1, &rule->last);
}

/* The =ARG of slow (milliseconds) and random (a percentage); no other kind takes one. */
static bool parse_kind_arg(const char *eq, TpmFaultRule *rule)
{
	uint64_t arg = 0;

	if (rule->kind != TPM_FAULT_SLOW && rule->kind != TPM_FAULT_RANDOM)
		return eq == NULL;
	if (!eq)
		return false;
	if (rule->kind == TPM_FAULT_SLOW && !parse_number(eq + 1, 0, TPM_FAULT_MAX_SLOW_MS, &arg))
		return false;
	if (rule->kind == TPM_FAULT_RANDOM && !parse_number(eq + 1, 1, 100, &arg))
		return false;
	rule->arg = (unsigned int)arg;
	return true;
}

/* KIND, with its =ARG for slow and random. */
static bool parse_kind(const char *text, TpmFaultRule *rule)
{
	const char *eq = strchr(text, '=');
	g_autofree char *name = g_strndup(text, eq ? (gsize)(eq - text) : strlen(text));

	for (size_t k = 0; k < G_N_ELEMENTS(kind_names); k++) {
		if (strcmp(name, kind_names[k]) == 0) {
			rule->kind = (TpmFaultKind)k;
			return parse_kind_arg(eq, rule);
		}
	}
	return false;
}

/* The /CC of a rule, between @slash and @at (or the end). */
static bool parse_cc(const char *slash, const char *at, TpmFaultRule *rule)
{
	g_autofree char *cc = NULL;
	uint64_t v;

	rule->any_cc = slash == NULL;
	if (!slash)
		return true;
	cc = g_strndup(slash + 1, at ? (gsize)(at - slash - 1) : strlen(slash + 1));
	if (!parse_number(cc, 0, G_MAXUINT32, &v))
		return false;
	rule->cc = (uint32_t)v;
	return true;
}

/* One RULE into @rule, or false.  seed=N goes into @plan instead (*ret_is_rule false). */
static bool parse_rule(const char *text, TpmFaultPlan *plan, TpmFaultRule *rule, bool *ret_is_rule)
{
	g_autofree char *kind = NULL;
	const char *at = strchr(text, '@');
	const char *slash = strchr(text, '/');
	const char *end = slash ? slash : at ? at : text + strlen(text);
	uint64_t v;

	*ret_is_rule = true;
	memset(rule, 0, sizeof(*rule));
	if (g_str_has_prefix(text, "seed=")) {
		*ret_is_rule = false;
		if (!parse_number(text + 5, 0, G_MAXUINT32, &v))
			return false;
		plan->seed = (uint32_t)v;
		return true;
	}
	if (g_str_has_prefix(text, "slow-ms=")) {
		/* The short form of slow=MS: every command. */
		if (!parse_number(text + 8, 0, TPM_FAULT_MAX_SLOW_MS, &v))
			return false;
		rule->kind = TPM_FAULT_SLOW;
		rule->arg = (unsigned int)v;
		rule->any_cc = true;
		return parse_when("*", rule);
	}
	if (slash && at && slash > at)
		return false;
	kind = g_strndup(text, (gsize)(end - text));
	return parse_kind(kind, rule) && parse_cc(slash, at, rule) &&
	       parse_when(at ? at + 1 : "*", rule);
}

int tpm_fault_plan_parse(const char *text, TpmFaultPlan *ret, char **ret_error)
{
	g_auto(GStrv) parts = NULL;
	g_autofree TpmFaultRule *rules = NULL;
	TpmFaultPlan plan = { .seed = 1 };
	size_t n = 0;
	bool is_rule;

	if (!text || !*text)
		return tpm_backend_error(ret_error, -EINVAL, "no fault rules");
	parts = g_strsplit(text, ",", -1);
	if (g_strv_length(parts) > TPM_FAULT_MAX_RULES)
		return tpm_backend_error(ret_error, -EINVAL, "more than %d fault rules",
					 TPM_FAULT_MAX_RULES);
	rules = g_new0(TpmFaultRule, g_strv_length(parts));
	for (char **p = parts; *p; p++) {
		if (!parse_rule(*p, &plan, &rules[n], &is_rule))
			return tpm_backend_error(
				ret_error, -EINVAL,
				"bad fault rule '%s': expected KIND[/CC][@WHEN] (KIND truncate, "
				"lie-size, garbage, empty, noise, no-response, eio, slow=MS or "
				"random=PERCENT; WHEN N, N-M, N+, %%K or *), slow-ms=MS or seed=N",
				*p);
		n += is_rule;
	}
	plan.rules = g_steal_pointer(&rules);
	plan.n_rules = n;
	*ret = plan;
	return 0;
}

void tpm_fault_plan_clear(TpmFaultPlan *plan)
{
	g_clear_pointer(&plan->rules, g_free);
	plan->n_rules = 0;
}

bool tpm_fault_rule_due(const TpmFaultRule *rule, uint64_t n)
{
	if (rule->every)
		return n % rule->every == 0;
	return n >= rule->first && n <= rule->last;
}

/* --- the backend --- */

typedef struct FaultBackend {
	TpmBackend base;
	TpmBackend *inner;
	TpmFaultPlan plan;
	uint64_t *counted; /* per rule: the commands it has counted */
	uint64_t commands; /* every command so far */
	GRand *rand;
} FaultBackend;

/* What the rules say about one command: a kind that spoils it (or -1), and a delay. */
typedef struct FaultDecision {
	int kind;
	unsigned int delay_ms;
} FaultDecision;

static FaultDecision fault_decide(FaultBackend *f, uint32_t cc)
{
	FaultDecision d = { .kind = -1 };

	for (size_t i = 0; i < f->plan.n_rules; i++) {
		const TpmFaultRule *rule = &f->plan.rules[i];

		if (!rule->any_cc && rule->cc != cc)
			continue;
		if (!tpm_fault_rule_due(rule, ++f->counted[i]))
			continue;
		if (rule->kind == TPM_FAULT_SLOW) {
			d.delay_ms += rule->arg;
		} else if (rule->kind == TPM_FAULT_RANDOM) {
			/* Draw even when another rule decided: the sequence depends on the seed only. */
			bool hit = (unsigned int)g_rand_int_range(f->rand, 0, 100) < rule->arg;
			int kind = g_rand_int_range(f->rand, 0, TPM_FAULT_MALFORMING_KINDS);

			if (hit && d.kind < 0)
				d.kind = kind;
		} else if (d.kind < 0) {
			d.kind = (int)rule->kind;
		}
	}
	return d;
}

static void fill_random(GRand *rand, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)g_rand_int_range(rand, 0, 256);
}

/* Spoil the response in @rsp (@len bytes, room for @cap).  Returns 0 or the errno to give. */
static int fault_spoil(FaultBackend *f, TpmFaultKind kind, uint8_t *rsp, size_t cap, size_t *len)
{
	switch (kind) {
	case TPM_FAULT_TRUNCATE:
		*len /= 2;
		return 0;
	case TPM_FAULT_LIE_SIZE:
		if (*len < TPM2_WIRE_HEADER_SIZE && *len < cap)
			(*len)++; /* too short for a size field to lie in: one byte more */
		else if (*len >= TPM2_WIRE_HEADER_SIZE)
			tpm2_wire_store_u32(rsp + 2, (uint32_t)*len + 1);
		return 0;
	case TPM_FAULT_GARBAGE:
		fill_random(f->rand, rsp, *len);
		if (*len >= TPM2_WIRE_HEADER_SIZE && tpm2_wire_load_u32(rsp + 2) == *len)
			rsp[5] ^= 1;
		return 0;
	case TPM_FAULT_EMPTY:
		*len = 0;
		return 0;
	case TPM_FAULT_NOISE:
		if (*len > 6)
			fill_random(f->rand, rsp + 6, *len - 6);
		return 0;
	case TPM_FAULT_NO_RESPONSE:
		return -ETIME;
	default:
		return -EIO;
	}
}

static int fault_transmit(TpmBackend *be, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			  size_t rsp_cap, size_t *ret_rsp_len)
{
	FaultBackend *f = (FaultBackend *)be;
	uint32_t cc = cmd_len >= TPM2_WIRE_HEADER_SIZE ? tpm2_wire_load_u32(cmd + 6) : 0;
	FaultDecision d;
	size_t len = 0;
	int r;

	f->commands++;
	d = fault_decide(f, cc);
	if (d.delay_ms) {
		g_debug("fault: command %" G_GUINT64_FORMAT " (cc 0x%08x): %u ms late", f->commands,
			cc, d.delay_ms);
		g_usleep((gulong)d.delay_ms * 1000);
	}
	if (d.kind < 0)
		return f->inner->ops->transmit(f->inner, cmd, cmd_len, rsp, rsp_cap, ret_rsp_len);

	g_message("fault: command %" G_GUINT64_FORMAT " (cc 0x%08x): %s", f->commands, cc,
		  tpm_fault_kind_name((TpmFaultKind)d.kind));
	if (d.kind == TPM_FAULT_EIO)
		return -EIO;
	r = f->inner->ops->transmit(f->inner, cmd, cmd_len, rsp, rsp_cap, &len);
	if (r < 0)
		return r;
	r = fault_spoil(f, (TpmFaultKind)d.kind, rsp, rsp_cap, &len);
	if (r < 0)
		return r;
	*ret_rsp_len = len;
	return 0;
}

static int fault_cancel(TpmBackend *be)
{
	FaultBackend *f = (FaultBackend *)be;

	return f->inner->ops->cancel ? f->inner->ops->cancel(f->inner) : -EOPNOTSUPP;
}

static void fault_destroy(TpmBackend *be)
{
	FaultBackend *f = (FaultBackend *)be;

	g_debug("fault: %" G_GUINT64_FORMAT " commands passed through", f->commands);
	tpm_backend_free(f->inner);
	tpm_fault_plan_clear(&f->plan);
	g_free(f->counted);
	if (f->rand)
		g_rand_free(f->rand);
	g_free(f);
}

static const TpmBackendOps fault_ops = {
	.name = "fault",
	.transmit = fault_transmit,
	.cancel = fault_cancel,
	.destroy = fault_destroy,
};

int tpm_backend_fault_new(const char *rules, TpmBackend *inner, TpmBackend **ret, char **ret_error)
{
	TpmFaultPlan plan = { 0 };
	FaultBackend *f;
	int r;

	g_return_val_if_fail(inner && ret, -EINVAL);
	r = tpm_fault_plan_parse(rules, &plan, ret_error);
	if (r < 0)
		return r;
	f = g_new0(FaultBackend, 1);
	f->base.ops = &fault_ops;
	f->inner = inner;
	f->plan = plan;
	f->counted = g_new0(uint64_t, plan.n_rules ? plan.n_rules : 1);
	f->rand = g_rand_new_with_seed(plan.seed);
	*ret = &f->base;
	return 0;
}
