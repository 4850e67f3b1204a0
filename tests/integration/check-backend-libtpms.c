/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The libtpms backend against the real libtpms: commands, NV persistence, locking. */
#include <check.h>
#include <errno.h>
#include <glib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tcti-func.h"
#include "test-util.h"
#include "tpm-backend.h"

#define NV_INDEX 0x01500001

static char *tmpdir;

static void setup(void)
{
	tmpdir = test_tmpdir_new("libtpms");
}

static void teardown(void)
{
	test_tmpdir_remove(tmpdir);
	tmpdir = NULL;
}

/* A backend and a tss2-sys context over it, torn down together. */
typedef struct Tpm {
	TpmBackend *be;
	TSS2_TCTI_CONTEXT *tcti;
	TSS2_SYS_CONTEXT *sys;
} Tpm;

static Tpm tpm_open(const char *spec)
{
	Tpm t = { NULL, NULL, NULL };
	g_autofree char *error = NULL;
	int r = tpm_backend_open_spec(spec, &t.be, &error);

	ck_assert_msg(r == 0, "open %s: %s", spec, error ? error : "?");
	t.tcti = tcti_func_new_backend(t.be);
	t.sys = test_sys_new(t.tcti);
	return t;
}

static void tpm_close(Tpm *t)
{
	test_sys_free(t->sys);
	tcti_func_free(t->tcti);
	tpm_backend_free(t->be);
}

static char *dir_spec(void)
{
	return g_strdup_printf("libtpms:%s/state", tmpdir);
}

