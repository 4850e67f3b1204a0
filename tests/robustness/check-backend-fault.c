/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fault-injecting backend: its rule parser (every form, and clear errors for the rest),
 * the fault:RULES:SPEC backend spec, and what each fault does to a response, over the
 * fake TPM and over libtpms.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend-fault.h"
#include "fake-tpm.h"
#include "tpm-backend.h"

#define CC_GET_RANDOM 0x17bu
#define CC_SELF_TEST  0x143u

static const uint8_t get_random_cmd[] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 8 };
static const uint8_t self_test_cmd[] = { 0x80, 0x01, 0, 0, 0, 11, 0, 0, 0x01, 0x43, 0 };

/* --- the rule parser --- */

static TpmFaultPlan plan_ok(const char *text)
{
	TpmFaultPlan plan;
	g_autofree char *error = NULL;

	ck_assert_msg(tpm_fault_plan_parse(text, &plan, &error) == 0, "'%s': %s", text, error);
	ck_assert_ptr_null(error);
	return plan;
}

static void plan_bad(const char *text, const char *expect_in_message)
{
	TpmFaultPlan plan = { 0 };
	g_autofree char *error = NULL;

	ck_assert_msg(tpm_fault_plan_parse(text, &plan, &error) == -EINVAL, "'%s' parsed", text);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strstr(error, expect_in_message), "'%s': message '%s' lacks '%s'", text,
		      error, expect_in_message);
	ck_assert_ptr_null(plan.rules);
	/* Without a message pointer only the errno comes back. */
	ck_assert_int_eq(tpm_fault_plan_parse(text, &plan, NULL), -EINVAL);
}

static void assert_rule(const TpmFaultRule *r, const TpmFaultRule *want)
{
	ck_assert_int_eq(r->kind, want->kind);
	ck_assert_uint_eq(r->arg, want->arg);
	ck_assert_int_eq(r->any_cc, want->any_cc);
	ck_assert_uint_eq(r->cc, want->cc);
	ck_assert_uint_eq(r->every, want->every);
	if (!want->every) {
		ck_assert_uint_eq(r->first, want->first);
		ck_assert_uint_eq(r->last, want->last);
	}
}

#define RULE(...) (&(const TpmFaultRule){ __VA_ARGS__ })

START_TEST(test_the_issue_example_parses)
{
	TpmFaultPlan p = plan_ok("truncate@3,garbage@5,lie-size@7,no-response@11,slow-ms=50");

	ck_assert_uint_eq(p.n_rules, 5);
	ck_assert_uint_eq(p.seed, 1);
	assert_rule(&p.rules[0],
		    RULE(.kind = TPM_FAULT_TRUNCATE, .any_cc = true, .first = 3, .last = 3));
	assert_rule(&p.rules[1],
		    RULE(.kind = TPM_FAULT_GARBAGE, .any_cc = true, .first = 5, .last = 5));
	assert_rule(&p.rules[2],
		    RULE(.kind = TPM_FAULT_LIE_SIZE, .any_cc = true, .first = 7, .last = 7));
	assert_rule(&p.rules[3],
		    RULE(.kind = TPM_FAULT_NO_RESPONSE, .any_cc = true, .first = 11, .last = 11));
	assert_rule(&p.rules[4], RULE(.kind = TPM_FAULT_SLOW, .arg = 50, .any_cc = true, .first = 1,
				      .last = TPM_FAULT_WHEN_NO_END));
	tpm_fault_plan_clear(&p);
	tpm_fault_plan_clear(&p); /* twice is harmless */
}
END_TEST

