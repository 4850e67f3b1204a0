/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The swtpm backend against a real swtpm (SWTPM_BIN): every test starts its own swtpm in a
 * fresh directory, over a unix socket and over TCP on 127.0.0.1, and kills it at the end.
 * The framing, time-out and reconnect rules are pinned against a scripted fake peer on a
 * unix socket, since a real swtpm never misbehaves on demand.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tcti-func.h"
#include "test-util.h"
#include "tpm-backend.h"

#define READY_TIMEOUT_MS 10000
#define PEER_TIMEOUT_MS	 10000
/* "Promptly": far below TPM_BACKEND_DEFAULT_TIMEOUT_MS, far above a loaded machine's jitter. */
#define PROMPT_US    (2 * G_TIME_SPAN_SECOND)
#define FAKE_TIMEOUT 2000
#define NV_INDEX     0x01500016
#define DEBUG_PCR    16

/* TPM2_GetRandom(32), as a client would write it. */
static const uint8_t get_random_cmd[] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 32 };

typedef enum Transport {
	TRANSPORT_UNIX,
	TRANSPORT_TCP,
} Transport;

/* The swtpm child of this test process. */
typedef struct Swtpm {
	char *dir;
	char *data_path; /* unix transport */
	Transport transport;
	unsigned int port; /* TCP transport */
	bool startup_clear;
	pid_t pid; /* 0: not running */
} Swtpm;

/* What the fake peer does with one command. */
typedef enum FakeAction {
	FAKE_REPLY,    /* a 10-byte success response; keep the connection */
	FAKE_REPLY_2,  /* the response, then a stray second one; keep the connection */
	FAKE_CLOSE,    /* close without a byte of response */
	FAKE_PARTIAL,  /* 4 bytes of response, then close */
	FAKE_BAD_SIZE, /* a header claiming bad_size bytes; wait for the backend to hang up */
	FAKE_SILENT,   /* no response; wait for the backend to hang up */
} FakeAction;

typedef struct FakePeer {
	int listen_fd;
	FakeAction script[4];
	size_t nsteps;
	uint32_t bad_size;
	GThread *thread;
	/* Counted by the peer thread; read only after joining it. */
	unsigned int accepts;
	unsigned int commands;
	unsigned int hangups; /* connections the backend closed while the peer waited */
} FakePeer;

static Swtpm tpm;
static FakePeer fake = { .listen_fd = -1 };
static TpmBackend *be;
static TSS2_TCTI_CONTEXT *tcti;
static TSS2_SYS_CONTEXT *sys;

/* --- the swtpm process --- */

/* A port nothing listens on right now: bind port 0 and read back what the kernel chose. */
static unsigned int free_tcp_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static GPtrArray *swtpm_argv(void)
{
	GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);

	g_ptr_array_add(argv, g_strdup(SWTPM_BIN));
	g_ptr_array_add(argv, g_strdup("socket"));
	g_ptr_array_add(argv, g_strdup("--tpm2"));
	g_ptr_array_add(argv, g_strdup("--server"));
	if (tpm.transport == TRANSPORT_TCP)
		g_ptr_array_add(argv,
				g_strdup_printf("type=tcp,port=%u,bindaddr=127.0.0.1", tpm.port));
	else
		g_ptr_array_add(argv, g_strdup_printf("type=unixio,path=%s", tpm.data_path));
	g_ptr_array_add(argv, g_strdup("--ctrl"));
	g_ptr_array_add(argv, g_strdup_printf("type=unixio,path=%s/ctrl", tpm.dir));
	g_ptr_array_add(argv, g_strdup("--tpmstate"));
	g_ptr_array_add(argv, g_strdup_printf("dir=%s/state", tpm.dir));
	g_ptr_array_add(argv, g_strdup("--log"));
	g_ptr_array_add(argv, g_strdup_printf("file=%s/swtpm.log", tpm.dir));
	g_ptr_array_add(argv, g_strdup("--flags"));
	g_ptr_array_add(argv, g_strdup(tpm.startup_clear ? "not-need-init,startup-clear"
							 : "not-need-init"));
	g_ptr_array_add(argv, NULL);
	return argv;
}

