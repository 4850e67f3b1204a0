/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The "device" backend against a pseudo-terminal standing in for /dev/tpm0: the backend
 * opens the slave by name, a responder thread reads whole commands from the master and
 * answers them as each test scripts it (late, in pieces, cut, too long, not at all).
 *
 * A raw pty with VMIN 1 says EAGAIN when it has nothing to read, so it can model a device
 * that delivers a response in pieces.  With VMIN 0 a read with nothing pending returns 0,
 * as the kernel's TPM device does (tpm-dev-common.c: tpm_common_read).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "test-util.h"
#include "tpm-backend.h"

#define MAX_STEPS	  4
#define STEP_RSP_MAX	  8192
#define RESPONDER_IDLE_MS 5000 /* the responder gives up waiting for a command */
#define SLACK_MS	  2000 /* scheduling (and valgrind) on top of a time-out */
#define NOBODY		  65534

/* What the test double does with one command it reads. */
typedef struct Step {
	uint8_t rsp[STEP_RSP_MAX]; /* the answer, sent as it is */
	size_t rsp_len;		   /* 0: answer nothing */
	unsigned int delay_ms;	   /* before the answer */
	size_t split;		   /* > 0: send this many bytes, pause, then the rest */
	unsigned int pause_ms;
} Step;

typedef struct PtyTpm {
	int master;
	int slave; /* kept open so that its termios stick */
	int stop[2];
	char path[64];
	Step steps[MAX_STEPS];
	size_t nsteps;
	GThread *thread;
	GMutex lock;
	GCond cond;
	size_t nanswered; /* under @lock */
	bool write_failed;
	/* What the double read; for the test once the thread is joined. */
	uint8_t cmd[MAX_STEPS][TPM2_WIRE_BUF_MAX];
	size_t cmd_len[MAX_STEPS];
	size_t ncmds;
} PtyTpm;

static PtyTpm pty;
static TpmBackend *be;

/* TPM2_GetRandom(8) and TPM2_GetRandom(4). */
static const uint8_t cmd_a[] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x0c,
				 0x00, 0x00, 0x01, 0x7b, 0x00, 0x08 };
static const uint8_t cmd_b[] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x0c,
				 0x00, 0x00, 0x01, 0x7b, 0x00, 0x04 };
/* Their answers: a TPM2B_DIGEST of 8 and of 4 bytes. */
static const uint8_t rsp_a[] = {
	0x80, 0x01, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, /* size 20, success */
	0x00, 0x08, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
};
static const uint8_t rsp_b[] = {
	0x80, 0x01, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, /* size 16, success */
	0x00, 0x04, 0xa1, 0xb2, 0xc3, 0xd4,
};

/* A response of @len bytes whose header claims @size; the body counts up from 10. */
static void make_rsp(uint8_t *buf, size_t len, uint32_t size)
{
	buf[0] = 0x80;
	buf[1] = 0x01;
	tpm2_wire_store_u32(buf + 2, size);
	tpm2_wire_store_u32(buf + 6, TPM2_RC_SUCCESS);
	for (size_t i = TPM2_WIRE_HEADER_SIZE; i < len; i++)
		buf[i] = (uint8_t)i;
}

static gint64 now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/* Open file descriptors of this process: a reopen or a destroy must not leak one. */
static unsigned int count_fds(void)
{
	GDir *d = g_dir_open("/proc/self/fd", 0, NULL);
	unsigned int n = 0;

	ck_assert_ptr_nonnull(d);
	while (g_dir_read_name(d))
		n++;
	g_dir_close(d);
	return n;
}

/* --- the test double --- */

/* Exactly @n bytes from the master; false on EOF, an error, a stop or a long silence. */
static bool pty_read_full(uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd[2] = { { .fd = pty.master, .events = POLLIN },
					 { .fd = pty.stop[0], .events = POLLIN } };
		ssize_t k;

		if (poll(pfd, 2, RESPONDER_IDLE_MS) <= 0 || pfd[1].revents)
			return false;
		k = read(pty.master, buf + got, n - got);
		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	return true;
}

/* One whole command, by the size in its header. */
static bool pty_read_command(size_t i)
{
	uint8_t *cmd = pty.cmd[i];
	uint32_t size;

	if (!pty_read_full(cmd, TPM2_WIRE_HEADER_SIZE))
		return false;
	size = tpm2_wire_load_u32(cmd + 2);
	if (size < TPM2_WIRE_HEADER_SIZE || size > sizeof(pty.cmd[i]))
		return false;
	if (!pty_read_full(cmd + TPM2_WIRE_HEADER_SIZE, size - TPM2_WIRE_HEADER_SIZE))
		return false;
	pty.cmd_len[i] = size;
	return true;
}