START_TEST(test_every_form_of_when_and_cc_parses)
{
	TpmFaultPlan p = plan_ok("noise/0x17b@2-4,eio/379@%3,empty@5+,garbage,"
				 "slow=0/0X162@*,random=100/0x165,seed=4294967295,truncate@1-1");

	ck_assert_uint_eq(p.n_rules, 7);
	ck_assert_uint_eq(p.seed, 4294967295u);
	assert_rule(&p.rules[0], RULE(.kind = TPM_FAULT_NOISE, .cc = 0x17b, .first = 2, .last = 4));
	assert_rule(&p.rules[1], RULE(.kind = TPM_FAULT_EIO, .cc = 379, .every = 3));
	assert_rule(&p.rules[2], RULE(.kind = TPM_FAULT_EMPTY, .any_cc = true, .first = 5,
				      .last = TPM_FAULT_WHEN_NO_END));
	assert_rule(&p.rules[3], RULE(.kind = TPM_FAULT_GARBAGE, .any_cc = true, .first = 1,
				      .last = TPM_FAULT_WHEN_NO_END));
	assert_rule(&p.rules[4], RULE(.kind = TPM_FAULT_SLOW, .cc = 0x162, .first = 1,
				      .last = TPM_FAULT_WHEN_NO_END));
	assert_rule(&p.rules[5], RULE(.kind = TPM_FAULT_RANDOM, .arg = 100, .cc = 0x165, .first = 1,
				      .last = TPM_FAULT_WHEN_NO_END));
	assert_rule(&p.rules[6],
		    RULE(.kind = TPM_FAULT_TRUNCATE, .any_cc = true, .first = 1, .last = 1));
	tpm_fault_plan_clear(&p);

	p = plan_ok("seed=0"); /* a seed alone: a wrapper that spoils nothing */
	ck_assert_uint_eq(p.n_rules, 0);
	ck_assert_uint_eq(p.seed, 0);
	tpm_fault_plan_clear(&p);

	p = plan_ok("slow=600000@18446744073709551614");
	assert_rule(&p.rules[0],
		    RULE(.kind = TPM_FAULT_SLOW, .arg = 600000, .any_cc = true,
			 .first = 18446744073709551614u, .last = 18446744073709551614u));
	tpm_fault_plan_clear(&p);
}
END_TEST

START_TEST(test_bad_rules_are_named_in_the_message)
{
	plan_bad("", "no fault rules");
	plan_bad("bogus@1", "'bogus@1'");
	plan_bad("truncate@0", "'truncate@0'");
	plan_bad("truncate@", "'truncate@'");
	plan_bad("truncate@3-2", "'truncate@3-2'");
	plan_bad("truncate@x", "'truncate@x'");
	plan_bad("truncate@+3", "'truncate@+3'");
	plan_bad("truncate@-3", "'truncate@-3'");
	plan_bad("truncate@3+4", "'truncate@3+4'");
	plan_bad("truncate@%0", "'truncate@%0'");
	plan_bad("truncate@18446744073709551616", "'truncate@18446744073709551616'");
	plan_bad("truncate@18446744073709551615", "'truncate@18446744073709551615'");
	plan_bad("truncate/zz@1", "'truncate/zz@1'");
	plan_bad("truncate/@1", "'truncate/@1'");
	plan_bad("truncate/0x100000000", "'truncate/0x100000000'");
	plan_bad("truncate@1/0x17b", "'truncate@1/0x17b'");
	plan_bad("truncate=5@1", "'truncate=5@1'");
	plan_bad("slow@1", "'slow@1'");
	plan_bad("slow=abc", "'slow=abc'");
	plan_bad("slow=600001", "'slow=600001'");
	plan_bad("slow-ms=", "'slow-ms='");
	plan_bad("slow-ms=-1", "'slow-ms=-1'");
	plan_bad("random=0", "'random=0'");
	plan_bad("random=101", "'random=101'");
	plan_bad("random", "'random'");
	plan_bad("seed=-1", "'seed=-1'");
	plan_bad("seed=4294967296", "'seed=4294967296'");
	plan_bad("truncate@1,,eio@2", "''");
	plan_bad("eio@2,", "''");
	plan_bad("TRUNCATE@1", "'TRUNCATE@1'");
	plan_bad(" truncate@1", "' truncate@1'");
	/* Every message says what is expected. */
	plan_bad("x", "KIND[/CC][@WHEN]");
}
END_TEST