static void swtpm_spawn(void)
{
	g_autoptr(GPtrArray) argv = swtpm_argv();
	pid_t parent = getpid();
	pid_t pid;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Die with the test process, even when a failed assertion skips teardown(). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		execv(SWTPM_BIN, (char **)argv->pdata);
		_exit(127);
	}
	tpm.pid = pid;
}

/* One connect to the data channel, closed at once; swtpm then waits for the next. */
static bool swtpm_accepts(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr *sa = (struct sockaddr *)&sun;
	socklen_t sa_len = sizeof(sun);
	int fd;
	bool ok;

	if (tpm.transport == TRANSPORT_TCP) {
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)tpm.port);
		sa = (struct sockaddr *)&sin;
		sa_len = sizeof(sin);
	} else {
		g_strlcpy(sun.sun_path, tpm.data_path, sizeof(sun.sun_path));
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ok = connect(fd, sa, sa_len) == 0;
	close(fd);
	return ok;
}

/* Poll until swtpm accepts a connection; fail early if it exits, or after a bound. */
static void swtpm_wait_ready(void)
{
	int status = 0;

	for (unsigned int waited = 0; !swtpm_accepts(); waited += 10) {
		if (waitpid(tpm.pid, &status, WNOHANG) == tpm.pid) {
			g_autofree char *log_path = g_build_filename(tpm.dir, "swtpm.log", NULL);
			g_autofree char *log = NULL;

			tpm.pid = 0;
			g_file_get_contents(log_path, &log, NULL, NULL);
			ck_abort_msg("swtpm exited before accepting (wait status 0x%x): %s", status,
				     log ? log : "no log");
		}
		ck_assert_msg(waited < READY_TIMEOUT_MS, "swtpm did not accept within %u ms",
			      READY_TIMEOUT_MS);
		g_usleep(10 * G_TIME_SPAN_MILLISECOND);
	}
}

static void swtpm_start(Transport transport, bool startup_clear)
{
	tpm.transport = transport;
	tpm.startup_clear = startup_clear;
	if (transport == TRANSPORT_TCP)
		tpm.port = free_tcp_port();
	swtpm_spawn();
	swtpm_wait_ready();
}

static void swtpm_kill(void)
{
	if (tpm.pid > 0) {
		kill(tpm.pid, SIGKILL);
		ck_assert_int_ne(test_waitpid_timeout(tpm.pid, 5000), -1);
		tpm.pid = 0;
	}
}

static char *swtpm_spec(void)
{
	if (tpm.transport == TRANSPORT_TCP)
		return g_strdup_printf("swtpm:127.0.0.1:%u", tpm.port);
	return g_strdup_printf("swtpm:unix:%s", tpm.data_path);
}

static void open_backend(void)
{
	g_autofree char *spec = swtpm_spec();
	g_autofree char *error = NULL;
	int r;

	r = tpm_backend_open_spec(spec, &be, &error);
	ck_assert_msg(r == 0, "open %s: %s (%d)", spec, error, r);
	ck_assert_str_eq(tpm_backend_name(be), "swtpm");
}

static void open_sys(void)
{
	tcti = tcti_func_new_backend(be);
	sys = test_sys_new(tcti);
}

/* TPM2_GetRandom(32) through tpm_backend_transmit(); the TPM's rc in *ret_rc. */
static int get_random_raw(uint32_t *ret_rc, uint8_t out[32])
{
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	size_t len = 0;
	int r;

	r = tpm_backend_transmit(be, get_random_cmd, sizeof(get_random_cmd), rsp, sizeof(rsp),
				 &len);
	if (r < 0)
		return r;
	ck_assert_int_eq(tpm2_wire_response_rc(rsp, len, ret_rc), 0);
	if (*ret_rc == TPM2_RC_SUCCESS) {
		ck_assert_uint_eq(len, TPM2_WIRE_HEADER_SIZE + 2 + 32);
		ck_assert_uint_eq(tpm2_wire_load_u16(rsp + TPM2_WIRE_HEADER_SIZE), 32);
		memcpy(out, rsp + TPM2_WIRE_HEADER_SIZE + 2, 32);
	}
	return 0;
}

/* --- the fake peer --- */

static bool peer_wait(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, PEER_TIMEOUT_MS) == 1;
}