START_TEST(test_get_random_and_ecc_primary_on_volatile_tpm)
{
	Tpm t = tpm_open("libtpms");
	uint8_t a[32], b[32];
	TPM2_HANDLE h = 0;

	ck_assert_str_eq(tpm_backend_name(t.be), "libtpms");
	ck_assert_uint_eq(test_get_random(t.sys, 32, a), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(test_get_random(t.sys, 32, b), TPM2_RC_SUCCESS);
	ck_assert_mem_ne(a, b, sizeof(a));
	ck_assert_uint_eq(test_create_primary_ecc(t.sys, &h), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(h & 0xFF000000u, 0x80000000u);
	ck_assert_uint_eq(Tss2_Sys_FlushContext(t.sys, h), TPM2_RC_SUCCESS);
	tpm_close(&t);
}
END_TEST

START_TEST(test_raw_transmit_returns_checked_response)
{
	static const uint8_t gr32[] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 32 };
	g_autoptr(TpmBackend) be = NULL;
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	size_t len = 0;

	ck_assert_int_eq(tpm_backend_libtpms_new(NULL, &be, NULL), 0);
	ck_assert_int_eq(tpm_backend_transmit(be, gr32, sizeof(gr32), rsp, sizeof(rsp), &len), 0);
	ck_assert_uint_eq(len, 44);
	ck_assert_mem_eq(rsp, ((uint8_t[]){ 0x80, 0x01, 0, 0, 0, 44, 0, 0, 0, 0, 0, 32 }), 12);
	/* A command shorter than a header reaches the TPM, which refuses it itself. */
	ck_assert_int_eq(tpm_backend_transmit(be, gr32, 6, rsp, sizeof(rsp), &len), 0);
	ck_assert_uint_eq(len, 10);
	ck_assert_uint_ne(tpm2_wire_load_u32(rsp + 6), TPM2_RC_SUCCESS);
	ck_assert_int_eq(tpm_backend_transmit(be, gr32, 0, rsp, sizeof(rsp), &len), -EINVAL);
}
END_TEST

START_TEST(test_nv_data_survives_destroy_and_recreate_on_state_dir)
{
	g_autofree char *spec = dir_spec();
	const uint8_t data[16] = "persisted bytes";
	uint8_t back[16] = { 0 };
	Tpm t = tpm_open(spec);

	ck_assert_uint_eq(test_nv_define(t.sys, NV_INDEX, sizeof(data)), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(test_nv_write(t.sys, NV_INDEX, data, sizeof(data)), TPM2_RC_SUCCESS);
	tpm_close(&t);

	t = tpm_open(spec);
	ck_assert_uint_eq(test_nv_read(t.sys, NV_INDEX, sizeof(back), back), TPM2_RC_SUCCESS);
	ck_assert_mem_eq(back, data, sizeof(data));
	tpm_close(&t);
}
END_TEST

START_TEST(test_volatile_tpm_forgets_nv_and_writes_no_files)
{
	g_autofree char *cwd = g_get_current_dir();
	g_autofree char *nvchip = g_build_filename(tmpdir, "NVChip", NULL);
	const uint8_t data[4] = { 1, 2, 3, 4 };
	uint8_t back[4];
	GDir *d;
	Tpm t;

	ck_assert_int_eq(chdir(tmpdir), 0);
	t = tpm_open("libtpms");
	ck_assert_uint_eq(test_nv_define(t.sys, NV_INDEX, sizeof(data)), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(test_nv_write(t.sys, NV_INDEX, data, sizeof(data)), TPM2_RC_SUCCESS);
	tpm_close(&t);

	t = tpm_open("libtpms");
	ck_assert_uint_eq(test_nv_read(t.sys, NV_INDEX, sizeof(back), back),
			  TPM2_RC_HANDLE | TPM2_RC_2);
	tpm_close(&t);

	/* Nothing went to ./NVChip or anywhere else in the working directory. */
	d = g_dir_open(tmpdir, 0, NULL);
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_null(g_dir_read_name(d));
	g_dir_close(d);
	ck_assert(!g_file_test(nvchip, G_FILE_TEST_EXISTS));
	ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

/* PCR 0 keeps its value across TPM2_Shutdown(STATE) + TPM2_Startup(STATE) only. */
START_TEST(test_orderly_stop_resumes_state_and_crash_clears_it)
{
	g_autofree char *spec = dir_spec();
	uint8_t zero[32] = { 0 }, before[32], after[32];
	Tpm t = tpm_open(spec);
	pid_t pid;

	ck_assert_uint_eq(test_pcr_extend_sha256(t.sys, 0, 0xab), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(test_pcr_read_sha256(t.sys, 0, before), TPM2_RC_SUCCESS);
	ck_assert_mem_ne(before, zero, 32);
	tpm_close(&t); /* orderly */

	t = tpm_open(spec);
	ck_assert_uint_eq(test_pcr_read_sha256(t.sys, 0, after), TPM2_RC_SUCCESS);
	ck_assert_mem_eq(after, before, 32);
	tpm_close(&t);

	/* A process that dies without the orderly stop: the next start is a TPM reset. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		Tpm c = tpm_open(spec);

		_exit(test_pcr_extend_sha256(c.sys, 0, 0xcd) == TPM2_RC_SUCCESS ? 0 : 1);
	}
	ck_assert_int_eq(test_waitpid_timeout(pid, 30000), 0);
	t = tpm_open(spec);
	ck_assert_uint_eq(test_pcr_read_sha256(t.sys, 0, after), TPM2_RC_SUCCESS);
	ck_assert_mem_eq(after, zero, 32);
	tpm_close(&t);
}
END_TEST

START_TEST(test_second_libtpms_in_one_process_is_refused)
{
	g_autoptr(TpmBackend) a = NULL;
	TpmBackend *b = NULL;
	g_autofree char *error = NULL;

	ck_assert_int_eq(tpm_backend_libtpms_new(NULL, &a, NULL), 0);
	ck_assert_int_eq(tpm_backend_libtpms_new(NULL, &b, &error), -EBUSY);
	ck_assert_ptr_null(b);
	ck_assert_ptr_nonnull(strstr(error, "already in use"));
	/* Once the first is gone, a new one may start. */
	g_clear_pointer(&a, tpm_backend_free);
	ck_assert_int_eq(tpm_backend_libtpms_new(NULL, &a, NULL), 0);
}
END_TEST

START_TEST(test_two_processes_on_one_state_dir_are_refused)
{
	g_autofree char *dir = g_strdup_printf("%s/state", tmpdir);
	g_autofree char *spec = dir_spec();
	g_autofree char *error = NULL;
	g_autofree char *pidstr = NULL;
	TpmBackend *be = NULL;
	int ready[2], hold[2];
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(hold), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		TpmBackend *mine = NULL;

		close(ready[0]);
		close(hold[1]);
		if (tpm_backend_open_spec(spec, &mine, NULL) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1 || read(hold[0], &c, 1) < 0)
			_exit(2);
		tpm_backend_free(mine);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);

	ck_assert_int_eq(tpm_backend_open_spec(spec, &be, &error), -EBUSY);
	ck_assert_ptr_null(be);
	pidstr = g_strdup_printf("pid %d", (int)pid);
	ck_assert_msg(strstr(error, dir) && strstr(error, pidstr), "message: %s", error);

	close(hold[1]); /* let the holder stop; then the directory is free */
	ck_assert_int_eq(test_waitpid_timeout(pid, 30000), 0);
	ck_assert_int_eq(tpm_backend_open_spec(spec, &be, NULL), 0);
	tpm_backend_free(be);
	close(ready[0]);
}
END_TEST

/*
 * A child writes an NV counter in a loop, reporting each value the TPM acknowledged; it
 * is SIGKILLed at a random instant, most likely inside a state write.  The state left
 * behind must load, and hold the last acknowledged value or the one in flight.
 */
static void run_killed_writer(const char *spec, unsigned int kill_after_us)
{
	uint32_t acked = 0, got = 0, v;
	int report[2];
	pid_t pid;
	Tpm t;

	ck_assert_int_eq(pipe(report), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		Tpm c = tpm_open(spec);

		close(report[0]);
		if (test_nv_read(c.sys, NV_INDEX, 4, (uint8_t *)&v) != TPM2_RC_SUCCESS)
			_exit(1);
		for (;;) {
			v++;
			if (test_nv_write(c.sys, NV_INDEX, (uint8_t *)&v, 4) != TPM2_RC_SUCCESS ||
			    write(report[1], &v, 4) != 4)
				_exit(1);
		}
	}
	close(report[1]);
	g_usleep(kill_after_us);
	kill(pid, SIGKILL);
	ck_assert_int_ne(test_waitpid_timeout(pid, 30000), -1);
	while (read(report[0], &v, 4) == 4)
		acked = v;
	close(report[0]);

	t = tpm_open(spec);
	ck_assert_uint_eq(test_nv_read(t.sys, NV_INDEX, 4, (uint8_t *)&got), TPM2_RC_SUCCESS);
	g_debug("killed after %u us: %u writes acknowledged", kill_after_us, acked);
	ck_assert_msg(got == acked || got == acked + 1, "NV holds %u, last acknowledged %u", got,
		      acked);
	tpm_close(&t);
}

START_TEST(test_state_write_killed_at_random_instants_stays_loadable)
{
	g_autofree char *spec = dir_spec();
	uint32_t zero = 0;
	Tpm t = tpm_open(spec);

	ck_assert_uint_eq(test_nv_define(t.sys, NV_INDEX, 4), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(test_nv_write(t.sys, NV_INDEX, (uint8_t *)&zero, 4), TPM2_RC_SUCCESS);
	tpm_close(&t);

	for (int i = 0; i < 8; i++)
		run_killed_writer(spec, (unsigned int)g_random_int_range(20000, 150000));
}
END_TEST

static Suite *libtpms_suite(void)
{
	Suite *s = suite_create("backend-libtpms");
	TCase *tc = tcase_create("libtpms");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_get_random_and_ecc_primary_on_volatile_tpm);
	tcase_add_test(tc, test_raw_transmit_returns_checked_response);
	tcase_add_test(tc, test_nv_data_survives_destroy_and_recreate_on_state_dir);
	tcase_add_test(tc, test_volatile_tpm_forgets_nv_and_writes_no_files);
	tcase_add_test(tc, test_orderly_stop_resumes_state_and_crash_clears_it);
	tcase_add_test(tc, test_second_libtpms_in_one_process_is_refused);
	tcase_add_test(tc, test_two_processes_on_one_state_dir_are_refused);
	tcase_add_test(tc, test_state_write_killed_at_random_instants_stays_loadable);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(libtpms_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