START_TEST(test_too_many_rules_are_refused)
{
	g_autoptr(GString) text = g_string_new("eio@1");

	for (int i = 1; i < TPM_FAULT_MAX_RULES; i++)
		g_string_append(text, ",eio@1");
	tpm_fault_plan_clear((TpmFaultPlan[]){ plan_ok(text->str) });
	g_string_append(text, ",eio@1");
	plan_bad(text->str, "more than 64");
}
END_TEST

START_TEST(test_when_selects_the_counted_commands)
{
	TpmFaultRule one = { .first = 3, .last = 3 };
	TpmFaultRule range = { .first = 2, .last = 4 };
	TpmFaultRule from = { .first = 5, .last = TPM_FAULT_WHEN_NO_END };
	TpmFaultRule every = { .every = 3 };

	for (uint64_t n = 1; n <= 10; n++) {
		ck_assert_int_eq(tpm_fault_rule_due(&one, n), n == 3);
		ck_assert_int_eq(tpm_fault_rule_due(&range, n), n >= 2 && n <= 4);
		ck_assert_int_eq(tpm_fault_rule_due(&from, n), n >= 5);
		ck_assert_int_eq(tpm_fault_rule_due(&every, n), n % 3 == 0);
	}
	ck_assert(tpm_fault_rule_due(&from, UINT64_MAX));
}
END_TEST

START_TEST(test_kind_names_round_trip)
{
	for (int k = TPM_FAULT_TRUNCATE; k <= TPM_FAULT_EIO; k++) {
		g_autofree char *text = g_strdup_printf("%s@1", tpm_fault_kind_name(k));
		TpmFaultPlan p = plan_ok(text);

		ck_assert_int_eq(p.rules[0].kind, k);
		tpm_fault_plan_clear(&p);
	}
	ck_assert_str_eq(tpm_fault_kind_name(TPM_FAULT_RANDOM), "random");
	ck_assert_str_eq(tpm_fault_kind_name((TpmFaultKind)99), "?");
}
END_TEST

/* --- fault:RULES:SPEC --- */

START_TEST(test_fault_specs_parse_to_rules_and_inner_spec)
{
	TpmBackendSpec s;
	g_autofree char *error = NULL;

	ck_assert_int_eq(tpm_backend_spec_parse("fault:truncate@3,slow-ms=5:libtpms", &s, &error),
			 0);
	ck_assert_int_eq(s.kind, TPM_BACKEND_FAULT);
	ck_assert_str_eq(s.faults, "truncate@3,slow-ms=5");
	ck_assert_ptr_nonnull(s.inner);
	ck_assert_int_eq(s.inner->kind, TPM_BACKEND_LIBTPMS);
	ck_assert_ptr_null(s.inner->path);
	tpm_backend_spec_clear(&s);
	ck_assert_ptr_null(s.inner);
	ck_assert_ptr_null(s.faults);

	/* Colons after the rules belong to the wrapped spec. */
	ck_assert_int_eq(tpm_backend_spec_parse("fault:eio@1:swtpm:unix:/run/a:b", &s, NULL), 0);
	ck_assert_int_eq(s.inner->kind, TPM_BACKEND_SWTPM_UNIX);
	ck_assert_str_eq(s.inner->path, "/run/a:b");
	tpm_backend_spec_clear(&s);

	ck_assert_int_eq(tpm_backend_spec_parse("fault:eio@1:fault:noise@%2:libtpms:/x", &s, NULL),
			 0);
	ck_assert_int_eq(s.inner->kind, TPM_BACKEND_FAULT);
	ck_assert_str_eq(s.inner->faults, "noise@%2");
	ck_assert_int_eq(s.inner->inner->kind, TPM_BACKEND_LIBTPMS);
	ck_assert_str_eq(s.inner->inner->path, "/x");
	tpm_backend_spec_clear(&s);
}
END_TEST