static void pty_write_all(const uint8_t *buf, size_t n)
{
	while (n > 0) {
		ssize_t k = write(pty.master, buf, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			pty.write_failed = true;
			return;
		}
		buf += k;
		n -= (size_t)k;
	}
}

static void pty_answer(const Step *s)
{
	size_t first = s->split ? s->split : s->rsp_len;

	g_usleep(s->delay_ms * 1000UL);
	pty_write_all(s->rsp, first);
	if (first < s->rsp_len) {
		g_usleep(s->pause_ms * 1000UL);
		pty_write_all(s->rsp + first, s->rsp_len - first);
	}
}

static gpointer pty_responder(gpointer data)
{
	(void)data;
	for (size_t i = 0; i < pty.nsteps; i++) {
		if (!pty_read_command(i))
			break;
		pty.ncmds = i + 1;
		pty_answer(&pty.steps[i]);
		g_mutex_lock(&pty.lock);
		pty.nanswered = i + 1;
		g_cond_broadcast(&pty.cond);
		g_mutex_unlock(&pty.lock);
	}
	return NULL;
}

/* Script the answer to the next command; @rsp_len 0 answers nothing. */
static void pty_add_step(const uint8_t *rsp, size_t rsp_len, unsigned int delay_ms, size_t split,
			 unsigned int pause_ms)
{
	Step *s;

	ck_assert_uint_lt(pty.nsteps, MAX_STEPS);
	s = &pty.steps[pty.nsteps++];
	ck_assert_uint_le(rsp_len, sizeof(s->rsp));
	memcpy(s->rsp, rsp, rsp_len);
	s->rsp_len = rsp_len;
	s->delay_ms = delay_ms;
	s->split = split;
	s->pause_ms = pause_ms;
}

static void pty_add_answer(const uint8_t *rsp, size_t rsp_len)
{
	pty_add_step(rsp, rsp_len, 0, 0, 0);
}

static void pty_start(void)
{
	pty.thread = g_thread_new("pty-tpm", pty_responder, NULL);
}

/* Wait for the responder to be done with the script, then check it went as planned. */
static void pty_finish(void)
{
	g_thread_join(g_steal_pointer(&pty.thread));
	ck_assert_msg(!pty.write_failed, "the test double could not write its answer");
	ck_assert_uint_eq(pty.ncmds, pty.nsteps);
}

static void pty_wait_answered(size_t n)
{
	gint64 end = g_get_monotonic_time() + RESPONDER_IDLE_MS * G_TIME_SPAN_MILLISECOND;
	bool done;

	g_mutex_lock(&pty.lock);
	while (pty.nanswered < n)
		if (!g_cond_wait_until(&pty.cond, &pty.lock, end))
			break;
	done = pty.nanswered >= n;
	g_mutex_unlock(&pty.lock);
	ck_assert_msg(done, "the test double did not answer command %zu", n);
}

/* VMIN 0, VTIME 0: a read with nothing to give returns 0, as the kernel's TPM device does. */
static void pty_set_kernel_like(void)
{
	struct termios t;

	ck_assert_int_eq(tcgetattr(pty.slave, &t), 0);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	ck_assert_int_eq(tcsetattr(pty.slave, TCSANOW, &t), 0);
}