static bool peer_read(int fd, uint8_t *buf, size_t len)
{
	ssize_t n;

	for (size_t off = 0; off < len; off += (size_t)n) {
		if (!peer_wait(fd))
			return false;
		n = read(fd, buf + off, len - off);
		if (n <= 0)
			return false;
	}
	return true;
}

/* One whole command: the header, then the rest as its size says. */
static bool peer_read_command(int fd)
{
	uint8_t buf[TPM2_WIRE_BUF_MAX];
	uint32_t size;

	if (!peer_read(fd, buf, TPM2_WIRE_HEADER_SIZE))
		return false;
	size = tpm2_wire_load_u32(buf + 2);
	return size >= TPM2_WIRE_HEADER_SIZE && size <= sizeof(buf) &&
	       peer_read(fd, buf + TPM2_WIRE_HEADER_SIZE, size - TPM2_WIRE_HEADER_SIZE);
}

/* True when the backend closes the connection (EOF) within the bound. */
static bool peer_saw_hangup(int fd)
{
	uint8_t byte;

	return peer_wait(fd) && read(fd, &byte, 1) == 0;
}

/* Answer one command as @action says; returns whether to keep the connection. */
static bool peer_act(FakePeer *p, FakeAction action, int conn)
{
	uint8_t rsp[TPM2_WIRE_HEADER_SIZE] = { 0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0 };
	uint8_t two[2 * TPM2_WIRE_HEADER_SIZE];

	switch (action) {
	case FAKE_REPLY_2:
		/* One send: the stray bytes are there before the backend has the response. */
		memcpy(two, rsp, sizeof(rsp));
		memcpy(two + sizeof(rsp), rsp, sizeof(rsp));
		return send(conn, two, sizeof(two), MSG_NOSIGNAL) == (ssize_t)sizeof(two);
	case FAKE_REPLY:
		return send(conn, rsp, sizeof(rsp), MSG_NOSIGNAL) == (ssize_t)sizeof(rsp);
	case FAKE_PARTIAL:
		(void)send(conn, rsp, 4, MSG_NOSIGNAL);
		return false;
	case FAKE_BAD_SIZE:
		tpm2_wire_store_u32(rsp + 2, p->bad_size);
		(void)send(conn, rsp, sizeof(rsp), MSG_NOSIGNAL);
		p->hangups += peer_saw_hangup(conn);
		return false;
	case FAKE_SILENT:
		p->hangups += peer_saw_hangup(conn);
		return false;
	case FAKE_CLOSE:
	default:
		return false;
	}
}

/* The next command: on @conn, or on the next connection once the backend has hung up. */
static int peer_next_command(FakePeer *p, int conn)
{
	for (;;) {
		if (conn < 0) {
			if (!peer_wait(p->listen_fd))
				return -1;
			conn = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (conn < 0)
				return -1;
			p->accepts++;
		}
		if (peer_read_command(conn))
			return conn;
		close(conn);
		conn = -1;
	}
}

static gpointer peer_main(gpointer data)
{
	FakePeer *p = data;
	int conn = -1;

	for (size_t i = 0; i < p->nsteps; i++) {
		conn = peer_next_command(p, conn);
		if (conn < 0)
			break;
		p->commands++;
		if (!peer_act(p, p->script[i], conn)) {
			close(conn);
			conn = -1;
		}
	}
	if (conn >= 0)
		close(conn);
	return NULL;
}

/* Listen on DIR/fake, run @script in a thread, and connect a backend to it. */
static void fake_start(const FakeAction *script, size_t nsteps, unsigned int timeout_ms)
{
	g_autofree char *path = g_build_filename(tpm.dir, "fake", NULL);
	g_autofree char *error = NULL;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int r;

	ck_assert_uint_le(nsteps, G_N_ELEMENTS(fake.script));
	memcpy(fake.script, script, nsteps * sizeof(*script));
	fake.nsteps = nsteps;
	g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	fake.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fake.listen_fd, 0);
	ck_assert_int_eq(bind(fake.listen_fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(fake.listen_fd, 4), 0);
	fake.thread = g_thread_new("fake-swtpm", peer_main, &fake);

	r = tpm_backend_swtpm_new(path, NULL, timeout_ms, &be, &error);
	ck_assert_msg(r == 0, "connect to the fake peer: %s", error);
}