static void spec_bad(const char *text, const char *expect_in_message)
{
	TpmBackendSpec s;
	g_autofree char *error = NULL;

	ck_assert_msg(tpm_backend_spec_parse(text, &s, &error) == -EINVAL, "'%s' parsed", text);
	ck_assert_msg(error && strstr(error, expect_in_message), "'%s': message '%s' lacks '%s'",
		      text, error, expect_in_message);
}

START_TEST(test_bad_fault_specs_say_why)
{
	spec_bad("fault:", "fault:RULES:SPEC");
	spec_bad("fault:truncate@3", "fault:RULES:SPEC wraps the backend SPEC");
	spec_bad("fault::libtpms", "no fault rules");
	spec_bad("fault:bogus:libtpms", "bad fault rule 'bogus'");
	spec_bad("fault:eio@1:", "the wrapped backend");
	spec_bad("fault:eio@1:nonsense", "unknown backend 'nonsense'");
	spec_bad("fault:eio@1:fault:x:libtpms", "bad fault rule 'x'");
	spec_bad("nonsense", "fault:RULES:SPEC");
}
END_TEST

/* --- the wrapper over the fake TPM --- */

static FakeTpm *fake;
static TpmBackend *be;

static void wrap(const char *rules)
{
	g_autofree char *error = NULL;

	fake = fake_tpm_new();
	ck_assert_msg(tpm_backend_fault_new(rules, fake_tpm_backend(fake), &be, &error) == 0, "%s",
		      error);
	ck_assert_str_eq(tpm_backend_name(be), "fault");
}

static void unwrap(void)
{
	g_clear_pointer(&be, tpm_backend_free); /* frees the fake too */
	fake = NULL;
}

static int get_random(uint8_t *rsp, size_t *len)
{
	return tpm_backend_transmit(be, get_random_cmd, sizeof(get_random_cmd), rsp,
				    TPM2_WIRE_BUF_MAX, len);
}

static void assert_get_random_ok(void)
{
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	size_t len = 0;

	ck_assert_int_eq(get_random(rsp, &len), 0);
	ck_assert_uint_eq(len, 10 + 2 + 8);
	ck_assert_uint_eq(tpm2_wire_load_u32(rsp + 6), 0);
}

static void assert_self_test_ok(void)
{
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	size_t len = 0;

	ck_assert_int_eq(tpm_backend_transmit(be, self_test_cmd, sizeof(self_test_cmd), rsp,
					      sizeof(rsp), &len),
			 0);
	ck_assert_uint_eq(len, 10);
}

START_TEST(test_each_fault_spoils_only_its_command)
{
	static const int expect[] = { 0, -EFAULT, -EFAULT, -EFAULT, -EFAULT, -ETIME, -EIO, 0, 0 };
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	size_t len;

	wrap("truncate/0x17b@2,lie-size/0x17b@3,garbage/0x17b@4,empty/0x17b@5,"
	     "no-response/0x17b@6,eio/0x17b@7,noise/0x17b@8");
	for (size_t i = 0; i < G_N_ELEMENTS(expect); i++) {
		int r;

		len = 0;
		r = get_random(rsp, &len);
		ck_assert_msg(r == expect[i], "GetRandom %zu: %d, expected %d", i + 1, r,
			      expect[i]);
		/* Other commands are not counted by /0x17b rules, and pass untouched. */
		assert_self_test_ok();
		if (i == 7) { /* noise: framing intact, rc and body random */
			ck_assert_uint_eq(len, 20);
			ck_assert_uint_eq(tpm2_wire_load_u16(rsp), 0x8001);
			ck_assert_uint_eq(tpm2_wire_load_u32(rsp + 2), 20);
		}
	}
	unwrap();
}
END_TEST