static void setup(void)
{
	struct termios t;

	memset(&pty, 0, sizeof(pty));
	g_mutex_init(&pty.lock);
	g_cond_init(&pty.cond);
	ck_assert_int_eq(pipe2(pty.stop, O_CLOEXEC), 0);
	pty.master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(pty.master, 0);
	ck_assert_int_eq(grantpt(pty.master), 0);
	ck_assert_int_eq(unlockpt(pty.master), 0);
	ck_assert_int_eq(ptsname_r(pty.master, pty.path, sizeof(pty.path)), 0);
	pty.slave = open(pty.path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(pty.slave, 0);
	ck_assert_int_eq(tcgetattr(pty.slave, &t), 0);
	cfmakeraw(&t);
	ck_assert_int_eq(tcsetattr(pty.slave, TCSANOW, &t), 0);
}

static void teardown(void)
{
	g_clear_pointer(&be, tpm_backend_free);
	if (pty.thread) {
		ck_assert_int_eq(write(pty.stop[1], "x", 1), 1);
		g_thread_join(g_steal_pointer(&pty.thread));
	}
	close(pty.slave);
	close(pty.master);
	close(pty.stop[0]);
	close(pty.stop[1]);
	g_cond_clear(&pty.cond);
	g_mutex_clear(&pty.lock);
}

static void open_backend(unsigned int timeout_ms)
{
	g_autofree char *error = NULL;
	int r = tpm_backend_device_new(pty.path, timeout_ms, &be, &error);

	ck_assert_msg(r == 0, "tpm_backend_device_new: %d %s", r, error ? error : "");
	ck_assert_str_eq(tpm_backend_name(be), "device");
}

/* Transmit @cmd and check that the exact bytes of @want come back. */
static void transmit_expect(const uint8_t *cmd, size_t cmd_len, const uint8_t *want,
			    size_t want_len)
{
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	size_t len = 0;

	ck_assert_int_eq(tpm_backend_transmit(be, cmd, cmd_len, rsp, sizeof(rsp), &len), 0);
	ck_assert_uint_eq(len, want_len);
	ck_assert_mem_eq(rsp, want, want_len);
}

/* Transmit @cmd, expect the error @want, and check that *ret_rsp_len stayed untouched. */
static void transmit_expect_error(const uint8_t *cmd, size_t cmd_len, int want)
{
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	size_t len = 777;

	ck_assert_int_eq(tpm_backend_transmit(be, cmd, cmd_len, rsp, sizeof(rsp), &len), want);
	ck_assert_uint_eq(len, 777);
}

static void check_received(size_t i, const uint8_t *cmd, size_t cmd_len)
{
	ck_assert_uint_eq(pty.cmd_len[i], cmd_len);
	ck_assert_mem_eq(pty.cmd[i], cmd, cmd_len);
}

/* --- round trips --- */

START_TEST(test_command_reaches_the_device_whole_and_the_response_comes_back_unchanged)
{
	unsigned int nfds = count_fds();

	open_backend(2000);
	pty_add_answer(rsp_a, sizeof(rsp_a));
	pty_start();

	transmit_expect(cmd_a, sizeof(cmd_a), rsp_a, sizeof(rsp_a));
	pty_finish();
	check_received(0, cmd_a, sizeof(cmd_a));
	g_clear_pointer(&be, tpm_backend_free);
	ck_assert_uint_eq(count_fds(), nfds);
}
END_TEST

START_TEST(test_device_that_reads_0_when_idle_answers_commands_in_turn)
{
	pty_set_kernel_like();
	open_backend(2000);
	pty_add_answer(rsp_a, sizeof(rsp_a));
	pty_add_step(rsp_b, sizeof(rsp_b), 100, 0, 0);
	pty_start();

	transmit_expect(cmd_a, sizeof(cmd_a), rsp_a, sizeof(rsp_a));
	transmit_expect(cmd_b, sizeof(cmd_b), rsp_b, sizeof(rsp_b));
	pty_finish();
	check_received(0, cmd_a, sizeof(cmd_a));
	check_received(1, cmd_b, sizeof(cmd_b));
}
END_TEST

START_TEST(test_response_in_two_pieces_header_then_body_is_put_together)
{
	open_backend(2000);
	pty_add_step(rsp_a, sizeof(rsp_a), 0, TPM2_WIRE_HEADER_SIZE, 150);
	pty_start();

	transmit_expect(cmd_a, sizeof(cmd_a), rsp_a, sizeof(rsp_a));
	pty_finish();
}
END_TEST

START_TEST(test_response_cut_inside_the_header_is_put_together)
{
	open_backend(2000);
	pty_add_step(rsp_a, sizeof(rsp_a), 0, 3, 150);
	pty_start();

	transmit_expect(cmd_a, sizeof(cmd_a), rsp_a, sizeof(rsp_a));
	pty_finish();
}
END_TEST

/* --- malformed responses --- */

/* The backend waits for the bytes the header promises, but never past the time-out. */
START_TEST(test_header_claiming_more_than_sent_gives_etime_not_a_hang)
{
	uint8_t lying[20];
	gint64 start;

	make_rsp(lying, sizeof(lying), 30);
	open_backend(300);
	pty_add_answer(lying, sizeof(lying));
	pty_add_answer(rsp_b, sizeof(rsp_b));
	pty_start();

	start = now_ms();
	transmit_expect_error(cmd_a, sizeof(cmd_a), -ETIME);
	ck_assert_int_ge(now_ms() - start, 290);
	ck_assert_int_le(now_ms() - start, 300 + SLACK_MS);

	transmit_expect(cmd_b, sizeof(cmd_b), rsp_b, sizeof(rsp_b));
	pty_finish();
	check_received(1, cmd_b, sizeof(cmd_b));
}
END_TEST

START_TEST(test_header_claiming_less_than_sent_gives_efault)
{
	uint8_t lying[20];

	make_rsp(lying, sizeof(lying), 12);
	open_backend(2000);
	pty_add_answer(lying, sizeof(lying));
	pty_add_answer(rsp_b, sizeof(rsp_b));
	pty_start();

	transmit_expect_error(cmd_a, sizeof(cmd_a), -EFAULT);
	transmit_expect(cmd_b, sizeof(cmd_b), rsp_b, sizeof(rsp_b));
	pty_finish();
}
END_TEST

START_TEST(test_response_over_4096_bytes_gives_efault_and_no_overflow)
{
	static uint8_t big[TPM2_WIRE_BUF_MAX + 904];
	uint8_t rsp[TPM2_WIRE_BUF_MAX + 64];
	size_t len = 777;

	make_rsp(big, sizeof(big), sizeof(big));
	open_backend(2000);
	pty_add_answer(big, sizeof(big));
	pty_add_answer(rsp_b, sizeof(rsp_b));
	pty_start();

	memset(rsp, 0x5a, sizeof(rsp));
	ck_assert_int_eq(
		tpm_backend_transmit(be, cmd_a, sizeof(cmd_a), rsp, TPM2_WIRE_BUF_MAX, &len),
		-EFAULT);
	ck_assert_uint_eq(len, 777);
	for (size_t i = TPM2_WIRE_BUF_MAX; i < sizeof(rsp); i++)
		ck_assert_msg(rsp[i] == 0x5a, "byte %zu past rsp_cap was written", i);

	/* The 904 bytes left over must not become the next command's answer. */
	pty_wait_answered(1);
	transmit_expect(cmd_b, sizeof(cmd_b), rsp_b, sizeof(rsp_b));
	pty_finish();
}
END_TEST

/* A device that reads 0 when it has nothing more ends a response at once, even a cut one. */
START_TEST(test_response_shorter_than_a_header_gives_efault)
{
	static const uint8_t cut[] = { 0x80, 0x01, 0, 0, 0, 6 };
	gint64 start;

	pty_set_kernel_like();
	open_backend(5000);
	pty_add_answer(cut, sizeof(cut));
	pty_add_answer(rsp_b, sizeof(rsp_b));
	pty_start();

	start = now_ms();
	transmit_expect_error(cmd_a, sizeof(cmd_a), -EFAULT);
	ck_assert_int_lt(now_ms() - start, SLACK_MS);
	transmit_expect(cmd_b, sizeof(cmd_b), rsp_b, sizeof(rsp_b));
	pty_finish();
}
END_TEST

/* --- time-out --- */

START_TEST(test_no_response_gives_etime_and_the_late_answer_is_not_taken_for_the_next)
{
	unsigned int nfds;
	gint64 start;

	open_backend(300);
	pty_add_step(rsp_a, sizeof(rsp_a), 700, 0, 0); /* arrives after the time-out */
	pty_add_answer(rsp_b, sizeof(rsp_b));
	pty_start();
	nfds = count_fds();

	start = now_ms();
	transmit_expect_error(cmd_a, sizeof(cmd_a), -ETIME);
	ck_assert_int_ge(now_ms() - start, 290);
	ck_assert_int_le(now_ms() - start, 300 + SLACK_MS);

	pty_wait_answered(1); /* the stale answer now sits in the device */
	transmit_expect(cmd_b, sizeof(cmd_b), rsp_b, sizeof(rsp_b));
	ck_assert_uint_eq(count_fds(), nfds); /* reopened, not opened once more */
	pty_finish();
	check_received(0, cmd_a, sizeof(cmd_a));
	check_received(1, cmd_b, sizeof(cmd_b));
}
END_TEST

/* --- open --- */

START_TEST(test_open_of_a_missing_path_fails_naming_the_path)
{
	g_autofree char *path = g_strdup_printf("%s.does-not-exist", pty.path);
	g_autofree char *error = NULL;
	TpmBackend sentinel = { .ops = NULL };
	TpmBackend *ret = &sentinel;

	ck_assert_int_eq(tpm_backend_device_new(path, 0, &ret, &error), -ENOENT);
	ck_assert_ptr_eq(ret, &sentinel);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strstr(error, path) && strstr(error, g_strerror(ENOENT)), "message: %s",
		      error);
	ck_assert_int_eq(tpm_backend_device_new(path, 0, &ret, NULL), -ENOENT);
	ck_assert_ptr_eq(ret, &sentinel);
}
END_TEST