static void fake_join(void)
{
	if (fake.thread)
		g_thread_join(g_steal_pointer(&fake.thread));
}

static int fake_transmit(size_t rsp_cap, size_t *ret_len)
{
	uint8_t rsp[TPM2_WIRE_BUF_MAX];

	return tpm_backend_transmit(be, get_random_cmd, sizeof(get_random_cmd), rsp, rsp_cap,
				    ret_len);
}

/* --- fixture --- */

static void setup(void)
{
	g_autofree char *state = NULL;

	tpm = (Swtpm){ .pid = 0 };
	fake = (FakePeer){ .listen_fd = -1 };
	tpm.dir = test_tmpdir_new("swtpm");
	tpm.data_path = g_build_filename(tpm.dir, "data", NULL);
	state = g_build_filename(tpm.dir, "state", NULL);
	ck_assert_int_eq(g_mkdir(state, 0700), 0);
}

static void teardown(void)
{
	g_clear_pointer(&sys, test_sys_free);
	g_clear_pointer(&tcti, tcti_func_free);
	g_clear_pointer(&be, tpm_backend_free); /* the fake peer sees EOF and finishes */
	fake_join();
	if (fake.listen_fd >= 0)
		close(g_steal_fd(&fake.listen_fd));
	swtpm_kill();
	g_clear_pointer(&tpm.data_path, g_free);
	test_tmpdir_remove(g_steal_pointer(&tpm.dir));
}

/* --- a real swtpm; _i is the Transport --- */

START_TEST(test_open_spec_gives_random_bytes_through_transmit)
{
	uint8_t a[32], b[32];
	uint32_t rc;

	swtpm_start(_i, true);
	open_backend();
	ck_assert_int_eq(get_random_raw(&rc, a), 0);
	ck_assert_uint_eq(rc, TPM2_RC_SUCCESS);
	ck_assert_int_eq(get_random_raw(&rc, b), 0);
	ck_assert_uint_eq(rc, TPM2_RC_SUCCESS);
	ck_assert_mem_ne(a, b, sizeof(a));
}
END_TEST

START_TEST(test_tss2_sys_get_random_works_over_the_backend)
{
	uint8_t out[32];

	swtpm_start(_i, true);
	open_backend();
	open_sys();
	ck_assert_uint_eq(test_get_random(sys, sizeof(out), out), TSS2_RC_SUCCESS);
	ck_assert_int_eq(tcti_func_last_errno(tcti), 0);
}
END_TEST

START_TEST(test_create_primary_ecc_returns_a_transient_handle)
{
	TPM2_HANDLE handle = 0;

	swtpm_start(_i, true);
	open_backend();
	open_sys();
	ck_assert_uint_eq(test_create_primary_ecc(sys, &handle), TSS2_RC_SUCCESS);
	ck_assert_uint_eq(handle >> TPM2_HR_SHIFT, TPM2_HT_TRANSIENT);
}
END_TEST

/*
 * swtpm restarted on the same state directory and socket: the next command reconnects
 * once and succeeds.  NV was written to the state directory before the kill and is still
 * there; the debug PCR is back to zero, so this really is a new TPM2_Startup(CLEAR).
 */