/* A spoilt command still ran in the TPM, except with eio. */
START_TEST(test_spoilt_commands_reach_the_tpm_but_eio_does_not)
{
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	size_t len;

	wrap("no-response@1,eio@2,garbage@3");
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(rsp, &len), -ETIME);
	ck_assert_int_eq(get_random(rsp, &len), -EIO);
	ck_assert_int_eq(get_random(rsp, &len), -EFAULT);
	assert_get_random_ok();
	fake_tpm_assert_log(fake, "GetRandom", "GetRandom", "GetRandom", NULL);
	unwrap();
}
END_TEST

/* The first due rule decides; every rule counts each command it matches. */
START_TEST(test_rules_count_independently_and_the_first_due_wins)
{
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	size_t len;

	wrap("eio@2,truncate@2-3,no-response/0x143@1");
	assert_get_random_ok();				  /* 1 */
	ck_assert_int_eq(get_random(rsp, &len), -EIO);	  /* 2: eio and truncate due */
	ck_assert_int_eq(get_random(rsp, &len), -EFAULT); /* 3: truncate */
	ck_assert_int_eq(tpm_backend_transmit(be, self_test_cmd, sizeof(self_test_cmd), rsp,
					      sizeof(rsp), &len),
			 -ETIME); /* 4, and the first SelfTest */
	assert_get_random_ok();
	assert_self_test_ok();
	unwrap();
}
END_TEST