typedef struct BusyReport {
	int setup_errno; /* dropping privileges failed */
	int r;
	char error[512];
} BusyReport;

/* In the child: drop to nobody, whom TIOCEXCL keeps out, and try to open the device. */
G_GNUC_NORETURN static void busy_child(int fd)
{
	BusyReport rep = { 0 };
	g_autofree char *error = NULL;
	TpmBackend *ret = NULL;

	if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		rep.setup_errno = errno;
	else if (geteuid() != NOBODY)
		rep.setup_errno = EPERM;
	if (!rep.setup_errno) {
		rep.r = tpm_backend_device_new(pty.path, 1000, &ret, &error);
		g_strlcpy(rep.error, error ? error : "", sizeof(rep.error));
		tpm_backend_free(rep.r == 0 ? ret : NULL);
	}
	_exit(write(fd, &rep, sizeof(rep)) == sizeof(rep) ? 0 : 1);
}

START_TEST(test_open_of_a_device_held_exclusively_is_ebusy_naming_the_path)
{
	BusyReport rep = { 0 };
	int fds[2];
	pid_t pid;

	ck_assert_int_eq(ioctl(pty.slave, TIOCEXCL), 0);
	ck_assert_int_eq(chmod(pty.path, 0666), 0);
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		busy_child(fds[1]);
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &rep, sizeof(rep)), sizeof(rep));
	close(fds[0]);
	ck_assert_int_eq(test_waitpid_timeout(pid, 10000), 0);

	ck_assert_msg(rep.setup_errno == 0, "cannot drop to uid %d: %s", NOBODY,
		      g_strerror(rep.setup_errno));
	ck_assert_int_eq(rep.r, -EBUSY);
	ck_assert_msg(strstr(rep.error, pty.path) && strstr(rep.error, "held by another process"),
		      "message: %s", rep.error);
}
END_TEST