START_TEST(test_restarted_swtpm_is_reconnected_and_keeps_nv)
{
	static const uint8_t data[16] = { 's', 'w', 't', 'p', 'm', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	static const uint8_t zero[32] = { 0 };
	uint8_t out[sizeof(data)], pcr[32];

	swtpm_start(_i, true);
	open_backend();
	open_sys();
	ck_assert_uint_eq(test_nv_define(sys, NV_INDEX, sizeof(data)), TSS2_RC_SUCCESS);
	ck_assert_uint_eq(test_nv_write(sys, NV_INDEX, data, sizeof(data)), TSS2_RC_SUCCESS);
	ck_assert_uint_eq(test_pcr_extend_sha256(sys, DEBUG_PCR, 0xa5), TSS2_RC_SUCCESS);
	ck_assert_uint_eq(test_pcr_read_sha256(sys, DEBUG_PCR, pcr), TSS2_RC_SUCCESS);
	ck_assert_mem_ne(pcr, zero, sizeof(pcr));

	swtpm_kill();
	swtpm_spawn();
	swtpm_wait_ready();

	ck_assert_uint_eq(test_nv_read(sys, NV_INDEX, sizeof(data), out), TSS2_RC_SUCCESS);
	ck_assert_int_eq(tcti_func_last_errno(tcti), 0);
	ck_assert_mem_eq(out, data, sizeof(data));
	ck_assert_uint_eq(test_pcr_read_sha256(sys, DEBUG_PCR, pcr), TSS2_RC_SUCCESS);
	ck_assert_mem_eq(pcr, zero, sizeof(pcr));
}
END_TEST

START_TEST(test_killed_swtpm_gives_eio_promptly_and_keeps_failing)
{
	uint8_t out[32];
	uint32_t rc;
	gint64 start;

	swtpm_start(_i, true);
	open_backend();
	open_sys();
	ck_assert_int_eq(get_random_raw(&rc, out), 0);
	swtpm_kill();

	for (int n = 0; n < 3; n++) {
		start = g_get_monotonic_time();
		ck_assert_int_eq(get_random_raw(&rc, out), -EIO);
		ck_assert_int_lt(g_get_monotonic_time() - start, PROMPT_US);
	}
	start = g_get_monotonic_time();
	ck_assert_uint_eq(test_get_random(sys, sizeof(out), out), TSS2_TCTI_RC_IO_ERROR);
	ck_assert_int_eq(tcti_func_last_errno(tcti), EIO);
	ck_assert_int_lt(g_get_monotonic_time() - start, PROMPT_US);
}
END_TEST

/* Without startup-clear the TPM answers TPM_RC_INITIALIZE until someone starts it. */
START_TEST(test_open_starts_a_tpm_that_nobody_started)
{
	g_autofree char *port = NULL;
	g_autofree char *error = NULL;
	uint8_t out[32];
	uint32_t rc;
	int r;

	swtpm_start(_i, false);
	if (tpm.transport == TRANSPORT_TCP) {
		port = g_strdup_printf("%u", tpm.port);
		r = tpm_backend_swtpm_new("127.0.0.1", port, 0, &be, &error);
	} else {
		r = tpm_backend_swtpm_new(tpm.data_path, NULL, 0, &be, &error);
	}
	ck_assert_msg(r == 0, "%s", error);
	ck_assert_int_eq(get_random_raw(&rc, out), 0);
	ck_assert_uint_eq(rc, TPM2_RC_INITIALIZE);
	g_clear_pointer(&be, tpm_backend_free);

	open_backend();
	ck_assert_int_eq(get_random_raw(&rc, out), 0);
	ck_assert_uint_eq(rc, TPM2_RC_SUCCESS);
}
END_TEST

/* swtpm waits for a whole header: a 6-byte command is refused at once, not sent. */
START_TEST(test_command_shorter_than_a_header_is_refused_promptly)
{
	static const uint8_t short_cmd[] = { 0x80, 0x01, 0, 0, 0, 6 };
	uint8_t rsp[TPM2_WIRE_BUF_MAX], out[32];
	size_t len = 0;
	uint32_t rc;
	gint64 start;

	swtpm_start(_i, true);
	open_backend();
	start = g_get_monotonic_time();
	ck_assert_int_eq(
		tpm_backend_transmit(be, short_cmd, sizeof(short_cmd), rsp, sizeof(rsp), &len),
		-EINVAL);
	ck_assert_int_lt(g_get_monotonic_time() - start, PROMPT_US);
	/* Nothing reached swtpm, so the stream is still in step. */
	ck_assert_int_eq(get_random_raw(&rc, out), 0);
	ck_assert_uint_eq(rc, TPM2_RC_SUCCESS);
}
END_TEST

/* --- connection errors --- */

START_TEST(test_missing_socket_is_an_error_naming_it)
{
	g_autofree char *path = g_build_filename(tpm.dir, "no-such-socket", NULL);
	g_autofree char *spec = g_strdup_printf("swtpm:unix:%s", path);
	g_autofree char *error = NULL;

	ck_assert_int_eq(tpm_backend_open_spec(spec, &be, &error), -ENOENT);
	ck_assert_ptr_null(be);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strstr(error, path) != NULL, "'%s' does not name %s", error, path);
}
END_TEST