START_TEST(test_short_responses_still_come_out_malformed)
{
	static const uint8_t six[] = { 0x80, 0x01, 0, 0, 0, 6 };
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	size_t len;

	/* A TPM that already answers with 6 bytes: lie-size and truncate keep it malformed. */
	wrap("lie-size@1,truncate@2,noise@3");
	fake_tpm_inject_response(fake, 0, 0, six, sizeof(six), 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(get_random(rsp, &len), -EFAULT);
	assert_get_random_ok();
	unwrap();
}
END_TEST

START_TEST(test_errors_of_the_wrapped_backend_pass_through)
{
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	size_t len;

	wrap("truncate@1");
	fake_tpm_inject_errno(fake, 0, 0, EPIPE, 1);
	ck_assert_int_eq(get_random(rsp, &len), -EPIPE);
	assert_get_random_ok();
	ck_assert_int_eq(be->ops->cancel(be), -EOPNOTSUPP); /* the fake cannot cancel */
	unwrap();
}
END_TEST

START_TEST(test_slow_delays_but_does_not_spoil)
{
	gint64 t0;

	wrap("slow=150/0x17b@2,slow-ms=10");
	t0 = g_get_monotonic_time();
	assert_get_random_ok();
	ck_assert_int_lt(g_get_monotonic_time() - t0, 150 * G_TIME_SPAN_MILLISECOND);
	t0 = g_get_monotonic_time();
	assert_get_random_ok();
	ck_assert_int_ge(g_get_monotonic_time() - t0, 160 * G_TIME_SPAN_MILLISECOND);
	t0 = g_get_monotonic_time();
	assert_self_test_ok();
	ck_assert_int_ge(g_get_monotonic_time() - t0, 10 * G_TIME_SPAN_MILLISECOND);
	unwrap();
}
END_TEST

/* random=P: the same seed gives the same faults; about P % of the commands. */
static unsigned int random_outcomes(const char *rules, int *out, unsigned int n)
{
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	unsigned int spoilt = 0;
	size_t len;

	wrap(rules);
	for (unsigned int i = 0; i < n; i++) {
		out[i] = get_random(rsp, &len);
		spoilt += out[i] != 0 || tpm2_wire_load_u32(rsp + 6) != 0;
	}
	unwrap();
	return spoilt;
}

START_TEST(test_random_faults_follow_the_seed)
{
	int a[400], b[400], c[400];
	unsigned int na = random_outcomes("random=25,seed=7", a, 400);
	unsigned int nb = random_outcomes("random=25,seed=7", b, 400);
	unsigned int nc = random_outcomes("random=25,seed=8", c, 400);

	ck_assert_mem_eq(a, b, sizeof(a));
	ck_assert_uint_eq(na, nb);
	ck_assert_msg(memcmp(a, c, sizeof(a)) != 0, "seeds 7 and 8 gave the same faults");
	ck_assert_msg(na > 60 && na < 140, "random=25 spoilt %u of 400", na);
	ck_assert_msg(nc > 60 && nc < 140, "random=25 spoilt %u of 400", nc);
	/* The malforming kinds turn up: EFAULT ones, no-response and eio. */
	for (size_t k = 0; k < 3; k++) {
		static const int want[] = { -EFAULT, -ETIME, -EIO };
		bool seen = false;

		for (int i = 0; i < 400; i++)
			seen |= a[i] == want[k];
		ck_assert_msg(seen, "random never gave %d", want[k]);
	}
}
END_TEST

START_TEST(test_bad_rules_leave_the_inner_backend_to_the_caller)
{
	FakeTpm *f = fake_tpm_new();
	TpmBackend *out = NULL;
	g_autofree char *error = NULL;

	ck_assert_int_eq(tpm_backend_fault_new("bogus", fake_tpm_backend(f), &out, &error),
			 -EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(error, "'bogus'"));
	tpm_backend_free(fake_tpm_backend(f));
}
END_TEST

/* --- over libtpms, from the spec text, as the daemon opens it --- */

START_TEST(test_fault_over_libtpms_from_a_spec)
{
	g_autofree char *error = NULL;
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	size_t len;

	ck_assert_msg(tpm_backend_open_spec("fault:eio@1,lie-size/0x17b@2:libtpms", &be, &error) ==
			      0,
		      "%s", error);
	ck_assert_int_eq(get_random(rsp, &len), -EIO);	  /* the first command */
	ck_assert_int_eq(get_random(rsp, &len), -EFAULT); /* the second GetRandom */
	assert_get_random_ok();
	g_clear_pointer(&be, tpm_backend_free);

	/* The wrapped backend's own failure is reported as such. */
	ck_assert_int_lt(tpm_backend_open_spec("fault:eio@1:device:/nonexistent/tpm", &be, &error),
			 0);
	ck_assert_ptr_null(be);
	ck_assert_msg(strstr(error, "/nonexistent/tpm"), "message '%s'", error);
}
END_TEST

static Suite *fault_suite(void)
{
	Suite *s = suite_create("backend-fault");
	TCase *rules = tcase_create("rules");
	TCase *spec = tcase_create("spec");
	TCase *wrapper = tcase_create("wrapper");

	tcase_add_test(rules, test_the_issue_example_parses);
	tcase_add_test(rules, test_every_form_of_when_and_cc_parses);
	tcase_add_test(rules, test_bad_rules_are_named_in_the_message);
	tcase_add_test(rules, test_too_many_rules_are_refused);
	tcase_add_test(rules, test_when_selects_the_counted_commands);
	tcase_add_test(rules, test_kind_names_round_trip);
	suite_add_tcase(s, rules);

	tcase_add_test(spec, test_fault_specs_parse_to_rules_and_inner_spec);
	tcase_add_test(spec, test_bad_fault_specs_say_why);
	suite_add_tcase(s, spec);

	tcase_add_test(wrapper, test_each_fault_spoils_only_its_command);
	tcase_add_test(wrapper, test_spoilt_commands_reach_the_tpm_but_eio_does_not);
	tcase_add_test(wrapper, test_rules_count_independently_and_the_first_due_wins);
	tcase_add_test(wrapper, test_short_responses_still_come_out_malformed);
	tcase_add_test(wrapper, test_errors_of_the_wrapped_backend_pass_through);
	tcase_add_test(wrapper, test_slow_delays_but_does_not_spoil);
	tcase_add_test(wrapper, test_random_faults_follow_the_seed);
	tcase_add_test(wrapper, test_bad_rules_leave_the_inner_backend_to_the_caller);
	tcase_add_test(wrapper, test_fault_over_libtpms_from_a_spec);
	suite_add_tcase(s, wrapper);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fault_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