static Suite *backend_device_suite(void)
{
	Suite *s = suite_create("backend-device");
	TCase *tc_rt = tcase_create("round-trip");
	TCase *tc_bad = tcase_create("malformed-response");
	TCase *tc_time = tcase_create("time-out");
	TCase *tc_open = tcase_create("open");

	tcase_add_checked_fixture(tc_rt, setup, teardown);
	tcase_add_test(tc_rt,
		       test_command_reaches_the_device_whole_and_the_response_comes_back_unchanged);
	tcase_add_test(tc_rt, test_device_that_reads_0_when_idle_answers_commands_in_turn);
	tcase_add_test(tc_rt, test_response_in_two_pieces_header_then_body_is_put_together);
	tcase_add_test(tc_rt, test_response_cut_inside_the_header_is_put_together);
	suite_add_tcase(s, tc_rt);

	tcase_add_checked_fixture(tc_bad, setup, teardown);
	tcase_add_test(tc_bad, test_header_claiming_more_than_sent_gives_etime_not_a_hang);
	tcase_add_test(tc_bad, test_header_claiming_less_than_sent_gives_efault);
	tcase_add_test(tc_bad, test_response_over_4096_bytes_gives_efault_and_no_overflow);
	tcase_add_test(tc_bad, test_response_shorter_than_a_header_gives_efault);
	suite_add_tcase(s, tc_bad);

	tcase_add_checked_fixture(tc_time, setup, teardown);
	tcase_add_test(tc_time,
		       test_no_response_gives_etime_and_the_late_answer_is_not_taken_for_the_next);
	suite_add_tcase(s, tc_time);

	tcase_add_checked_fixture(tc_open, setup, teardown);
	tcase_add_test(tc_open, test_open_of_a_missing_path_fails_naming_the_path);
	/* Root bypasses TIOCEXCL; only root can drop to a uid that it keeps out. */
	if (geteuid() == 0)
		tcase_add_test(tc_open,
			       test_open_of_a_device_held_exclusively_is_ebusy_naming_the_path);
	else
		printf("backend-device: not registering "
		       "test_open_of_a_device_held_exclusively_is_ebusy_naming_the_path: it needs "
		       "root to fork a child that drops to uid %d\n",
		       NOBODY);
	suite_add_tcase(s, tc_open);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(backend_device_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