START_TEST(test_refused_tcp_port_is_an_error_naming_it)
{
	g_autofree char *where = g_strdup_printf("127.0.0.1:%u", free_tcp_port());
	g_autofree char *spec = g_strdup_printf("swtpm:%s", where);
	g_autofree char *error = NULL;

	ck_assert_int_eq(tpm_backend_open_spec(spec, &be, &error), -ECONNREFUSED);
	ck_assert_ptr_null(be);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strstr(error, where) != NULL, "'%s' does not name %s", error, where);
}
END_TEST

/* --- the protocol, against the fake peer --- */

START_TEST(test_peer_closing_before_the_response_gets_one_resend)
{
	static const FakeAction script[] = { FAKE_CLOSE, FAKE_REPLY };
	size_t len = 0;

	fake_start(script, G_N_ELEMENTS(script), FAKE_TIMEOUT);
	ck_assert_int_eq(fake_transmit(TPM2_WIRE_BUF_MAX, &len), 0);
	ck_assert_uint_eq(len, TPM2_WIRE_HEADER_SIZE);
	fake_join();
	ck_assert_uint_eq(fake.accepts, 2);
	ck_assert_uint_eq(fake.commands, 2);
}
END_TEST

START_TEST(test_peer_closing_after_the_resend_gives_eio)
{
	static const FakeAction script[] = { FAKE_CLOSE, FAKE_CLOSE };
	size_t len = 0;

	fake_start(script, G_N_ELEMENTS(script), FAKE_TIMEOUT);
	ck_assert_int_eq(fake_transmit(TPM2_WIRE_BUF_MAX, &len), -EIO);
	fake_join();
	ck_assert_uint_eq(fake.accepts, 2);
	ck_assert_uint_eq(fake.commands, 2);
}
END_TEST

START_TEST(test_peer_closing_mid_response_gives_eio_without_resend)
{
	static const FakeAction script[] = { FAKE_PARTIAL, FAKE_REPLY };
	size_t len = 0;

	fake_start(script, G_N_ELEMENTS(script), FAKE_TIMEOUT);
	ck_assert_int_eq(fake_transmit(TPM2_WIRE_BUF_MAX, &len), -EIO);
	/* The next command reconnects: the REPLY was not spent on a resend. */
	ck_assert_int_eq(fake_transmit(TPM2_WIRE_BUF_MAX, &len), 0);
	fake_join();
	ck_assert_uint_eq(fake.accepts, 2);
	ck_assert_uint_eq(fake.commands, 2);
}
END_TEST

/* After a lazy reconnect the command is not sent a third time. */
START_TEST(test_reconnect_after_a_drop_is_the_only_one)
{
	static const FakeAction script[] = { FAKE_BAD_SIZE, FAKE_CLOSE, FAKE_REPLY };
	size_t len = 0;

	fake.bad_size = 0;
	fake_start(script, G_N_ELEMENTS(script), FAKE_TIMEOUT);
	ck_assert_int_eq(fake_transmit(TPM2_WIRE_BUF_MAX, &len), -EFAULT);
	ck_assert_int_eq(fake_transmit(TPM2_WIRE_BUF_MAX, &len), -EIO);
	ck_assert_int_eq(fake_transmit(TPM2_WIRE_BUF_MAX, &len), 0);
	fake_join();
	ck_assert_uint_eq(fake.accepts, 3);
	ck_assert_uint_eq(fake.commands, 3);
}
END_TEST

/* Bytes waiting before a command was sent belong to no command: start afresh. */
START_TEST(test_stray_bytes_between_commands_give_a_new_connection)
{
	static const FakeAction script[] = { FAKE_REPLY_2, FAKE_REPLY };
	size_t len = 0;

	fake_start(script, G_N_ELEMENTS(script), FAKE_TIMEOUT);
	ck_assert_int_eq(fake_transmit(TPM2_WIRE_BUF_MAX, &len), 0);
	ck_assert_int_eq(fake_transmit(TPM2_WIRE_BUF_MAX, &len), 0);
	fake_join();
	ck_assert_uint_eq(fake.accepts, 2);
	ck_assert_uint_eq(fake.commands, 2);
}
END_TEST

