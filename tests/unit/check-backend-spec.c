/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The --backend SPEC parser: every form, and clear errors for the rest. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tpm-backend.h"

static TpmBackendSpec parse_ok(const char *text)
{
	TpmBackendSpec spec;
	g_autofree char *error = NULL;

	ck_assert_msg(tpm_backend_spec_parse(text, &spec, &error) == 0, "%s: %s", text, error);
	ck_assert_ptr_null(error);
	ck_assert_uint_eq(spec.timeout_ms, (unsigned int)TPM_BACKEND_DEFAULT_TIMEOUT_MS);
	return spec;
}

START_TEST(test_valid_specs_parse_to_their_parts)
{
	TpmBackendSpec s = parse_ok("libtpms");

	ck_assert_int_eq(s.kind, TPM_BACKEND_LIBTPMS);
	ck_assert_ptr_null(s.path);
	tpm_backend_spec_clear(&s);

	s = parse_ok("libtpms:/var/lib/tpm state");
	ck_assert_int_eq(s.kind, TPM_BACKEND_LIBTPMS);
	ck_assert_str_eq(s.path, "/var/lib/tpm state");
	tpm_backend_spec_clear(&s);

	s = parse_ok("device:/dev/tpm0");
	ck_assert_int_eq(s.kind, TPM_BACKEND_DEVICE);
	ck_assert_str_eq(s.path, "/dev/tpm0");
	tpm_backend_spec_clear(&s);

	s = parse_ok("swtpm:unix:/run/swtpm/data:sock");
	ck_assert_int_eq(s.kind, TPM_BACKEND_SWTPM_UNIX);
	ck_assert_str_eq(s.path, "/run/swtpm/data:sock");
	tpm_backend_spec_clear(&s);

	s = parse_ok("swtpm:localhost:2321");
	ck_assert_int_eq(s.kind, TPM_BACKEND_SWTPM_TCP);
	ck_assert_str_eq(s.host, "localhost");
	ck_assert_str_eq(s.port, "2321");
	ck_assert_ptr_null(s.path);
	tpm_backend_spec_clear(&s);

	s = parse_ok("swtpm:[::1]:65535");
	ck_assert_int_eq(s.kind, TPM_BACKEND_SWTPM_TCP);
	ck_assert_str_eq(s.host, "::1");
	ck_assert_str_eq(s.port, "65535");
	tpm_backend_spec_clear(&s);
	tpm_backend_spec_clear(&s); /* clearing twice is harmless */
}
END_TEST

static void parse_bad(const char *text, const char *expect_in_message)
{
	TpmBackendSpec spec = { .path = NULL };
	g_autofree char *error = NULL;

	ck_assert_int_eq(tpm_backend_spec_parse(text, &spec, &error), -EINVAL);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strstr(error, expect_in_message), "'%s' gave '%s'", text ? text : "(null)",
		      error);
	ck_assert_ptr_null(spec.path); /* *ret untouched on error */
	/* The message is optional. */
	ck_assert_int_eq(tpm_backend_spec_parse(text, &spec, NULL), -EINVAL);
}

START_TEST(test_malformed_specs_give_clear_errors)
{
	parse_bad(NULL, "no backend given");
	parse_bad("", "unknown backend ''");
	parse_bad("tpm0", "unknown backend 'tpm0': expected libtpms");
	parse_bad("libtpmsx", "unknown backend");
	parse_bad("LIBTPMS", "unknown backend");
	parse_bad("libtpms:", "empty path");
	parse_bad("device:", "empty path");
	parse_bad("swtpm:unix:", "empty path");
	parse_bad("swtpm:", "swtpm needs unix:PATH or HOST:PORT");
	parse_bad("swtpm:localhost", "swtpm needs unix:PATH or HOST:PORT");
	parse_bad("swtpm::2321", "bad host");
	parse_bad("swtpm:::1:2321", "bad host");
	parse_bad("swtpm:localhost:", "port must be a number");
	parse_bad("swtpm:localhost:0", "port must be a number");
	parse_bad("swtpm:localhost:65536", "port must be a number");
	parse_bad("swtpm:localhost:123456", "port must be a number");
	parse_bad("swtpm:localhost:+12", "port must be a number");
	parse_bad("swtpm:localhost:12x", "port must be a number");
	parse_bad("swtpm:[::1:2321", "unterminated");
	parse_bad("swtpm:[::1]2321", "unterminated");
	parse_bad("swtpm:[]:2321", "bad host");
}
END_TEST

START_TEST(test_open_reports_parse_errors)
{
	TpmBackend *be = NULL;
	g_autofree char *error = NULL;

	ck_assert_int_eq(tpm_backend_open_spec("bogus:x", &be, &error), -EINVAL);
	ck_assert_ptr_null(be);
	ck_assert_ptr_nonnull(strstr(error, "unknown backend 'bogus:x'"));
}
END_TEST

static Suite *spec_suite(void)
{
	Suite *s = suite_create("backend-spec");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_valid_specs_parse_to_their_parts);
	tcase_add_test(tc, test_malformed_specs_give_clear_errors);
	tcase_add_test(tc, test_open_reports_parse_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(spec_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