static const struct {
	uint32_t size;
	size_t rsp_cap;
} bad_sizes[] = {
	{ 0, TPM2_WIRE_BUF_MAX },
	{ 9, TPM2_WIRE_BUF_MAX },
	{ 4097, TPM2_WIRE_BUF_MAX },
	{ 0xffffffff, TPM2_WIRE_BUF_MAX },
	{ 64, 32 }, /* fits the wire, not the caller's buffer */
};

START_TEST(test_bad_response_size_gives_efault_and_a_new_connection)
{
	static const FakeAction script[] = { FAKE_BAD_SIZE, FAKE_REPLY };
	size_t len = 0;

	fake.bad_size = bad_sizes[_i].size;
	fake_start(script, G_N_ELEMENTS(script), FAKE_TIMEOUT);
	ck_assert_int_eq(fake_transmit(bad_sizes[_i].rsp_cap, &len), -EFAULT);
	ck_assert_int_eq(fake_transmit(TPM2_WIRE_BUF_MAX, &len), 0);
	fake_join();
	ck_assert_uint_eq(fake.hangups, 1);
	ck_assert_uint_eq(fake.accepts, 2);
	ck_assert_uint_eq(fake.commands, 2);
}
END_TEST

START_TEST(test_silent_peer_times_out_and_gets_a_new_connection)
{
	static const FakeAction script[] = { FAKE_SILENT, FAKE_REPLY };
	const unsigned int timeout_ms = 300;
	size_t len = 0;
	gint64 elapsed;

	fake_start(script, G_N_ELEMENTS(script), timeout_ms);
	elapsed = g_get_monotonic_time();
	ck_assert_int_eq(fake_transmit(TPM2_WIRE_BUF_MAX, &len), -ETIME);
	elapsed = g_get_monotonic_time() - elapsed;
	ck_assert_int_ge(elapsed, timeout_ms * G_TIME_SPAN_MILLISECOND);
	ck_assert_int_lt(elapsed, timeout_ms * G_TIME_SPAN_MILLISECOND + PROMPT_US);
	ck_assert_int_eq(fake_transmit(TPM2_WIRE_BUF_MAX, &len), 0);
	fake_join();
	ck_assert_uint_eq(fake.hangups, 1);
	ck_assert_uint_eq(fake.accepts, 2);
}
END_TEST

static Suite *backend_swtpm_suite(void)
{
	Suite *s = suite_create("backend-swtpm");
	TCase *tc;

	tc = tcase_create("real swtpm");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_open_spec_gives_random_bytes_through_transmit, 0, 2);
	tcase_add_loop_test(tc, test_tss2_sys_get_random_works_over_the_backend, 0, 2);
	tcase_add_loop_test(tc, test_create_primary_ecc_returns_a_transient_handle, 0, 2);
	tcase_add_loop_test(tc, test_restarted_swtpm_is_reconnected_and_keeps_nv, 0, 2);
	tcase_add_loop_test(tc, test_killed_swtpm_gives_eio_promptly_and_keeps_failing, 0, 2);
	tcase_add_loop_test(tc, test_open_starts_a_tpm_that_nobody_started, 0, 2);
	tcase_add_loop_test(tc, test_command_shorter_than_a_header_is_refused_promptly, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("connection errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_missing_socket_is_an_error_naming_it);
	tcase_add_test(tc, test_refused_tcp_port_is_an_error_naming_it);
	suite_add_tcase(s, tc);

	tc = tcase_create("protocol");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_peer_closing_before_the_response_gets_one_resend);
	tcase_add_test(tc, test_peer_closing_after_the_resend_gives_eio);
	tcase_add_test(tc, test_peer_closing_mid_response_gives_eio_without_resend);
	tcase_add_loop_test(tc, test_bad_response_size_gives_efault_and_a_new_connection, 0,
			    G_N_ELEMENTS(bad_sizes));
	tcase_add_test(tc, test_silent_peer_times_out_and_gets_a_new_connection);
	tcase_add_test(tc, test_reconnect_after_a_drop_is_the_only_one);
	tcase_add_test(tc, test_stray_bytes_between_commands_give_a_new_connection);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!g_file_test(SWTPM_BIN, G_FILE_TEST_IS_EXECUTABLE)) {
		fprintf(stderr, "skip: %s is not installed\n", SWTPM_BIN);
		return 77;
	}
	sr = srunner_create(backend_swtpm_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
